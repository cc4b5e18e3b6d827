"""Retrieval evaluator: recall@k both directions per language, with captions whose right
image is known (the oracle model), bad rows skipped and counted."""

from __future__ import annotations

import pytest
from embedding_eval_helpers import OracleHandle, ctx, png, save_benchmark

from regionadapt.components import build

GALLERY = ["red", "green", "blue", "yellow"]
COUNTRY = {"red": "TH", "green": "TH", "blue": "VN", "yellow": "VN"}
# In Vietnamese every caption names another gallery colour (a derangement): all misses at @1.
SHIFTED = {c: GALLERY[(k + 1) % len(GALLERY)] for k, c in enumerate(GALLERY)}


def caption_rows() -> list[dict]:
    rows = []
    for c in GALLERY:
        base = {"image": png(c), "country": COUNTRY[c]}
        rows.append({**base, "id": f"{c}-tha", "text": f"a {c} thing", "lang": "tha"})
        rows.append({**base, "id": f"{c}-vie", "text": f"a {SHIFTED[c]} thing", "lang": "vie"})
    return rows


def run(tmp_path, rows, **params):
    path = save_benchmark(tmp_path / "ret", rows)
    ev = build(
        "evaluators",
        "retrieval",
        {"dataset": "local-benchmark", "dataset_params": {"path": path}, **params},
    )
    return ev.evaluate(OracleHandle(), ctx(), "test")


def test_recall_per_language_both_directions(tmp_path):
    res = run(tmp_path, caption_rows())
    tha, vie = res.groups["lang"]["tha"], res.groups["lang"]["vie"]
    assert (tha["recall@1_text_to_image"], tha["recall@1_image_to_text"], tha["n"]) == (1.0, 1.0, 4)
    assert (vie["recall@1_text_to_image"], vie["recall@1_image_to_text"], vie["n"]) == (0.0, 0.0, 4)
    # k >= gallery size: every caption and image is found.
    assert tha["recall@5_text_to_image"] == vie["recall@10_image_to_text"] == 1.0
    assert res.score == pytest.approx(0.5)
    assert res.metrics["recall@1_text_to_image"] == pytest.approx(0.5)
    assert res.metrics["worst_lang"] == 0.0
    assert res.metrics["n_images"] == len(GALLERY)  # captions of one image share one entry
    assert res.groups["country"]["TH"] == {"score": 0.5, "n": 4}
    assert res.n == 8


def test_bad_rows_are_skipped_per_reason(tmp_path):
    rows = caption_rows() + [
        {"id": "x1", "image": png("red"), "text": "a red thing", "lang": "xx"},
        {"id": "x2", "image": png("red"), "text": "", "lang": "tha"},
        {"id": "x3", "image": png("red"), "text": "a red thing", "lang": ""},
        {"id": "x4", "image": b"broken", "text": "a red thing", "lang": "tha"},
    ]
    res = run(tmp_path, rows)
    assert res.skipped == {
        "lang: unknown language code ('xx', expected ISO 639-3)": 1,
        "no text": 1,
        "lang: missing": 1,
        "unreadable image (its captions)": 1,
    }
    assert res.n == 8 and res.score == pytest.approx(0.5)


def test_image_id_groups_captions_and_without_lang_one_group(tmp_path):
    # Two byte-different files of one image id count as one gallery image.
    rows = [
        {"id": "a", "image": png("red"), "text": "red", "meta": {"image_id": "img1"}},
        {"id": "b", "image": png((221, 30, 30)), "text": "red", "meta": {"image_id": "img1"}},
        {"id": "c", "image": png("blue"), "text": "blue", "meta": {"image_id": "img2"}},
    ]
    res = run(tmp_path, rows, ks=[1], score_k=1)
    assert res.metrics["n_images"] == 2
    assert "lang" not in res.groups
    assert res.score == 1.0 and res.metrics["recall@1_image_to_text"] == 1.0
