"""The default alignment scorer through the real open_clip backend, on a tiny model saved to
disk and loaded back by the registered backend."""

from __future__ import annotations

import io

import pytest
from data_kit import image_bytes, make_ctx
from openclip_tiny import tiny_cfg

from regionadapt.components import build
from regionadapt.samples import new_sample


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    from regionadapt_plugins.openclip_backend.model import create_model, save_checkpoint

    out = tmp_path_factory.mktemp("clip")
    save_checkpoint(create_model(tiny_cfg()), out)
    return out


def test_clip_scorer_scores_with_the_backend(tmp_path, tiny_ckpt):
    import torch
    from PIL import Image
    from regionadapt_plugins.openclip_backend.model import load_model

    samples = [
        new_sample(id=f"s{i}", text=t, image=image_bytes(40, 40, color=c, pattern=i))
        for i, (t, c) in enumerate([("a red square", (200, 30, 30)), ("hijau", (30, 200, 30)),
                                    ("ต้มยำ", (30, 30, 200))])
    ]  # fmt: skip
    f = build(
        "filters", "alignment", {"scorer_params": {"model": str(tiny_ckpt)}, "threshold": 0.0}
    )
    f.setup(make_ctx(tmp_path))
    keys = f.key_batch(samples)
    model = load_model(str(tiny_ckpt))
    imgs = [Image.open(io.BytesIO(s["image"])).convert("RGB") for s in samples]
    expected = (model.encode_images(imgs) * model.encode_texts([s["text"] for s in samples])).sum(
        -1
    )
    got = torch.tensor([k["score"] for k in keys])
    assert torch.allclose(got, expected, atol=1e-5)
    assert (got.abs() <= 1.0 + 1e-6).all()
    # the threshold is applied to exactly these scores
    t = float(got.median())
    g = build("filters", "alignment", {"scorer_params": {"model": str(tiny_ckpt)}, "threshold": t})
    g.setup(make_ctx(tmp_path))
    assert [r is True for r in g.keep_batch(samples)] == [bool(s >= t) for s in got.tolist()]
