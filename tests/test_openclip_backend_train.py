"""open_clip backend: contrastive tuning (full and LoRA), corrupt images, the Backend component."""

from __future__ import annotations

import math

import pytest
import torch
from openclip_tiny import dataset, png, square_rows, tiny_cfg
from regionadapt_plugins.openclip_backend import (
    TuneParams,
    create_model,
    load_model,
    save_checkpoint,
    train_contrastive,
)
from regionadapt_plugins.openclip_backend.train import run_training

from regionadapt.errors import StageError

QUIET = {"log_every": 1000}


def _fresh():
    torch.manual_seed(0)
    return create_model(tiny_cfg())


@pytest.fixture(scope="module")
def squares():
    return dataset(square_rows(64))


def _snapshot(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.model.state_dict().items()}


def test_full_tuning_lowers_the_loss_and_changes_every_weight(squares, tmp_path):
    model = _fresh()
    before = _snapshot(model)
    params = TuneParams(epochs=4, batch_size=32, lr=2e-3, **QUIET)
    summary = train_contrastive(model, squares, params, log=lambda _m: None)
    assert summary["steps"] == 8 and summary["epochs"] == 4
    assert summary["skipped_images"] == 0 and summary["preloaded"] is True
    assert summary["last_loss"] < summary["first_loss"] - 0.3
    assert summary["samples_per_s"] > 0 and summary["num_processes"] == 1
    after = model.model.state_dict()
    # every tensor moved (AdamW's weight decay reaches even unseen token embeddings)
    unchanged = [k for k in before if torch.equal(before[k], after[k])]
    assert unchanged == []
    save_checkpoint(model, tmp_path / "tuned")
    reloaded = load_model(str(tmp_path / "tuned"))
    texts = ["a photo of a red square", "a photo of a blue square"]
    torch.testing.assert_close(reloaded.encode_texts(texts), model.encode_texts(texts))


def test_lora_trains_every_adapter_and_fuses_them(squares):
    model = _fresh()
    before = _snapshot(model)
    seen: dict[int, dict[str, torch.Tensor]] = {}

    def on_step(net, step):
        seen[step] = {n: p.detach().clone() for n, p in net.named_parameters() if "lora_" in n}

    params = TuneParams(method="lora", epochs=2, batch_size=32, lr=5e-3, **QUIET)
    summary = run_training(model, squares, params, log=lambda _m: None, on_step=on_step)
    assert summary["steps"] == 4
    first, last = seen[0], seen[4]
    assert len(first) == 2 * 4 * 4  # (A, B) x {attn, attn.out_proj, c_fc, c_proj} x 4 blocks
    stuck = [n for n in first if torch.equal(first[n], last[n])]
    assert stuck == [], f"LoRA weights that never changed: {stuck}"
    # fused: a plain open_clip model, targeted weights changed, everything else untouched
    assert not any("lora" in k for k in model.model.state_dict())
    after = model.model.state_dict()
    targeted = ("attn.in_proj_weight", "attn.out_proj.weight", "c_fc.weight", "c_proj.weight")
    for key in before:
        changed = not torch.equal(before[key], after[key])
        assert changed == key.endswith(targeted), key
    assert summary["last_loss"] < summary["first_loss"]


def test_corrupt_and_missing_images_are_skipped_and_counted(tmp_path):
    rows = square_rows(12)
    rows[3]["image"] = b"definitely not an image"
    rows[7]["image"] = png(torch.zeros(32, 32, 3, dtype=torch.uint8).numpy())[:40]  # truncated
    good_file = tmp_path / "ok.png"
    good_file.write_bytes(square_rows(1)[0]["image"])
    rows += [
        {"id": "p1", "image": None, "text": "from a file", "image_path": str(good_file)},
        {"id": "p2", "image": None, "text": "gone", "image_path": str(tmp_path / "missing.png")},
    ]
    for row in rows:
        row.setdefault("image_path", "")
    data = dataset(rows)
    for preload_mb in (2048, 0):  # preloaded tensor and streamed DataLoader paths
        params = TuneParams(epochs=1, batch_size=14, lr=1e-4, preload_max_mb=preload_mb, **QUIET)
        summary = train_contrastive(_fresh(), data, params, log=lambda _m: None)
        assert summary["skipped_images"] == 3, preload_mb
        assert summary["preloaded"] is (preload_mb > 0)
        assert summary["steps"] == 1


def test_bad_training_data_gets_a_clear_error(tmp_path):
    model = _fresh()
    params = TuneParams(epochs=1, batch_size=4, **QUIET)
    with pytest.raises(StageError, match="expected columns 'text'"):
        train_contrastive(model, dataset([{"caption": "x", "image": b""}]), params)
    with pytest.raises(StageError, match="not found"):
        train_contrastive(model, tmp_path / "nowhere", params)
    bad = dataset([{"image": b"xx", "text": "a"}, {"image": b"yy", "text": "b"}])
    with pytest.raises(StageError, match="none of the 2 training images"):
        train_contrastive(model, bad, params)


def test_tune_params_validation():
    with pytest.raises(ValueError, match="divisible"):
        TuneParams(batch_size=10, processes=3)
    with pytest.raises(ValueError, match="extra"):
        TuneParams(learning_rate=1e-4)
    defaults = TuneParams()
    assert (defaults.method, defaults.epochs, defaults.batch_size, defaults.lr) == (
        "full",
        2,
        128,
        5e-6,
    )
    for name, field in TuneParams.model_fields.items():
        assert field.description, f"TuneParams.{name} is undocumented"


def test_backend_prepare_tune_load(squares, tmp_path):
    from regionadapt.components import Context, build

    base = _fresh()
    save_checkpoint(base, tmp_path / "src")
    squares.save_to_disk(str(tmp_path / "data"))
    backend = build("backends", "open_clip")
    ctx = Context(pack=None)
    backend.prepare_base(ctx, backend.ModelParams(model=str(tmp_path / "src")), tmp_path / "base")
    assert backend.mergeable_files(tmp_path / "base") == ["open_clip_model.safetensors"]
    params = backend.TuneParams(epochs=1, batch_size=32, lr=1e-3, method="lora")
    summary = backend.tune(ctx, params, tmp_path / "base", tmp_path / "data", tmp_path / "tuned")
    assert summary["steps"] == 2 and summary["method"] == "lora"
    tuned = backend.load(tmp_path / "tuned")
    texts = ["a photo of a green square"]
    assert not torch.allclose(tuned.encode_texts(texts), base.encode_texts(texts))
    assert isinstance(tuned, backend.handle)


def test_bf16_mixed_precision_trains(squares):
    params = TuneParams(epochs=1, batch_size=32, lr=2e-3, precision="bf16", **QUIET)
    model = _fresh()
    summary = train_contrastive(model, squares, params, log=lambda _m: None)
    assert summary["steps"] == 2 and summary["precision"] == "bf16"
    assert next(model.model.parameters()).dtype == torch.float32  # fp32 master weights
    assert math.isfinite(summary["first_loss"]) and math.isfinite(summary["last_loss"])


@pytest.mark.parametrize("frozen", ["vision", "text"])
def test_frozen_tower_keeps_its_weights(squares, frozen):
    model = _fresh()
    before = _snapshot(model)
    params = TuneParams(
        epochs=1, batch_size=32, lr=1e-3, max_steps=1, **{f"freeze_{frozen}": True}, **QUIET
    )
    train_contrastive(model, squares, params, log=lambda _m: None)
    after = model.model.state_dict()
    for key in before:
        is_vision = key.startswith("visual.")
        is_frozen = is_vision if frozen == "vision" else not is_vision and key != "logit_scale"
        assert torch.equal(before[key], after[key]) == is_frozen, key
