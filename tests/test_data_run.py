"""run_collect / run_filters / explain end to end: every item is accounted for."""

from __future__ import annotations

import json

import datasets
import pytest
from data_kit import ListCollector, image_bytes, make_ctx

from regionadapt.components import build
from regionadapt.data import Skip, explain, run_collect, run_filters
from regionadapt.data.explain import list_ids
from regionadapt.errors import StageError
from regionadapt.samples import features, new_sample


def _pool() -> list:
    good = image_bytes(64, 64)
    return [
        new_sample(
            id="th1",
            text="ฉันชอบกินต้มยำกุ้งมาก",
            country="TH",
            lang="tha",
            image=good,
            meta={"category": "food", "lexicon_id": "tom-yum"},
        ),
        new_sample(
            id="id1",
            text="Rendang daging sapi yang dimasak dengan santan dan rempah",
            country="ID",
            lang="ind",
            image=image_bytes(64, 64, pattern=3),
            meta={"category": "food"},
        ),
        new_sample(id="fr1", text="Une tarte aux pommes sur une table", country="FR", image=good),
        new_sample(id="en1", text="A bowl of rendang on a wooden table", country="ID", image=good),
        new_sample(
            id="id2",
            text="Seorang ibu sedang memasak nasi di dapur rumahnya",
            country="ID",
            image=good,
        ),
        new_sample(
            id="bad-img",
            text="Sate ayam dibakar di atas arang yang menyala",
            country="ID",
            image=b"\x89PNG\r\n\x1a\n broken",
        ),
        Skip("image-unreadable", "disk/x.jpg", "cannot identify image"),
        {"id": "u1", "text": b"\xff\xfe caption", "image": good},  # undecodable text
        {"text": "no id here"},  # missing field
        {"id": "junk", "colour": "red"},  # unknown field
        "not even a dict",
    ]


def _collect(tmp_path, items=None, extra_sources=()):
    ctx = make_ctx(tmp_path)
    sources = [(ListCollector(_pool() if items is None else items), "pool"), *extra_sources]
    return ctx, run_collect(sources, ctx, tmp_path / "collect")


def test_collect_counts_every_item(tmp_path):
    boom = ListCollector(
        [new_sample(id="late", text="x")], fail_after=ConnectionError("host unreachable")
    )
    dup = ListCollector([new_sample(id="th1", text="again")])
    ctx, stats = _collect(tmp_path, extra_sources=[(boom, "remote"), (dup, "dup")])
    pool = stats["sources"]["pool"]
    assert pool["read"] == 11 and pool["written"] == 6 and pool["skipped"] == 5
    assert pool["reasons"] == {
        "image-unreadable": 1,
        "undecodable-text": 1,
        "missing-field": 1,
        "bad-sample": 2,
    }
    remote = stats["sources"]["remote"]
    assert remote["written"] == 1 and "host unreachable" in remote["error"]
    assert stats["sources"]["dup"]["reasons"] == {"duplicate-id": 1}
    t = stats["total"]
    assert t["read"] == t["written"] + t["skipped"] == 13
    assert t["sources_failed"] == ["remote"]
    ds = datasets.load_from_disk(str(tmp_path / "collect" / "dataset"))
    assert len(ds) == t["written"]
    assert ds.features == features()
    assert set(ds["source"]) == {"pool", "remote"}
    assert json.loads((tmp_path / "collect" / "stats.json").read_text())["total"] == t


def _chain():
    return [build("filters", "quality"), build("filters", "region"), build("filters", "language"),
            build("filters", "lexicon")]  # fmt: skip


def test_filters_end_to_end_and_explain(tmp_path):
    ctx, _ = _collect(tmp_path)
    out = tmp_path / "filter"
    stats = run_filters(tmp_path / "collect" / "dataset", _chain(), ctx, out)
    assert stats["read"] == 6 and stats["kept"] + stats["dropped"] == stats["read"]
    kept = datasets.load_from_disk(str(out / "kept"))
    dropped = datasets.load_from_disk(str(out / "dropped"))
    assert sorted(kept["id"]) == ["id1", "th1"]
    why = {
        i: (b, r)
        for i, b, r in zip(*(dropped[c] for c in ("id", "dropped_by", "reason")), strict=True)
    }
    assert why["bad-img"][0] == "quality" and why["bad-img"][1].startswith("image-")
    assert why["fr1"][0] == "region" and why["fr1"][1].startswith("country-not-in-pack: FR")
    assert why["en1"][0] == "language" and "eng" in why["en1"][1]
    assert why["id2"][0] == "lexicon"
    # per-filter stats chain: each filter sees what the previous one kept
    f = stats["filters"]
    assert f["quality"]["seen"] == 6 and f["quality"]["dropped"] == 1
    assert f["region"]["seen"] == 5 and f["region"]["reasons"] == {"country-not-in-pack": 1}
    assert f["language"]["seen"] == 4 and f["lexicon"]["seen"] == 3 and f["lexicon"]["kept"] == 2
    assert stats["by_country"]["ID"] == {"read": 4, "kept": 1, "dropped": 3}
    assert stats["by_category"]["food"]["kept"] == 2
    assert sum(stats["by_reason"].values()) == stats["dropped"]
    assert "kept" in explain(out, "th1") and "lexicon" in explain(out, "th1")
    assert "dropped by filter 'region'" in explain(out, "fr1") and "FR" in explain(out, "fr1")
    with pytest.raises(StageError, match="not among the 6 samples"):
        explain(out, "nope")
    with pytest.raises(StageError, match="closest: th1"):
        explain(out, "th2")
    listed = list_ids(out, "*1")
    assert listed.splitlines()[0] == "4 sample(s) match '*1': 2 kept, 2 dropped"
    assert "  fr1  dropped by region: country-not-in-pack: FR" in listed
    assert "... and 2 more" in list_ids(out, "*", limit=4)
    with pytest.raises(StageError, match="no sample id matches"):
        list_ids(out, "zz*")
    with pytest.raises(StageError):
        explain(tmp_path / "elsewhere", "th1")


def test_workers_give_the_same_result(tmp_path):
    items = []
    for i in range(40):
        text = ["Rendang daging sapi yang lezat sekali", "A plain bowl of soup on a table",
                "ฉันชอบกินต้มยำกุ้งมาก"][i % 3]  # fmt: skip
        items.append(new_sample(id=f"s{i:03d}", text=text, country=["ID", "FR", "TH", ""][i % 4],
                                image=image_bytes(40, 40)))  # fmt: skip
    ctx, _ = _collect(tmp_path, items)
    one = run_filters(tmp_path / "collect" / "dataset", _chain()[1:], ctx, tmp_path / "f1")
    two = run_filters(
        tmp_path / "collect" / "dataset", _chain()[1:], ctx, tmp_path / "f2", workers=2
    )
    k1 = datasets.load_from_disk(str(tmp_path / "f1" / "kept"))["id"]
    k2 = datasets.load_from_disk(str(tmp_path / "f2" / "kept"))["id"]
    assert k1 == k2 and len(k1) > 0
    assert one["filters"] == two["filters"]


def test_filter_errors_become_reasons_not_crashes(tmp_path):
    from regionadapt.components import Filter

    class Picky(Filter):
        name = "picky"

        def keep(self, sample):
            if sample["id"] == "id2":
                raise RuntimeError("cannot handle this one")
            return True

    ctx, _ = _collect(tmp_path)
    stats = run_filters(tmp_path / "collect" / "dataset", [Picky()], ctx, tmp_path / "f")
    assert stats["filters"]["picky"]["reasons"] == {"filter-error": 1}
    assert "cannot handle this one" in explain(tmp_path / "f", "id2")
    assert stats["kept"] == 5


def test_collect_does_not_modify_input_and_empty_dataset(tmp_path):
    from regionadapt.rundir import hash_tree

    ctx, _ = _collect(tmp_path)
    before = hash_tree(tmp_path / "collect")
    run_filters(tmp_path / "collect" / "dataset", _chain(), ctx, tmp_path / "f", workers=2)
    assert hash_tree(tmp_path / "collect") == before  # no cache files written into the input
    (tmp_path / "empty").mkdir()
    ctx2, stats = _collect(tmp_path / "empty", items=[])
    assert stats["total"]["written"] == 0
    st = run_filters(tmp_path / "empty" / "collect" / "dataset", _chain(), ctx2, tmp_path / "f0")
    assert st["read"] == st["kept"] == 0
