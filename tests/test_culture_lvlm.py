"""The culture evaluators on a real (tiny, random) LLaVA loaded through the chat backend's
handle: what they report equals what the handle returns when asked directly."""

from __future__ import annotations

import json

import lvlm_tiny as K
import numpy as np
import pytest
from culture_kit import ctx, write_goqa
from test_culture_captions import caption_bench
from test_culture_values import goqa_rows, image_set

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from regionadapt_plugins.chat_backend import model as M  # noqa: E402
from regionadapt_plugins.chat_backend.handle import TransformersChatModel  # noqa: E402
from regionadapt_plugins.culture_eval.alignment import letter_distribution  # noqa: E402
from regionadapt_plugins.culture_eval.alignment import similarity as sim  # noqa: E402

from regionadapt.components import build  # noqa: E402
from regionadapt.handles import ChatModel, ChatPrompt  # noqa: E402


@pytest.fixture(scope="module")
def llava(tmp_path_factory):
    torch.set_num_threads(1)
    folder = K.build("llava", tmp_path_factory.mktemp("llava"))
    handle = TransformersChatModel(M.load_model(folder), M.load_processor(folder), str(folder))
    assert isinstance(handle, ChatModel)
    return handle


def test_value_alignment_on_tiny_llava(llava, tmp_path):
    from regionadapt.data.images import to_pil

    path = write_goqa(tmp_path / "goqa", goqa_rows())
    images = image_set(tmp_path)
    details = tmp_path / "details.jsonl"
    ev = build("evaluators", "value-alignment", {
        "dataset_params": {"path": path}, "images": images, "n_boot": 200,
        "details": str(details),
    })  # fmt: skip
    res = ev.evaluate(llava, ctx(), "train")
    res.check("value-alignment")
    assert res.n == 4 and len(res.groups["condition"]) == 4
    recs = [json.loads(x) for x in open(details, encoding="utf-8")]
    pictures = {r["id"]: to_pil(r["image"]).convert("RGB") for r in _image_rows(images)}
    for r in recs[:6]:  # the handle asked directly gives the same distribution
        imgs = [pictures[r["image"]]] if r["image"] else []
        letters = [chr(65 + k) for k in range(len(r["human"]))]
        lp = llava.option_logprobs([ChatPrompt(r["prompt"], imgs)], [letters], normalize="sum")[0]
        p = letter_distribution(lp)
        assert p == pytest.approx(r["model"], abs=1e-5)
        assert r["similarity"] == pytest.approx(sim(p, r["human"]), abs=1e-5)
    # A picture changes the answer distribution of the same text.
    by = {(r["question_id"], r["country"], r["condition"]): r["model"] for r in recs}
    a, b = by[("goqa-0", "VN", "image+unnamed")], by[("goqa-0", "VN", "text+unnamed")]
    assert not np.allclose(a, b, atol=1e-6)


def _image_rows(images):
    import datasets

    return datasets.load_from_disk(images["dataset_params"]["path"])


def test_caption_metrics_on_tiny_llava(llava, tmp_path):
    details = tmp_path / "captions.jsonl"
    ev = build("evaluators", "caption-metrics", {
        "dataset": "local-benchmark", "dataset_params": {"path": caption_bench(tmp_path)},
        "max_new_tokens": 8, "details": str(details),
    })  # fmt: skip
    res = ev.evaluate(llava, ctx(), "test")
    res.check("caption-metrics")
    recs = [json.loads(x) for x in open(details, encoding="utf-8")]
    n_empty = res.skipped.get("empty caption", 0)
    assert len(recs) + n_empty == 4  # the rows with a reference and a language
    assert res.metrics["n_captions"] == len(recs)
