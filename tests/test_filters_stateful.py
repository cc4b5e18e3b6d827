"""Filters that look across samples: duplicates, balance caps, alignment scores."""

from __future__ import annotations

import io

import pytest
from data_kit import image_bytes, make_ctx
from regionadapt_plugins.filters.balance import share_cap

from regionadapt.components import build
from regionadapt.data import run_collect, run_filters
from regionadapt.errors import ConfigError
from regionadapt.samples import new_sample


def _f(tmp_path, name, **params):
    f = build("filters", name, params)
    f.setup(make_ctx(tmp_path))
    return f


def _reencode(data: bytes, quality: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def test_duplicates_exact_and_perceptual(tmp_path):
    a = image_bytes(96, 96, pattern=7)
    near = _reencode(a, 70)  # same picture, different bytes
    other = image_bytes(96, 96, color=(10, 120, 240), pattern=3)
    samples = [new_sample(id="a", image=a), new_sample(id="a-copy", image=a),
               new_sample(id="a-jpeg", image=near), new_sample(id="b", image=other),
               new_sample(id="broken", image=b"not an image")]  # fmt: skip
    got = _f(tmp_path, "duplicates").keep_batch(samples)
    assert got[0] is True and got[3] is True and got[4] is True
    assert got[1][1] == "duplicate-exact: same bytes as a"
    assert got[2][1].startswith("duplicate-perceptual: phash distance") and got[2][1].endswith(
        "from a"
    )
    exact_only = _f(tmp_path, "duplicates", perceptual=False).keep_batch(samples)
    assert exact_only[2] is True and exact_only[1] is not True


def test_balance_caps_are_order_independent(tmp_path):
    samples = [new_sample(id=f"th{i}", country="TH", text="ต้มยำ") for i in range(10)]
    samples += [new_sample(id=f"id{i}", country="ID", text="Rendang") for i in range(2)]
    samples += [new_sample(id=f"vn{i}", country="VN", text="Barong Tagalog") for i in range(2)]
    f = _f(tmp_path, "balance", max_per_country=3)
    kept = {s["id"] for s, r in zip(samples, f.keep_batch(samples), strict=True) if r is True}
    kept_rev = {
        s["id"]
        for s, r in zip(samples[::-1], f.keep_batch(samples[::-1]), strict=True)
        if r is True
    }
    assert kept == kept_rev
    assert sum(k.startswith("th") for k in kept) == 3 and len(kept) == 7
    g = _f(tmp_path, "balance", max_country_share=0.4)
    kept = [s for s, r in zip(samples, g.keep_batch(samples), strict=True) if r is True]
    th = sum(s["country"] == "TH" for s in kept)
    assert th <= 0.4 * len(kept) and th >= 2
    # categories come from meta or from the lexicon (food: tom-yum, rendang; clothing: barong)
    h = _f(tmp_path, "balance", max_per_category=4)
    res = h.keep_batch(samples)
    kept = [s for s, r in zip(samples, res, strict=True) if r is True]
    assert len(kept) == 4 + 2
    assert {r[1].split(":")[0] for r in res if r is not True} == {"balance-category-cap"}


def test_share_cap():
    assert share_cap([100, 10, 10], 0.5) == 20
    assert share_cap([5, 5], 0.5) == 5


SCORER = "data_kit:ColourScorer"


def _coloured():
    return [
        new_sample(
            id="r-ok", text="a red square", lang="eng", image=image_bytes(color=(200, 30, 30))
        ),
        new_sample(
            id="g-ok", text="sebuah kotak green", lang="ind", image=image_bytes(color=(30, 200, 30))
        ),
        new_sample(
            id="r-bad", text="a blue square", lang="eng", image=image_bytes(color=(200, 30, 30))
        ),
        new_sample(
            id="b-bad", text="kotak red", lang="ind", image=image_bytes(color=(30, 30, 200))
        ),
        new_sample(id="no-img", text="red", lang="eng"),
    ]


def test_alignment_threshold_and_per_language(tmp_path):
    f = _f(tmp_path, "alignment", scorer=SCORER, threshold=0.5)
    res = f.keep_batch(_coloured())
    assert res[0] is True and res[1] is True
    assert res[2][1].startswith("low-alignment") and res[3][1].startswith("low-alignment")
    assert res[4][1].startswith("unscorable")
    lenient_ind = _f(tmp_path, "alignment", scorer=SCORER, threshold=0.5, thresholds={"ind": -1.0})
    assert lenient_ind.keep_batch(_coloured())[3] is True


def test_alignment_quantile_calibration_per_language(tmp_path):
    # scores differ in scale between languages; quantile keeps the best half of each
    f = _f(tmp_path, "alignment", scorer=SCORER, calibrate="quantile", keep_fraction=0.5)
    res = f.keep_batch(_coloured())
    assert [r is True for r in res] == [True, True, False, False, False]


def test_alignment_bad_scorer_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot be imported"):
        _f(tmp_path, "alignment", scorer="nowhere.module:Nope")
    with pytest.raises(ConfigError, match="scorer_params.model"):
        _f(tmp_path, "alignment", scorer="clip")


def test_stateful_filters_in_the_stage_match_workers(tmp_path):
    """Duplicates after a per-sample filter, keys computed in 2 worker processes."""
    ctx = make_ctx(tmp_path)
    a = image_bytes(64, 64, pattern=5)
    items = [new_sample(id=f"s{i:02d}", country=["TH", "ID"][i % 2], text="x",
                        image=a if i % 3 == 0 else image_bytes(64, 64, pattern=20 + i))
             for i in range(24)]  # fmt: skip
    run_collect([(__import__("data_kit").ListCollector(items), "pool")], ctx, tmp_path / "c")

    def chain():
        return [build("filters", "region"), build("filters", "duplicates"),
                build("filters", "balance", {"max_per_country": 8})]  # fmt: skip

    s1 = run_filters(tmp_path / "c" / "dataset", chain(), ctx, tmp_path / "f1")
    s2 = run_filters(tmp_path / "c" / "dataset", chain(), ctx, tmp_path / "f2", workers=2)
    assert s1["filters"] == s2["filters"]
    assert s1["filters"]["duplicates"]["dropped"] == 7  # 8 copies of `a`, the first kept
    assert s1["filters"]["balance"]["seen"] == 17 and s1["kept"] == 16
    assert s1["read"] == s1["kept"] + s1["dropped"]
