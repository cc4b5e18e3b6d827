"""Unit-level checks of the hardening (issue 12) that need no subprocess: the plugin guard's
calls, image-too-large, collectors staying inside their roots, stale temporaries below the run
folder and next to a standalone merge's output, the cache checked before pretraining, and the
CLI's global flags."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from importlib.metadata import version
from pathlib import Path

import pytest
from core_kit import run_cli
from data_kit import image_bytes, make_ctx

from regionadapt import errors, plugins
from regionadapt.components import Context, build
from regionadapt.errors import PluginError
from regionadapt.hookspecs import hookimpl
from regionadapt.rundir import RunDir, atomic_write_text
from regionadapt.samples import new_sample


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# -- the guard ------------------------------------------------------------------------------------


class Noisy:
    def __init__(self) -> None:
        self.calls = 0

    @hookimpl
    def stage_started(self, stage, run):
        self.calls += 1
        raise RuntimeError(f"observer broke at {stage}")

    @hookimpl
    def register_merge_methods(self, register):
        register(type("Nameless", (), {"name": ""}))


class Listener:
    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookimpl
    def stage_started(self, stage, run):
        self.seen.append(stage)


@pytest.fixture
def noisy():
    plugins.reset()
    n, listener = Noisy(), Listener()
    plugins.register_plugin(n, name="noisy")
    plugins.register_plugin(listener, name="listener")
    yield n, listener
    plugins.unregister_plugin("noisy")
    plugins.unregister_plugin("listener")
    plugins.reset()


def test_observer_failure_is_reported_once_and_others_still_hear(noisy, capsys, tmp_path):
    n, listener = noisy
    for stage in ("collect", "filter"):
        plugins.pm.notify("stage_started", stage=stage, run=RunDir(tmp_path))
    assert n.calls == 2 and listener.seen == ["collect", "filter"]
    err = capsys.readouterr().err
    assert err.count("plugin 'noisy' failed in stage_started; the run goes on") == 1
    info = {i.name: i for i in plugins.plugin_infos()}["noisy"]
    assert info.state == "failed in stage_started"
    assert info.error == "RuntimeError: observer broke at filter"  # the last error


def test_a_nameless_component_drops_only_that_plugins_contributions(noisy, capsys):
    reg = plugins.registry("merge_methods")
    assert "linear" in reg and "" not in reg
    err = capsys.readouterr().err
    assert "plugin 'noisy' failed in register_merge_methods; its merge_methods were dropped" in err
    assert "empty or non-string name ('')" in err


def test_strict_raises_for_failures_already_recorded(noisy, tmp_path):
    plugins.pm.notify("stage_started", stage="tune", run=RunDir(tmp_path))
    with pytest.raises(PluginError, match="strict plugins: plugin 'noisy' failed in stage_started"):
        plugins.set_strict(True)
    with pytest.raises(PluginError, match="observer broke at merge .strict plugins."):
        plugins.pm.notify("stage_started", stage="merge", run=RunDir(tmp_path))


def test_query_hooks_skip_a_raising_plugin(noisy):
    class Answers:
        @hookimpl
        def model_sources(self, arch):
            raise ValueError("no")

    plugins.register_plugin(Answers(), name="answers")
    try:
        names = plugins.pm.results("model_sources", arch="embedding")
        assert ["demo-world"] in names
        assert plugins.pm.first_result("resolve_model_source", source="nope", arch="x") is None
        assert {i.name: i for i in plugins.plugin_infos()}["answers"].failed_in == ["model_sources"]
    finally:
        plugins.unregister_plugin("answers")


# -- images -----------------------------------------------------------------------------------------


def _png_header(w: int, h: int) -> bytes:
    """A PNG that claims w x h pixels (a decompression bomb's header; no pixel data)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_decompression_bomb_is_image_too_large(tmp_path):
    f = build("filters", "quality", {})
    f.setup(make_ctx(tmp_path))
    kept, reason = f.keep(new_sample(id="bomb", image=_png_header(100_000, 100_000)))
    assert kept is False and reason.startswith("image-too-large: ")
    assert "10000000000 pixels" in reason  # PIL's own message, with the count
    # Under PIL's hard limit but over the filter's: the filter's limit names the size.
    small = build("filters", "quality", {"max_pixels": 1000})
    small.setup(make_ctx(tmp_path))
    kept, reason = small.keep(new_sample(id="big", image=image_bytes(64, 48)))
    assert reason == "image-too-large: 64x48 > 1000 pixels"


# -- collectors stay inside their roots ---------------------------------------------------------


def test_manifest_rows_outside_the_folder_are_skipped_unless_allowed(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "in.png").write_bytes(image_bytes())
    secret = tmp_path / "secret.png"
    secret.write_bytes(image_bytes(pattern=3))
    rows = [
        {"file_name": "in.png", "text": "inside"},
        {"file_name": str(secret), "text": "absolute"},
        {"file_name": "../secret.png", "text": "relative"},
    ]
    manifest = data / "rows.jsonl"
    manifest.write_text("".join(__import__("json").dumps(r) + "\n" for r in rows))
    ctx = Context(pack=make_ctx(tmp_path).pack)

    def collect(**params):
        c = build("collectors", "files", {"path": str(manifest), **params})
        return list(c.collect(ctx))

    out = collect()
    assert [s["text"] for s in out if isinstance(s, dict)] == ["inside"]
    skips = [s for s in out if not isinstance(s, dict)]
    assert [s.reason for s in skips] == ["outside-root", "outside-root"]
    assert "set allow_outside_root = true" in skips[0].detail
    assert len([s for s in collect(allow_outside_root=True) if isinstance(s, dict)]) == 3


# -- temporaries ----------------------------------------------------------------------------------


def test_stale_temporaries_below_the_run_folder_are_removed(tmp_path):
    run = RunDir(tmp_path / "run")
    dead = _dead_pid()
    nested = [
        run.root / "merge-cache" / f".tmp-x.json.{dead}",
        run.root / "evaluate" / f".tmp-y-{dead}",
    ]
    for p in nested:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.mkdir() if p.name.startswith(".tmp-y") else p.write_text("half")
    live = run.root / "merge-cache" / f".tmp-z-{os.getppid()}"
    live.mkdir()
    run.begin("collect")
    assert not any(p.exists() for p in nested) and live.exists()


def test_a_standalone_merge_removes_the_temporaries_of_a_killed_one(tmp_path):
    from _merge_util import random_state, save_single

    from regionadapt.merge import merge_checkpoints

    a, b = tmp_path / "a", tmp_path / "b"
    save_single(random_state(0), a)
    save_single(random_state(1), b)
    dead = _dead_pid()
    stale = tmp_path / f".tmp-merged-{dead}"
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"half")
    other = tmp_path / f".tmp-unrelated-{dead}"  # not this output's: left alone
    other.mkdir()
    merge_checkpoints("linear", [a, b], tmp_path / "merged", weights=[0.5, 0.5])
    assert not stale.exists() and other.exists() and (tmp_path / "merged").is_dir()


def test_rewriting_the_same_content_writes_nothing(tmp_path):
    path = tmp_path / "config.toml"
    atomic_write_text(path, "a = 1\n")
    inode = path.stat().st_ino
    atomic_write_text(path, "a = 1\n")  # what makes a read-only run folder serve skipped stages
    assert path.stat().st_ino == inode
    atomic_write_text(path, "a = 2\n")
    assert path.stat().st_ino != inode and path.read_text() == "a = 2\n"


def test_unwritable_cache_is_found_before_pretraining(tmp_path, monkeypatch):
    from regionadapt_plugins.demo_world import base_model

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("REGIONADAPT_CACHE", str(blocker / "cache"))
    monkeypatch.setattr(
        "regionadapt_plugins.openclip_backend.train_contrastive",
        lambda *a, **k: pytest.fail("pretraining started before the cache was checked"),
    )
    with pytest.raises(
        getattr(errors, "ResourceError", ()), match=f"the model cache .*{blocker}/cache/demo-world"
    ):
        base_model.embedding_base(seed=0)


# -- global flags ---------------------------------------------------------------------------------


def test_version_and_short_help():
    res = run_cli("--version")
    assert (res.returncode, res.stdout) == (0, f"regionadapt {version('regionadapt')}\n")
    short, long = run_cli("-h"), run_cli("--help")
    assert short.returncode == 0 and short.stdout == long.stdout
    assert "-q, --quiet" in long.stdout and "-v, --verbose" in long.stdout
    assert run_cli("regions", "-h").stdout == run_cli("regions", "--help").stdout


@pytest.mark.parametrize("flag, level", [("-q", -1), ("--verbose", 1), (None, 0)])
def test_quiet_and_verbose_set_the_level(monkeypatch, flag, level):
    from regionadapt import verbosity
    from regionadapt.cli import main

    monkeypatch.delenv(verbosity.ENV, raising=False)
    main([*([flag] if flag else []), "regions", "list"])
    assert verbosity.level() == level


def test_quiet_and_verbose_together_are_refused():
    res = run_cli("-q", "-v", "regions", "list")
    assert res.returncode == 2 and "--quiet and --verbose exclude each other" in res.stderr


# -- the docs a plugin author reads -------------------------------------------------------------

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _section(page: str, heading: str) -> str:
    text = (DOCS / page).read_text(encoding="utf-8")
    return text.split(heading, 1)[1].split("\n#", 1)[0]


def test_plugin_page_pyproject_is_the_example_file_with_build_system_and_test_extra():
    from regionadapt.schema import tomllib

    block = _section("plugin-authors.md", "### `pyproject.toml`").split("```toml\n", 1)[1]
    shown = tomllib.loads(block.split("```", 1)[0])
    example = DOCS / "examples" / "regionadapt_example_plugin" / "pyproject.toml"
    assert shown == tomllib.loads(example.read_text(encoding="utf-8"))
    assert shown["build-system"]["build-backend"] == "setuptools.build_meta"
    assert shown["project"]["optional-dependencies"]["test"] == ["pytest"]


def test_plugin_page_says_what_authors_tripped_over():
    text = (DOCS / "plugin-authors.md").read_text(encoding="utf-8")
    packs = _section("plugin-authors.md", "### `register_region_packs(register)`")
    assert "[tool.setuptools.package-data]" in packs and 'regionadapt_andes = ["*.toml"]' in packs
    assert "`self.params`, an instance of your `Params`" in text
    assert "still\nreceives `weights`: the defaults, `1/N` for each model" in text
    assert "**Hooks must not raise.**" in text and "--strict-plugins" in text
    assert "**Entry-point names and the built-ins.**" in text


def test_merge_docs_median_is_a_true_median_for_even_counts():
    import numpy as np
    import torch

    code = _section("merging.md", "## Writing a merge method").split("```python\n", 1)[1]
    namespace: dict = {}
    exec(code.split("```", 1)[0], namespace)  # the example exactly as the page shows it
    method = namespace["Median"]()
    for n in (2, 3, 4):
        tensors = [torch.randn(5, 3, generator=torch.Generator().manual_seed(i)) for i in range(n)]
        got = method.merge_tensor(tensors, [1.0 / n] * n, None, "w", None)
        want = np.median(np.stack([t.numpy() for t in tensors]), axis=0)
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)


def test_data_docs_say_filtering_writes_its_cache_into_collect(tmp_path):
    # The claim is measured: run the filter stage and look into collect/dataset.
    from data_kit import ListCollector

    from regionadapt.data import run_collect, run_filters

    ctx = make_ctx(tmp_path)
    items = [
        new_sample(id=f"s{i}", text=f"caption number {i}", country="ID" if i % 2 else "FR")
        for i in range(6)
    ]
    run_collect([(ListCollector(items), "pool")], ctx, tmp_path / "collect")
    region = build("filters", "region", {})
    run_filters(tmp_path / "collect" / "dataset", [region], ctx, tmp_path / "filter")
    caches = list((tmp_path / "collect" / "dataset").glob("cache-*.arrow"))
    assert caches, "the filter stage no longer writes a cache into collect/: fix docs/data.md"
    text = (DOCS / "data.md").read_text(encoding="utf-8")
    assert "the input folder is never written to" not in text
    assert "`collect/dataset/cache-*.arrow`" in text


def test_a_forked_worker_keeps_the_default_sigterm():
    # datasets' map and process pools fork: their workers must die on SIGTERM as usual, not
    # run the CLI's interrupt policy meant for the main process.
    import signal
    import time

    from regionadapt.cli import interrupts

    previous = interrupts.install()
    try:
        pid = os.fork()
        if pid == 0:  # the worker
            time.sleep(30)
            os._exit(0)
        time.sleep(0.3)
        os.kill(pid, signal.SIGTERM)
        _, status = os.waitpid(pid, 0)
    finally:
        interrupts.restore(previous)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM
