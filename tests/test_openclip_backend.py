"""open_clip backend: create, save, load back through every spec form, errors, registration."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from openclip_tiny import tiny_cfg
from PIL import Image
from regionadapt_plugins.openclip_backend import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    EmbeddingModel,
    create_model,
    load_model,
    save_checkpoint,
)

from regionadapt.errors import ConfigError

TEXTS = ["a red square", "a photo of a dog", "ภาพถ่ายของแมว", ""]


def _images() -> list[Image.Image]:
    return [Image.new("RGB", (40 + 7 * i, 30), (40 * i, 255 - 30 * i, 90)) for i in range(5)]


@pytest.fixture(scope="module")
def tiny() -> EmbeddingModel:
    torch.manual_seed(0)
    return create_model(tiny_cfg())


@pytest.fixture(scope="module")
def saved(tiny: EmbeddingModel, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ckpt") / "tiny"
    save_checkpoint(tiny, out)
    return out


def _same_outputs(a: EmbeddingModel, b: EmbeddingModel) -> None:
    images = _images()
    torch.testing.assert_close(a.encode_images(images), b.encode_images(images), atol=0, rtol=0)
    torch.testing.assert_close(a.encode_texts(TEXTS), b.encode_texts(TEXTS), atol=0, rtol=0)
    assert a.logit_scale == b.logit_scale


def test_create_model_embeds_normalised_float32(tiny: EmbeddingModel):
    img = tiny.encode_images(_images(), batch_size=2)
    txt = tiny.encode_texts(TEXTS, batch_size=3)
    assert img.shape == (5, 64) and txt.shape == (4, 64)
    assert img.dtype == txt.dtype == torch.float32
    torch.testing.assert_close(img.norm(dim=1), torch.ones(5))
    torch.testing.assert_close(txt.norm(dim=1), torch.ones(4))
    assert tiny.tokenizer.context_length == 32
    assert tuple(tiny.preprocess_cfg["size"]) == (32, 32)
    assert not tiny.model.training
    assert tiny.encode_images([]).shape == (0, 64)
    # different inputs give different embeddings (the model is not constant)
    assert not torch.allclose(img[0], img[1])
    assert not torch.allclose(txt[0], txt[1])


def test_create_model_rejects_incomplete_config():
    cfg = tiny_cfg()
    del cfg["vision_cfg"]
    with pytest.raises(ConfigError, match="vision_cfg"):
        create_model(cfg)


def test_checkpoint_layout_is_open_clips_own(saved: Path, tiny: EmbeddingModel):
    assert sorted(p.name for p in saved.iterdir()) == [CONFIG_NAME, WEIGHTS_NAME]
    config = json.loads((saved / CONFIG_NAME).read_text())
    assert config["model_cfg"] == tiny_cfg()
    assert config["preprocess_cfg"]["mean"] == list(tiny.preprocess_cfg["mean"])
    # plain open_clip (no regionadapt) loads the folder through its local-dir: schema
    import open_clip

    model = open_clip.create_model(f"local-dir:{saved}", require_pretrained=True)
    sd = tiny.model.state_dict()
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, sd[name], atol=0, rtol=0)


@pytest.mark.parametrize("form", ["plain", "local-dir"])
def test_load_local_folder_gives_identical_outputs(saved: Path, tiny: EmbeddingModel, form: str):
    spec = str(saved) if form == "plain" else f"local-dir:{saved}"
    loaded = load_model(spec)
    assert loaded.model_cfg == tiny_cfg()
    _same_outputs(tiny, loaded)


def test_load_from_offline_hf_hub_cache(saved: Path, tiny: EmbeddingModel, tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    repo = cache / "models--demo-org--tiny-clip"
    rev = "0123456789abcdef0123456789abcdef01234567"
    snap = repo / "snapshots" / rev
    snap.mkdir(parents=True)
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        (snap / name).write_bytes((saved / name).read_bytes())
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(rev)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as hc

    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", True)
    loaded = load_model("hf-hub:demo-org/tiny-clip")
    _same_outputs(tiny, loaded)
    with pytest.raises(ConfigError, match="demo-org/missing"):
        load_model("hf-hub:demo-org/missing")


def test_load_architecture_name_with_pretrained_file(saved: Path, tiny: EmbeddingModel, tmp_path):
    import open_clip

    cfg_dir = tmp_path / "configs"
    cfg_dir.mkdir()
    (cfg_dir / "RA-Tiny-Test.json").write_text(json.dumps(tiny_cfg()))
    open_clip.add_model_config(cfg_dir)
    loaded = load_model("RA-Tiny-Test", pretrained=str(saved / WEIGHTS_NAME))
    _same_outputs(tiny, loaded)
    random = load_model("RA-Tiny-Test")  # no tag: random weights, same architecture
    assert random.model_cfg == tiny_cfg()
    assert not torch.equal(random.encode_texts(TEXTS), tiny.encode_texts(TEXTS))


def test_bf16_load_still_returns_float32(saved: Path, tiny: EmbeddingModel):
    loaded = load_model(str(saved), precision="bf16")
    emb = loaded.encode_images(_images())
    assert emb.dtype == torch.float32
    torch.testing.assert_close(emb, tiny.encode_images(_images()), atol=0.05, rtol=0)


def test_load_errors_name_the_problem(tmp_path: Path, saved: Path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_model(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=CONFIG_NAME):
        load_model(str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match="not an open_clip architecture name"):
        load_model("No-Such-Arch-42")
    with pytest.raises(ConfigError, match="only valid with an open_clip architecture name"):
        load_model(str(saved), pretrained="laion2b_s34b_b79k")


def test_tied_tensors_are_saved_and_reload(tmp_path: Path):
    torch.manual_seed(1)
    model = create_model(tiny_cfg())
    # tie the text projection to a slice-free alias of another tensor of the same shape
    model.model.text_projection = model.model.visual.proj
    save_checkpoint(model, tmp_path / "tied")
    loaded = load_model(str(tmp_path / "tied"))
    torch.testing.assert_close(loaded.model.text_projection, model.model.visual.proj)
    _same_outputs(model, loaded)


def test_backend_is_registered_through_the_entry_point():
    from regionadapt.components import Backend
    from regionadapt.plugins import registry

    cls = registry("backends").get("open_clip")
    assert issubclass(cls, Backend)
    assert cls.arch == "embedding"
    assert registry("backends").owner("open_clip") == "open_clip"
    assert cls(None).mergeable_files(Path(".")) == [WEIGHTS_NAME]


def test_plugin_module_imports_no_heavy_library():
    mods = ["", ".backend", ".params"]
    imports = ", ".join(f"regionadapt_plugins.openclip_backend{m}" for m in mods)
    heavy = ("torch", "open_clip", "datasets", "transformers")
    code = f"import sys, {imports}; print(','.join(k for k in {heavy!r} if k in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_running_out_of_memory_is_not_reported_as_a_bad_config(saved: Path, monkeypatch):
    import open_clip

    def no_memory(*args, **kwargs):
        raise MemoryError("no room for the weights")

    monkeypatch.setattr(open_clip, "create_model_and_transforms", no_memory)
    with pytest.raises(MemoryError):
        load_model(str(saved))
