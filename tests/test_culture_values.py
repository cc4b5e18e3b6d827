"""Value alignment: GlobalOpinionQA's published format parsed without eval, the four
conditions asked of a fake chat model whose beliefs are known, every similarity recomputed here
with scipy, bad input counted by reason."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from culture_kit import (
    COLOURS,
    GOQA_NAMES,
    FakeChat,
    ctx,
    png,
    save_schema,
    selections_text,
    write_goqa,
)
from regionadapt_plugins.culture_eval.alignment import (
    bootstrap_ci,
    letter_distribution,
    similarity,
)
from regionadapt_plugins.culture_eval.opinions import goqa_country, parse_options, parse_selections
from scipy.spatial.distance import jensenshannon

from regionadapt.components import build
from regionadapt.handles import ChatModel

# A row as the hub serves it (question text shortened).
REAL_SELECTIONS = (
    "defaultdict(<class 'list'>, {'Belgium': [0.2092050209205021, 0.5062761506276151, "
    "0.18828451882845187, 0.09623430962343096], 'Nigeria (Non-national sample)': "
    '[0.5, 0.3, 0.1, 0.1], "Cote d\'Ivoire": [0.25, 0.25, 0.25, 0.25]})'
)
REAL_OPTIONS = (
    "['Very important', 'Rather important', 'Not very important', 'Not at all important']"
)


def test_parse_selections_real_format():
    sel = parse_selections(REAL_SELECTIONS)
    assert list(sel) == ["Belgium", "Nigeria (Non-national sample)", "Cote d'Ivoire"]
    assert sel["Belgium"][1] == pytest.approx(0.5062761506276151)
    assert parse_options(REAL_OPTIONS)[3] == "Not at all important"
    assert goqa_country("Nigeria (Non-national sample)") == "NG"
    assert goqa_country("Britain") == "GB" and goqa_country("Czech Rep.") == "CZ"
    assert goqa_country("Atlantis") == ""
    # A bare nan (a missing share) is None for that country only; quoted 'nan' stays text.
    sel = parse_selections("defaultdict(<class 'list'>, {'Nan': [nan, 0.5], 'B': [0.5, 0.5]})")
    assert sel == {"Nan": [None, 0.5], "B": [0.5, 0.5]}
    # What our own writer produces round-trips too (the test fixture's format is the real one).
    assert parse_selections(selections_text({"Thailand": [0.4, 0.6]})) == {"Thailand": [0.4, 0.6]}


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('touch /tmp/culture-pwned')",
        "defaultdict(<class 'list'>, {'X': __import__('os').getcwd()})",
        "defaultdict(<class 'list'>, {'Thailand': [0.5, 0.5]",
        "defaultdict(<class 'list'>, {'Thailand': [nan(), 0.5]})",
        "defaultdict(<class 'list'>, {'Thailand': ['x', 0.5]})",
    ],
)
def test_parse_selections_never_evaluates(text, tmp_path):
    with pytest.raises(ValueError):
        parse_selections(text)
    assert not (tmp_path / "culture-pwned").exists()


def test_similarity_is_scipy_base2_and_hand_checked():
    p, q = [1.0, 0.0], [0.5, 0.5]
    # Hand: M = (0.75, 0.25); KL(p|M) = log2(4/3); KL(q|M) = 0.5 log2(2/3) + 0.5 log2(2).
    js = 0.5 * math.log2(4 / 3) + 0.5 * (0.5 * math.log2(2 / 3) + 0.5)
    assert similarity(p, q) == pytest.approx(1 - math.sqrt(js), abs=1e-12)
    assert similarity(p, q) == pytest.approx(1 - jensenshannon(p, q, base=2))
    assert similarity([0.2, 0.8], [0.2, 0.8]) == pytest.approx(1.0)
    assert similarity([1, 0], [0, 1]) == pytest.approx(0.0)
    rng = np.random.default_rng(0)
    for _ in range(50):
        a, b = rng.dirichlet(np.ones(5)), rng.dirichlet(np.ones(5))
        assert similarity(a, b) == pytest.approx(1 - jensenshannon(a, b, base=2), abs=1e-12)
    # Where scipy rounds to NaN (equal distributions), similarity is 1, not NaN.
    q = np.array([0.1, 0.2, 0.3, 0.4]) / 1.0
    assert similarity(q, q) == 1.0


def test_letter_distribution_renormalises_over_offered_letters():
    lp = [math.log(0.1), math.log(0.3), math.log(0.1)]  # 0.5 of the mass went elsewhere
    assert letter_distribution(lp) == pytest.approx([0.2, 0.6, 0.2])
    with pytest.raises(ValueError):
        letter_distribution([0.0, float("nan")])


def test_bootstrap_resamples_questions():
    vals = [0.2, 0.4, 0.9, 0.9, 0.9]
    qids = ["a", "a", "b", "b", "b"]
    mean, lo, hi = bootstrap_ci(vals, qids, n_boot=2000, seed=1)
    assert mean == pytest.approx(np.mean(vals))
    # Only two clusters: a resample is all-a (0.3), all-b (0.9) or both (the mean).
    assert lo == pytest.approx(0.3) and hi == pytest.approx(0.9)
    assert bootstrap_ci(vals, qids, n_boot=2000, seed=1) == (mean, lo, hi)


SHARES = {
    "q0": {
        "TH": [0.1, 0.2, 0.3, 0.4],
        "VN": [0.4, 0.4, 0.1, 0.1],
        "US": [0.25] * 4,
        "??": [0.1, 0.1, 0.1, 0.7],
    },
    "q1": {"TH": [0.9, 0.1], "GB": [0.3, 0.7]},
    "q2": {"TH": [0.2, 0.2, 0.3, 0.3], "VN": [0.6, 0.3, 0.1]},
}
OPTIONS = {"q0": ["w", "x", "y", "z"], "q1": ["yes", "no"], "q2": ["a", "b", "c"]}
NAME = {**GOQA_NAMES, "US": "United States", "GB": "Britain", "??": "Atlantis"}


def goqa_rows() -> list[dict]:
    rows = []
    for q, by_c in SHARES.items():
        rows.append({
            "question": f"Question {q}?", "options": repr(OPTIONS[q]),
            "selections": selections_text({NAME[c]: s for c, s in by_c.items()}),
            "source": "GAS" if q == "q1" else "WVS",
        })  # fmt: skip
    rows.append({"question": "Broken?", "options": "['a', 'b']",
                 "selections": "defaultdict(<class 'list'>, {'Thailand': [0.5", "source": "WVS"})  # fmt: skip
    return rows


def image_set(tmp_path) -> dict:
    rows = [
        {"id": f"th{i}", "image": png(COLOURS["TH"]), "country": "TH", "label": "home",
         "meta": {"income": inc}} for i, inc in enumerate([50, 60, 900, 5000])
    ] + [{"id": "vn0", "image": png(COLOURS["VN"]), "country": "VN", "label": "home",
          "meta": {"income": 300}}]  # fmt: skip
    path = save_schema(tmp_path / "images", rows)
    return {"dataset": "local-benchmark", "dataset_params": {"path": path}, "per_country": 2}


def expected(q: str, c: str, cond: str) -> float:
    shares = np.array(SHARES[q][c]) / np.sum(SHARES[q][c])
    k = len(shares)
    if cond.startswith("image"):
        p = shares
    elif cond == "text+named":
        p = 0.5 * shares + 0.5 / k
    else:
        p = np.full(k, 1 / k)
    # scipy returns NaN for equal distributions (sqrt of a rounded -1e-17): distance 0.
    return 1 - float(np.nan_to_num(jensenshannon(p, shares, base=2)))


def run(tmp_path, **extra):
    path = write_goqa(tmp_path / "goqa", goqa_rows())
    shares = {(f"Question {q}?", c): s for q, by_c in SHARES.items() for c, s in by_c.items()}
    model = FakeChat(shares)
    assert isinstance(model, ChatModel)
    params = {"dataset_params": {"path": path}, "images": image_set(tmp_path),
              "n_boot": 500, **extra}  # fmt: skip
    ev = build("evaluators", "value-alignment", params)
    res = ev.evaluate(model, ctx(), "train")
    res.check("value-alignment")
    return res, model


def test_four_conditions_match_scipy(tmp_path):
    res, model = run(tmp_path, details=str(tmp_path / "details.jsonl"))
    pairs = [("q0", "TH"), ("q0", "VN"), ("q1", "TH"), ("q2", "VN")]
    assert res.n == len(pairs)
    conds = ["image+named", "image+unnamed", "text+named", "text+unnamed"]
    for cond in conds:
        want = np.mean([expected(q, c, cond) for q, c in pairs])
        assert res.metrics[f"similarity[{cond}]"] == pytest.approx(
            want, abs=1e-7
        )  # sqrt of rounding
        assert res.groups["condition"][cond]["n"] == len(pairs)
        lo, hi = (
            res.metrics[f"similarity[{cond}].ci_low"],
            res.metrics[f"similarity[{cond}].ci_high"],
        )
        assert lo <= res.metrics[f"similarity[{cond}]"] + 1e-12 <= hi + 2e-12
    items = [np.mean([expected(q, c, k) for k in conds]) for q, c in pairs]
    assert res.items == pytest.approx(items)
    assert res.score == pytest.approx(np.mean(items))
    effect = np.mean(
        [expected(q, c, "image+unnamed") - expected(q, c, "text+unnamed") for q, c in pairs]
    )
    assert res.metrics["image_effect[unnamed]"] == pytest.approx(effect)
    assert res.metrics["image_effect[unnamed]"] > res.metrics["image_effect[named]"] > 0
    th = np.mean([expected(q, "TH", "text+named") for q in ("q0", "q1")])
    assert res.groups["country[text+named]"]["TH"]["score"] == pytest.approx(th)
    assert set(res.groups["topic"]) == {"unassigned"}
    # TH's two pictures come from two income bins (round robin from the lowest); VN has one.
    assert set(res.groups["income_bin[image+named]"]) == {"0-200", "685-1997", "201-684"}  # VN: 300
    # Skips: VN missing from q1; TH's q2 shares do not match 3 options; the broken row.
    assert res.skipped == {
        "country missing from selections": 1,
        "options do not match selections (count)": 1,
        "question: selections is not a defaultdict/dict literal of share lists": 1,
    }
    texts = [t for t, _, _ in model.calls]
    assert sum("from Thailand " in t for t in texts) == 2 * 2 + 2  # image (2 pictures) + text
    assert all(letters == ["A", "B", "C", "D"][: len(letters)] for _, _, letters in model.calls)
    recs = [json.loads(line) for line in open(tmp_path / "details.jsonl", encoding="utf-8")]
    assert {r["condition"] for r in recs} == set(conds)
    assert any("A. w\nB. x\nC. y\nD. z" in r["prompt"] for r in recs)


def test_score_condition_topics_and_sources(tmp_path):
    topics = tmp_path / "topics.json"
    topics.write_text(json.dumps({"Question q0?": "religion", "goqa-1": "economy"}))
    path = write_goqa(tmp_path / "goqa", goqa_rows())
    model = FakeChat(
        {(f"Question {q}?", c): s for q, by_c in SHARES.items() for c, s in by_c.items()}
    )
    ev = build("evaluators", "value-alignment", {
        "dataset_params": {"path": path, "topics": str(topics), "sources": ["WVS"]},
        "score_condition": "text+named", "n_boot": 200,
    })  # fmt: skip
    res = ev.evaluate(model, ctx(), "train")
    assert set(res.groups["condition"]) == {"text+named", "text+unnamed"}  # no picture set
    assert res.n == 3  # q0 TH, VN; q2 VN (q1 is a GAS question)
    assert res.score == pytest.approx(
        np.mean(
            [
                expected("q0", "TH", "text+named"),
                expected("q0", "VN", "text+named"),
                expected("q2", "VN", "text+named"),
            ]
        )  # fmt: skip
    )
    assert set(res.groups["topic"]) == {"religion", "unassigned"}
    assert "image_effect[named]" not in res.metrics


def test_rest_countries_and_bad_model_answers(tmp_path):
    path = write_goqa(tmp_path / "goqa", goqa_rows())
    model = FakeChat({}, bad_letters=("Question q1?",))
    ev = build("evaluators", "value-alignment",
               {"dataset_params": {"path": path}, "countries": "rest", "n_boot": 200})  # fmt: skip
    res = ev.evaluate(model, ctx(), "train")
    assert set(res.groups["country"]) == {"US"}  # GB's question got the wrong number of scores
    assert res.skipped["model answer: scores do not match the letters offered"] == 1
    assert res.skipped["country: name not known"] == 1  # Atlantis


def test_validation_and_test_split_questions(tmp_path):
    path = write_goqa(tmp_path / "goqa", goqa_rows())
    loader = build("datasets", "global-opinions", {"path": path, "validation_share": 0.5})
    val = {json.loads(m)["question_id"] for m in loader.load(ctx(), "validation")["meta"]}
    test = {json.loads(m)["question_id"] for m in loader.load(ctx(), "test")["meta"]}
    assert val and test and not val & test
    assert len(val | test) == len(goqa_rows())


def test_pack_benchmark_params_build():
    from regionadapt_plugins.culture_eval.values import ValueAlignment

    from regionadapt.packs import get_pack

    pack = get_pack("sea")
    bench = next(b for b in pack.benchmarks if b.task == "values")
    params = ValueAlignment.pack_params(bench, pack)
    assert params["dataset_params"] == {"hub_id": "Anthropic/llm_global_opinions"}
    assert params["countries"] == ("pack" if bench.role == "regional" else "rest")
    build("evaluators", "value-alignment", params)  # validates
    other = next(b for b in pack.benchmarks if b.task != "values")
    assert ValueAlignment.pack_params(other, pack) is None


def test_init_writes_the_packs_values_benchmark():
    from regionadapt.init_template import pack_benchmarks
    from regionadapt.packs import get_pack

    text = pack_benchmarks(get_pack("sea"), "lvlm")
    entry = text.split('name = "globalopinionqa-sea"', 1)[1].split("\n\n", 1)[0]
    assert 'evaluator = "value-alignment"' in entry and 'countries = "pack"' in entry


def test_local_copy_with_its_own_splits(tmp_path):
    import datasets

    dd = datasets.DatasetDict({
        "test": datasets.Dataset.from_list(goqa_rows()[:2]),
        "validation": datasets.Dataset.from_list(goqa_rows()[2:3]),
    })  # fmt: skip
    dd.save_to_disk(str(tmp_path / "dd"))
    loader = build("datasets", "global-opinions", {"path": str(tmp_path / "dd")})
    assert set(loader.load(ctx(), "test")["text"]) == {"Question q0?", "Question q1?"}
    assert set(loader.load(ctx(), "validation")["text"]) == {"Question q2?"}


def test_broken_pictures_are_counted(tmp_path):
    rows = [
        {"id": "th0", "image": png(COLOURS["TH"]), "country": "TH", "label": "home"},
        {"id": "vn0", "image": png(COLOURS["VN"])[:20], "country": "VN", "label": "home"},
    ]  # fmt: skip
    images = {"dataset": "local-benchmark",
              "dataset_params": {"path": save_schema(tmp_path / "im", rows)}}  # fmt: skip
    path = write_goqa(tmp_path / "goqa", goqa_rows())
    ev = build("evaluators", "value-alignment",
               {"dataset_params": {"path": path}, "images": images, "n_boot": 200})  # fmt: skip
    res = ev.evaluate(FakeChat({}), ctx(), "train")
    assert res.skipped["unreadable picture"] == 1
    assert res.skipped["no image for country"] == 2  # VN's q0 and q2
    assert set(res.groups["country"]) == {"TH"}


def test_docs_examples_build():
    """The config examples in docs/culture-evaluation.md validate (docs cannot drift)."""
    import re
    from pathlib import Path

    import tomllib

    from regionadapt.config import BenchmarkRef

    page = Path(__file__).parents[1] / "docs" / "culture-evaluation.md"
    blocks = re.findall(r"```toml\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
    refs = [BenchmarkRef.model_validate(b) for block in blocks
            for b in tomllib.loads(block)["lvlm"]["evaluate"]["benchmarks"]]  # fmt: skip
    assert {r.evaluator for r in refs} == {"value-alignment", "caption-metrics"}
    for r in refs:
        build("evaluators", r.evaluator, r.params)
