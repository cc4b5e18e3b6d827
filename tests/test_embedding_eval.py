"""Zero-shot classification and multiple-choice evaluators, through the plugin registry and the
real local-benchmark loader, with an oracle model whose right answers are known per item."""

from __future__ import annotations

import random

import pytest
from embedding_eval_helpers import COLOURS, OracleHandle, ctx, make_pack, png, save_benchmark

from regionadapt.components import build
from regionadapt.errors import ConfigError, PluginError

COUNTRIES = ["TH", "VN", "US", "BR"]
LANGS = ["tha", "vie", "eng", "por"]


def classification_rows(n: int = 60, seed: int = 0) -> list[dict]:
    """Items whose image colour matches the label except for a random ~30%."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = rng.choice(COLOURS)
        wrong = rng.random() < 0.3
        colour = rng.choice([c for c in COLOURS if c != label]) if wrong else label
        k = rng.randrange(len(COUNTRIES))
        income = rng.choice([50, 150, 300, 600, 900, 1500, 2500, 8000])
        rows.append(
            {
                "id": f"item{i}",
                "image": png(colour),
                "label": label,
                "country": COUNTRIES[k],
                "lang": LANGS[k],
                "meta": {"income": income, "colour": colour},
            }
        )
    return rows


def expected_acc(rows: list[dict], keep=lambda r: True) -> tuple[float, int]:
    sel = [r for r in rows if keep(r)]
    right = sum(r["meta"]["colour"] == r["label"] for r in sel)
    return right / len(sel), len(sel)


@pytest.fixture
def cls_data(tmp_path):
    rows = classification_rows()
    return rows, save_benchmark(tmp_path / "bench", rows)


def zs(path: str, **params):
    return build(
        "evaluators",
        "zero-shot-classification",
        {"dataset": "local-benchmark", "dataset_params": {"path": path}, **params},
    )


def test_zero_shot_accuracy_and_country_lang_groups(cls_data):
    rows, path = cls_data
    res = zs(path).evaluate(OracleHandle(), ctx(), "test")
    acc, n = expected_acc(rows)
    assert res.n == n == len(rows)
    assert res.score == pytest.approx(acc)
    assert 0 < acc < 1  # the data really has both right and wrong items
    for country, lang in zip(COUNTRIES, LANGS, strict=True):
        exp, en = expected_acc(rows, lambda r, c=country: r["country"] == c)
        assert res.groups["country"][country] == {"score": pytest.approx(exp), "n": en}
        assert res.groups["lang"][lang]["score"] == pytest.approx(exp)
    assert res.metrics["worst_country"] == min(g["score"] for g in res.groups["country"].values())
    assert res.skipped == {}
    assert res.to_json()["groups"]["country"]  # JSON-able shape the report reads


def test_templates_are_ensembled_and_each_text_encoded_once(cls_data):
    _, path = cls_data
    model = OracleHandle()
    templates = ["a photo of a {}.", "a {c} thing."]
    zs(path, templates=templates).evaluate(model, ctx(), "test")
    assert model.text_calls == 1
    assert len(model.texts_seen) == len(set(model.texts_seen)) == len(COLOURS) * 2
    assert "a red thing." in model.texts_seen


def test_income_bins_gap_and_worst_group(cls_data, tmp_path):
    rows, _ = cls_data
    rows = rows + [
        {"id": "noinc", "image": png("red"), "label": "red", "country": "TH", "meta": {}},
        {"id": "badinc", "image": png("red"), "label": "red", "meta": {"income": "lots"}},
    ]
    path = save_benchmark(tmp_path / "b2", rows)
    res = zs(path, stratify_by="income", bins=[200, 684, 1997]).evaluate(OracleHandle(), ctx(), "t")
    bins = res.groups["income_bin"]
    assert list(bins) == ["0-200", "201-684", "685-1997", "1998+"]  # low to high
    inc = lambda r: r["meta"].get("income")  # noqa: E731
    ranges = {"0-200": (0, 200), "201-684": (201, 684), "685-1997": (685, 1997)}
    ranges["1998+"] = (1998, 10**9)
    for label, (lo, hi) in ranges.items():
        exp, n = expected_acc(rows[:-2], lambda r, lo=lo, hi=hi: lo <= inc(r) <= hi)
        assert bins[label] == {"score": pytest.approx(exp), "n": n}
    gap = bins["1998+"]["score"] - bins["0-200"]["score"]
    assert res.metrics["gap_top_minus_bottom"] == pytest.approx(gap)
    assert res.metrics["worst_group"] == min(b["score"] for b in bins.values())
    # Both bad rows still count overall; they are left out of the income groups only.
    assert res.n == len(rows)
    assert res.skipped["groups.income: missing"] == 1
    assert res.skipped["groups.income: not a number"] == 1
    assert res.skipped["groups.country: missing"] == 1


def test_slice_keeps_only_pack_countries(cls_data):
    rows, path = cls_data
    res = zs(path, slice="countries").evaluate(OracleHandle(), ctx(make_pack(("TH",))), "test")
    exp, n = expected_acc(rows, lambda r: r["country"] == "TH")
    assert (res.n, res.score) == (n, pytest.approx(exp))
    assert set(res.groups["country"]) == {"TH"}
    assert res.metrics["n_outside_slice"] == len(rows) - n


def test_unreadable_image_and_missing_label_are_skipped_not_fatal(tmp_path):
    rows = [
        {"id": "a", "image": png("red"), "label": "red"},
        {"id": "b", "image": b"not a png", "label": "red"},
        {"id": "c", "image": png("blue"), "label": ""},
        {"id": "d", "image": png("blue"), "label": "blue", "country": "thailand", "lang": "xx"},
    ]
    path = save_benchmark(tmp_path / "b", rows)
    res = zs(path).evaluate(OracleHandle(), ctx(), "test")
    assert (res.n, res.score) == (2, 1.0)
    assert res.skipped["unreadable image"] == 1
    assert res.skipped["no label"] == 1
    assert res.skipped["groups.country: not an ISO 3166-1 alpha-2 code ('thailand')"] == 1
    assert res.skipped["groups.lang: unknown language code ('xx', expected ISO 639-3)"] == 1
    assert "country" not in res.groups or "thailand" not in res.groups["country"]


def test_unknown_dataset_and_bad_params_name_the_key(cls_data):
    _, path = cls_data
    with pytest.raises(PluginError, match="no-such-set.*local-benchmark"):
        build("evaluators", "zero-shot-classification", {"dataset": "no-such-set"}).evaluate(
            OracleHandle(), ctx(), "test"
        )
    with pytest.raises(ConfigError, match="templat"):
        build("evaluators", "zero-shot-classification", {"dataset": "x", "templatess": []})


# -- multiple choice -------------------------------------------------------------------------


def mc_rows(n: int = 40, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        k = rng.choice([2, 3, 4])
        options = rng.sample(COLOURS, k)
        answer = rng.randrange(k)
        # ~25% of images show a colour that is not the right option (the model will miss).
        colour = options[answer] if rng.random() > 0.25 else rng.choice(COLOURS)
        c = rng.randrange(len(COUNTRIES))
        rows.append(
            {
                "id": f"q{i}",
                "image": png(colour),
                "text": "What colour is this?",
                "options": options,
                "answer": answer,
                "country": COUNTRIES[c],
                "lang": LANGS[c],
                "meta": {"colour": colour},
            }
        )
    return rows


def mc_right(r: dict) -> bool:
    return r["meta"]["colour"] == r["options"][r["answer"]]


def test_multiple_choice_accuracy_groups_and_bad_rows(tmp_path):
    rows = mc_rows()
    bad = [
        {"id": "one-opt", "image": png("red"), "options": ["red"], "answer": 0},
        {"id": "bad-ans", "image": png("red"), "options": ["red", "blue"], "answer": 5},
        {"id": "no-ans", "image": png("red"), "options": ["red", "blue"], "answer": -1},
    ]
    path = save_benchmark(tmp_path / "mc", rows + bad)
    model = OracleHandle()
    ev = build(
        "evaluators",
        "multiple-choice",
        {"dataset": "local-benchmark", "dataset_params": {"path": path}, "batch_size": 16},
    )
    res = ev.evaluate(model, ctx(), "test")
    right = [mc_right(r) for r in rows]
    assert res.n == len(rows)
    assert res.score == pytest.approx(sum(right) / len(rows))
    assert 0 < res.score < 1
    for country in COUNTRIES:
        sel = [mc_right(r) for r in rows if r["country"] == country]
        assert res.groups["country"][country] == {
            "score": pytest.approx(sum(sel) / len(sel)),
            "n": len(sel),
        }
    assert set(res.groups["lang"]) == set(LANGS)
    assert res.skipped == {"fewer than 2 options": 1, "answer is not an option index": 2}
    assert res.metrics["chance"] == pytest.approx(
        sum(1 / len(r["options"]) for r in rows) / len(rows)
    )
    # Every distinct option text encoded once, in one call.
    assert model.text_calls == 1
    assert sorted(model.texts_seen) == sorted({o for r in rows for o in r["options"]})


def test_multiple_choice_option_template_uses_question(tmp_path):
    rows = [
        {"id": "1", "image": png("blue"), "text": "Q1", "options": ["blue", "red"], "answer": 0},
        {"id": "2", "image": png("red"), "text": "Q2", "options": ["blue", "red"], "answer": 0},
    ]
    path = save_benchmark(tmp_path / "mc", rows)
    model = OracleHandle()
    params = {"dataset": "local-benchmark", "dataset_params": {"path": path}}
    params["option_template"] = "{question}: {option}"
    res = build("evaluators", "multiple-choice", params).evaluate(model, ctx(), "test")
    assert sorted(model.texts_seen) == ["Q1: blue", "Q1: red", "Q2: blue", "Q2: red"]
    assert (res.n, res.score) == (2, 0.5)
