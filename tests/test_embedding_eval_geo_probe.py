"""Geo-probe: the closed-form ridge equals scikit-learn's Ridge; the evaluator samples k shots
per class, skips classes that are too small (reported per class) and scores top-1."""

from __future__ import annotations

import io
import random

import numpy as np
import pytest
from embedding_eval_helpers import OracleHandle, ctx, png, save_benchmark, tiny_clip_handle
from PIL import Image
from regionadapt_plugins.embedding_eval.geo_probe import ridge_fit

from regionadapt.components import build

sklearn_linear = pytest.importorskip("sklearn.linear_model")  # dev dependency


@pytest.mark.parametrize("n, d", [(12, 40), (60, 8)])  # dual (n < d) and primal forms
def test_ridge_fit_equals_sklearn_ridge(n, d):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, d))
    y = np.eye(4)[rng.integers(0, 4, size=n)]
    w, b = ridge_fit(x, y, alpha=0.7)
    ref = sklearn_linear.Ridge(alpha=0.7, fit_intercept=True, solver="cholesky").fit(x, y)
    np.testing.assert_allclose(w, ref.coef_.T, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(b, ref.intercept_, rtol=1e-8, atol=1e-10)
    x_new = rng.normal(size=(5, d))
    np.testing.assert_allclose(x_new @ w + b, ref.predict(x_new), rtol=1e-8, atol=1e-10)


COUNTRY_COLOUR = {"TH": "red", "VN": "green", "US": "blue", "BR": "yellow"}


def probe(path, **params):
    return build(
        "evaluators",
        "geo-probe",
        {"dataset": "local-benchmark", "dataset_params": {"path": path}, **params},
    )


def test_separable_countries_small_class_and_missing_country(tmp_path):
    rows = []
    for country, colour in COUNTRY_COLOUR.items():
        for j in range(12 if country != "BR" else 4):  # BR too small for 5 shots
            region = "asia" if country in ("TH", "VN") else "americas"
            rows.append(
                {
                    "id": f"{country}{j}",
                    "image": png(colour),
                    "country": country,
                    "meta": {"region": region},
                }
            )
    rows.append({"id": "nowhere", "image": png("red"), "country": ""})
    path = save_benchmark(tmp_path / "geo", rows)
    res = probe(path, shots=[2, 5, 25], seeds=[0]).evaluate(OracleHandle(), ctx(), "test")
    assert res.metrics["top1@2shot"] == 1.0 and res.metrics["top1@5shot"] == 1.0
    assert "top1@25shot" not in res.metrics  # no class has 26 items
    assert res.metrics["score_shots"] == 5 and res.score == 1.0
    assert res.skipped["no country"] == 1
    assert res.skipped["5-shot: country BR has 4 < 6 items"] == 4
    assert res.skipped["25-shot: fewer than 2 country values with enough items"] == 1
    assert set(res.groups["country"]) == {"TH", "VN", "US"}
    assert res.groups["country"]["TH"] == {"score": 1.0, "n": 12 - 5}  # the non-shot items
    assert res.n == 3 * (12 - 5)

    by_region = probe(path, target="region", shots=[5], seeds=[0]).evaluate(
        OracleHandle(), ctx(), "test"
    )
    # Two colours per region: still separable by a linear probe.
    assert by_region.score == 1.0 and set(by_region.groups["region"]) == {"americas", "asia"}
    # 5 shots per region left out of the test; the row without meta.region is skipped.
    assert by_region.n == len(rows) - 1 - 10 and by_region.skipped == {"no region": 1}


def noise_png(rng: random.Random) -> bytes:
    img = Image.frombytes("RGB", (32, 32), bytes(rng.randrange(256) for _ in range(32 * 32 * 3)))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_evaluator_equals_sklearn_ridge_on_clip_features(tmp_path):
    rng = random.Random(3)
    countries = ["TH", "VN", "ID"]
    train = [
        {"id": f"tr{c}{j}", "image": noise_png(rng), "country": c}
        for c in countries
        for j in range(5)
    ]
    test = [
        {"id": f"te{j}", "image": noise_png(rng), "country": countries[j % 3]} for j in range(24)
    ]
    import datasets

    save_benchmark(tmp_path / "tr", train)
    save_benchmark(tmp_path / "te", test)
    both = datasets.DatasetDict(
        train=datasets.load_from_disk(str(tmp_path / "tr")),
        test=datasets.load_from_disk(str(tmp_path / "te")),
    )
    both.save_to_disk(str(tmp_path / "dd"))
    handle = tiny_clip_handle()
    res = probe(str(tmp_path / "dd"), shots=[5], seeds=[0], alpha=0.5, train_split="train")
    res = res.evaluate(handle, ctx(), "test")

    def feats(rows):
        ims = [Image.open(io.BytesIO(r["image"])).convert("RGB") for r in rows]
        return handle.encode_images(ims).numpy().astype(np.float64)

    y = np.eye(3)[[countries.index(r["country"]) for r in train]]
    ref = sklearn_linear.Ridge(alpha=0.5).fit(feats(train), y)
    pred = ref.predict(feats(test)).argmax(1)
    truth = np.array([countries.index(r["country"]) for r in test])
    assert res.score == pytest.approx(float((pred == truth).mean()), abs=1e-12)
    assert res.n == len(test)
