"""WorldCuisines (``worldcuisines/vqa`` + its food KB): the published columns (a generated
stand-in, hub off) read through the loader's hub path as multiple choice, with country from
the KB, per language and category, validation and test disjoint by dish."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from embedding_eval_helpers import ctx, make_pack

pytest.importorskip("datasets")

from regionadapt_plugins.benchmarks.worldcuisines import parse_prompt, url_file, wc_lang  # noqa: E402

from regionadapt.components import BENCHMARK_FIELDS, build  # noqa: E402
from regionadapt.errors import ConfigError  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "benchmarks"))
import make  # noqa: E402

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}


class ColourChat:
    """A ChatModel that sees a picture's colour and prefers the option naming it."""

    def option_logprobs(self, prompts, options, *, normalize="mean", batch_size=8):
        out = []
        for p, opts in zip(prompts, options, strict=True):
            mean = np.asarray(p.images[0], dtype=float).reshape(-1, 3).mean(0)
            colour = min(COLOURS, key=lambda c: ((np.array(COLOURS[c]) - mean) ** 2).sum())
            out.append([0.0 if o.startswith(colour) else -5.0 for o in opts])
        return out

    def generate(self, prompts, *, max_new_tokens=64, batch_size=8):
        return ["1" for _ in prompts]


@pytest.fixture(scope="module")
def wc(tmp_path_factory):
    return make.worldcuisines(tmp_path_factory.mktemp("wc"))


def params(root, **kw):
    return {"path": str(root / "vqa"), "kb_path": str(root / "kb"), **kw}


def load(root, split="test", **kw):
    return build("datasets", "worldcuisines", params(root, **kw)).load(ctx(), split)


def test_prompt_parsing_language_tags_and_file_names():
    q, opts = parse_prompt("Name?\n1. a b\n2. c\n3. d\n\nPrint only the answer (1,2,3).")
    assert (q, opts) == ("Name?", ["a b", "c", "d"])
    assert parse_prompt("Name?\n2. x\n3. y") == ("Name?\n2. x\n3. y", [])  # must start at 1
    assert [wc_lang(t) for t in ["th", "id_formal", "jv_krama", "zh_cn", "sc", "nan_spoken", "xx"]] == [
        "tha", "ind", "jav", "zho", "srd", "nan", ""]  # fmt: skip
    assert url_file("https://x.org/a/B%C3%A1nh_x.jpg?download") == "Bánh_x.jpg"


def test_rows_map_to_multiple_choice_with_kb_country(wc):
    ds = load(wc, "test_large")  # a published split: read whole
    assert set(ds.column_names) == set(BENCHMARK_FIELDS) and len(ds) == 9
    first = ds[0]
    assert first["text"] == "What is this dish called?"  # the instruction is not the question
    assert first["options"] == ["red rice", "green salad", "blue cheese", "plain bread", "tea"]
    assert (first["answer"], first["country"], first["lang"]) == (0, "ID", "eng")
    by_id = {r["id"]: r for r in ds}
    multi = by_id["task1-test_large-3-zh_cn"]
    assert (multi["country"], multi["lang"]) == ("MY", "zho")  # the first of two countries
    assert '"countries": ["Malaysia", "Singapore"]' in multi["meta"]
    assert '"category": "1c. dish name (adversarial)"' in multi["meta"]
    # Index naming another option than the answer text; a picture missing from the KB;
    # a prompt without options: kept, marked, and counted by the evaluator below.
    assert by_id["task1-test_large-90-en"]["answer"] == -1
    gone = by_id["task1-test_large-91-id_formal"]
    assert gone["image"] is None and gone["country"] == ""
    assert by_id["task1-test_large-92-th"]["options"] == []
    assert len(load(wc, "test_small")) == 3


def test_validation_and_test_are_disjoint_dishes(wc):
    val, test = load(wc, "validation"), load(wc, "test")
    food = lambda ds: {m.split('"food_id": "')[1].split('"')[0] for m in ds["meta"]}  # noqa: E731
    assert food(val) and food(test) and not food(val) & food(test)
    assert len(val) + len(test) == 9
    with pytest.raises(ConfigError, match="no split 'dev'"):
        load(wc, "dev")
    assert set(load(wc, "test", languages=["th", "eng"])["lang"]) == {"tha", "eng"}


def test_evaluator_scores_per_country_language_category(wc):
    ev = build("evaluators", "vqa-multiple-choice",
               {"dataset": "worldcuisines", "dataset_params": params(wc, subset="test_large")})  # fmt: skip
    c = ctx(make_pack(("ID", "TH", "MY", "VN", "SG")))
    res = ev.evaluate(ColourChat(), c, "test_large")
    res.check("worldcuisines")
    assert res.skipped == {"answer is not among the options": 1, "fewer than 2 options": 1,
                           "missing image": 1}  # fmt: skip
    assert res.n == 6 and res.score == 1.0
    assert set(res.groups["country"]) == {"ID", "TH", "IT", "MY", "VN", "JP"}
    assert res.groups["lang"]["srd"]["n"] == 1
    assert "2. regional cuisine" in res.groups["category"]
    sliced = build("evaluators", "vqa-multiple-choice",
                   {"dataset": "worldcuisines", "dataset_params": params(wc),
                    "slice": "countries"}).evaluate(ColourChat(), c, "test_large")  # fmt: skip
    assert sliced.n == 4 and sliced.metrics["n_outside_slice"] == 2  # Italy, Japan


def test_kb_without_countries_is_refused(wc, tmp_path):
    import datasets

    kb = datasets.load_from_disk(str(wc / "kb"))["main"].remove_columns(["Countries"])
    datasets.DatasetDict(main=kb).save_to_disk(str(tmp_path / "kb"))
    with pytest.raises(ConfigError, match="no 'Countries' column"):
        build("datasets", "worldcuisines",
              {"path": str(wc / "vqa"), "kb_path": str(tmp_path / "kb")}).load(ctx(), "test")  # fmt: skip


def test_pictures_from_a_download_folder(wc, tmp_path):
    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "0-red_dish.jpg").write_bytes(make.png("red"))
    ds = load(wc, "test_large", image_root=str(tmp_path / "pics"))
    have = {r["id"] for r in ds if r["image"] is not None}
    assert have == {"task1-test_large-0-en", "task1-test_large-90-en"}  # the one file given


def test_init_writes_the_sea_packs_worldcuisines_entries():
    from regionadapt.init_template import pack_benchmarks
    from regionadapt.packs import get_pack

    text = pack_benchmarks(get_pack("sea"), "lvlm")
    regional = text.split('name = "worldcuisines-sea"', 1)[1].split("[[", 1)[0]
    assert 'dataset = "worldcuisines"' in regional and 'slice = "countries"' in regional
    assert 'hub_id = "worldcuisines/vqa"' in regional and 'role = "regional"' in regional
    assert 'name = "worldcuisines"\nrole = "global"' in text


def test_label_rows_become_multiple_choice_for_chat_models(tmp_path):
    # MaRVL rows are classification (a concept, no options): init gives the chat evaluator
    # options_from_labels, without which every row would be skipped.
    from regionadapt.init_template import pack_benchmarks
    from regionadapt.packs import get_pack

    text = pack_benchmarks(get_pack("sea"), "lvlm")
    marvl = text.split('# name = "marvl"', 1)[1].split("\n\n", 1)[0]
    assert "options_from_labels = 4" in marvl
    assert "options_from_labels" not in text.split('name = "worldcuisines-sea"', 1)[1][:300]
    path = make.marvl(tmp_path / "m")
    base = {"dataset": "marvl", "dataset_params": {"path": str(path), "languages": ["id", "sw"]}}
    c = ctx(make_pack(("ID",)))
    bare = build("evaluators", "vqa-multiple-choice", base).evaluate(ColourChat(), c, "test")
    assert bare.n == 0 and bare.skipped == {"fewer than 2 options": 4}
    res = build("evaluators", "vqa-multiple-choice", {**base, "options_from_labels": 4}).evaluate(
        ColourChat(), c, "test"
    )
    assert res.n == 4 and res.score == 1.0 and res.metrics["chance"] == 0.5  # 2 concepts
