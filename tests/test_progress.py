"""The one progress display: verbosity levels, bars with rate and ETA, plain lines when stderr
is not a terminal, rounded numbers, third-party bars switched off, and the trainer's output."""

from __future__ import annotations

import io
import re

import pytest

from regionadapt import progress


@pytest.fixture(autouse=True)
def _normal(monkeypatch):
    # set_verbosity writes the environment (for worker processes): keep it per test
    monkeypatch.delenv("REGIONADAPT_VERBOSITY", raising=False)
    for var in ("HF_DATASETS_DISABLE_PROGRESS_BARS", "HF_HUB_DISABLE_PROGRESS_BARS"):
        monkeypatch.delenv(var, raising=False)
    yield
    progress.set_verbosity("normal")


def test_levels(capsys):
    with pytest.raises(ValueError, match="quiet, normal, verbose"):
        progress.set_verbosity("loud")
    for level, shown in (("quiet", ""), ("normal", "event"), ("verbose", "event detail")):
        progress.set_verbosity(level)
        progress.log("event")
        progress.detail("detail")
        progress.warn("careful")
        err = capsys.readouterr().err
        words = [w for w in ("event", "detail") if re.search(rf"\] {w}$", err, re.M)]
        assert " ".join(words) == shown, (level, err)
        assert "warning: careful" in err  # at every level


def test_human_rounds_for_people():
    assert progress.human(14.660141944885254) == "14.7"
    assert progress.human(0.909423291683197) == "0.909"
    assert progress.human(419.38) == "419"
    assert progress.human(96) == "96" and progress.human(2.0) == "2"
    assert progress.human(0.000123456) == "0.000123"
    assert progress.human_duration(5.25) == "5.2s" and progress.human_duration(62.3) == "1m02s"
    assert progress.human_duration(3725) == "1h02m"


def test_lines_when_not_a_terminal_say_rate_eta_and_rounded_values():
    out = io.StringIO()
    with progress.Progress(4, "demo base pretraining", "step", file=out, line_every=0) as p:
        for loss in (14.660141944885254, 3.2, 1.5, 0.909423291683197):
            p.update(1, loss=loss)
    lines = out.getvalue().splitlines()
    assert len(lines) == 4  # one per update but the last (line_every=0), then the closing one
    first = lines[0]
    assert "demo base pretraining: 1/4 steps (25%)" in first and "ETA " in first
    assert re.search(r"[\d.]+ (steps/s|s/step)", first) and first.endswith("loss 14.7")
    assert lines[-1].split("] ", 1)[1].startswith("demo base pretraining: 4/4 steps (100%)")
    assert "ETA" not in lines[-1] and "loss 0.909 in " in lines[-1]
    assert not re.search(r"\d\.\d{5,}", out.getvalue())  # no unrounded number anywhere


def test_lines_are_rate_limited():
    out = io.StringIO()
    with progress.Progress(1000, "tune", "step", file=out, line_every=3600) as p:
        for _ in range(1000):
            p.update()
    assert len(out.getvalue().splitlines()) == 1  # only the closing line


def test_terminal_bar_has_rate_and_eta_and_log_lines_go_above_it():
    out = io.StringIO()
    with progress.Progress(10, "tune", "step", file=out, tty=True) as p:
        p.update(5, loss=1.23456)
        progress._emit("[   1.0s] step 5/10 loss 1.23", file=out)
        p.update(5)
    text = out.getvalue()
    assert "tune:" in text and "10/10" in text and ("step/s" in text or "s/step" in text)
    assert "loss 1.23" in text
    # the log line starts a line of its own: never printed onto the end of the bar
    assert re.search(r"(^|\n|\r)\[   1.0s\] step 5/10 loss 1.23\n", text)
    assert "1.23456" not in text


def test_quiet_shows_no_bar(capsys):
    progress.set_verbosity("quiet")
    out = io.StringIO()
    with progress.Progress(3, "tune", "step", file=out, tty=True, line_every=0) as p:
        p.update(3)
    assert out.getvalue() == ""


def test_third_party_bars_are_switched_off(tmp_path, capfd):
    import datasets

    try:
        progress.set_verbosity("normal")
        ds = datasets.Dataset.from_dict({"x": list(range(50))})
        ds.save_to_disk(str(tmp_path / "ds"))
        ds.map(lambda r: r, desc="mapping").filter(lambda r: r["x"] % 2).flatten_indices()
        err = capfd.readouterr().err
        assert "Saving the dataset" not in err and "Flattening" not in err and "mapping" not in err
    finally:
        datasets.enable_progress_bars()


def test_trainer_output_is_labelled_rounded_and_one_display(capsys):
    torch = pytest.importorskip("torch")
    from openclip_tiny import dataset, square_rows, tiny_cfg
    from regionadapt_plugins.openclip_backend import TuneParams, create_model, train_contrastive

    torch.manual_seed(0)
    model = create_model(tiny_cfg())
    params = TuneParams(epochs=2, batch_size=32, lr=2e-3, log_every=2)
    progress.set_verbosity("normal")
    train_contrastive(
        model, dataset(square_rows(64)), params, log=progress.log, task="pretraining X"
    )
    err = capsys.readouterr().err
    assert "pretraining X: 64 samples (preloaded), 4 steps" in err
    assert re.search(
        r"pretraining X: 4 steps in [\d.]+s \([\d.]+ samples/s\), loss [\d.]+ -> [\d.]+", err
    )
    assert "step 2/4" not in err  # per-step lines only with -v
    assert not re.search(r"\d\.\d{5,}", err), err
    progress.set_verbosity("verbose")
    train_contrastive(model, dataset(square_rows(64)), params, log=progress.log)
    err = capsys.readouterr().err
    assert "open_clip full tuning: step 2/4, epoch 1, loss " in err
