"""The quality filter on real encoded images: corrupt, truncated, missing, small, elongated."""

from __future__ import annotations

from data_kit import image_bytes, make_ctx

from regionadapt.components import build
from regionadapt.samples import new_sample


def _q(tmp_path, **params):
    f = build("filters", "quality", params)
    f.setup(make_ctx(tmp_path))
    return f


def _code(r):
    return "kept" if r is True else r[1].split(":")[0]


def test_quality_reasons(tmp_path):
    f = _q(tmp_path, min_side=32, max_aspect=3.0)
    good = image_bytes(64, 48)
    jpeg = image_bytes(128, 96, fmt="JPEG", pattern=5)
    cases = {
        "good": new_sample(id="good", image=good),
        "truncated": new_sample(id="t", image=jpeg[: len(jpeg) // 2]),
        "garbage": new_sample(id="g", image=b"this is not an image at all"),
        "small": new_sample(id="s", image=image_bytes(16, 16)),
        "aspect": new_sample(id="a", image=image_bytes(200, 40)),
        "none": new_sample(id="n"),
        "missing-file": new_sample(id="m", image_path=str(tmp_path / "nope.png")),
    }
    got = {k: _code(f.keep(s)) for k, s in cases.items()}
    assert got == {
        "good": "kept",
        "truncated": "image-truncated",
        "garbage": "image-unreadable",
        "small": "image-too-small",
        "aspect": "image-aspect",
        "none": "image-missing",
        "missing-file": "image-missing",
    }


def test_quality_reads_image_files_and_pixel_limit(tmp_path):
    path = tmp_path / "ok.png"
    path.write_bytes(image_bytes(80, 80))
    assert _q(tmp_path).keep(new_sample(id="p", image_path=str(path))) is True
    assert (
        _code(_q(tmp_path, max_pixels=80 * 80 - 1).keep(new_sample(id="p", image_path=str(path))))
        == "image-too-large"
    )


def test_quality_text_only_and_min_text(tmp_path):
    assert _q(tmp_path, require_image=False).keep(new_sample(id="x", text="hello")) is True
    r = _q(tmp_path, min_text_chars=10).keep(new_sample(id="y", text="short", image=image_bytes()))
    assert _code(r) == "text-too-short"
