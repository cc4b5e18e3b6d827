"""Chat evaluators: multiple choice by option log-likelihood or generation, open VQA, the
VLMEvalKit TSV loader; skipped rows counted by reason; per-item scores for the bootstrap."""

from __future__ import annotations

import base64
import json

import lvlm_tiny as K
import pytest
from data_kit import make_ctx

pytest.importorskip("datasets")

from regionadapt_plugins.chat_eval.matching import match_option, normalise  # noqa: E402

from regionadapt.components import benchmark_features, build  # noqa: E402
from regionadapt.handles import ChatModel  # noqa: E402

RED, GREEN = (200, 40, 40), (60, 180, 60)


class Fake:
    """A ChatModel whose choices are known: it prefers the shortest option (loglik) and replies
    with a queued text (generate)."""

    def __init__(self, replies=None):
        self.replies = list(replies or [])
        self.calls = []

    def option_logprobs(self, prompts, options, *, normalize="mean", batch_size=8):
        self.calls.append(("loglik", normalize, [p.text for p in prompts], options))
        return [[-float(len(o)) for o in opts] for opts in options]

    def generate(self, prompts, *, max_new_tokens=64, batch_size=8):
        self.calls.append(("generate", [p.text for p in prompts]))
        return [self.replies[i % len(self.replies)] for i in range(len(prompts))]


def _bench(tmp_path, rows):
    import datasets

    full = []
    for i, r in enumerate(rows):
        rec = {"id": f"q{i}", "image": K.png(RED), "text": "which dish is this", "options": [],
               "answer": -1, "label": "", "reference": "", "country": "TH", "lang": "tha",
               "meta": json.dumps({"category": "food"})}  # fmt: skip
        rec.update(r)
        full.append(rec)
    out = tmp_path / "bench"
    datasets.Dataset.from_list(full, features=benchmark_features()).save_to_disk(str(out))
    return str(out)


MC_ROWS = [
    {"options": ["som tam", "rice", "pho bo"], "answer": 1},  # shortest is right
    {"options": ["som tam", "tea", "nasi lemak"], "answer": 0, "country": "ID", "lang": "ind"},
    {"options": ["rice", "nasi lemak"], "answer": 0, "meta": json.dumps({"category": "dress"})},
    {"options": ["rice", "tea"], "answer": 5},  # answer not among options
    {"options": ["rice"], "answer": 0},  # one option
    {"options": ["rice", "tea"], "answer": 1, "image": None},  # no image
    {"options": ["rice", "tea"], "answer": 1, "image": b"\x89PNG broken"},
]


def test_fake_is_a_chat_model():
    assert isinstance(Fake(), ChatModel)


def test_multiple_choice_loglik_counts_and_groups(tmp_path):
    path = _bench(tmp_path, MC_ROWS)
    ev = build("evaluators", "vqa-multiple-choice",
               {"dataset": "local-benchmark", "dataset_params": {"path": path}})  # fmt: skip
    fake = Fake()
    res = ev.evaluate(fake, make_ctx(tmp_path), "test")
    res.check("mc")
    assert res.n == 3 and res.items == [1.0, 0.0, 1.0]
    assert res.score == pytest.approx(2 / 3)
    assert res.skipped == {"answer is not among the options": 1, "fewer than 2 options": 1,
                           "missing image": 1, "unreadable image": 1}  # fmt: skip
    assert res.metrics["length_normalised"] == 1.0
    assert res.groups["country"] == {"ID": {"score": 0.0, "n": 1}, "TH": {"score": 1.0, "n": 2}}
    assert res.groups["category"]["dress"] == {"score": 1.0, "n": 1}
    assert fake.calls[0][1] == "mean"
    ev = build("evaluators", "vqa-multiple-choice", {"dataset": "local-benchmark",
               "dataset_params": {"path": path}, "normalize": "sum", "slice": "countries"})  # fmt: skip
    res = ev.evaluate(fake, make_ctx(tmp_path), "test")
    assert res.metrics["length_normalised"] == 0.0 and fake.calls[-1][1] == "sum"


def test_multiple_choice_generate_parses_letters_and_texts(tmp_path):
    path = _bench(tmp_path, MC_ROWS[:3])
    ev = build("evaluators", "vqa-multiple-choice", {"dataset": "local-benchmark",
               "dataset_params": {"path": path}, "method": "generate"})  # fmt: skip
    fake = Fake(["B", "som tam", "I am not sure"])
    res = ev.evaluate(fake, make_ctx(tmp_path), "test")
    assert res.items == [1.0, 1.0, 0.0] and res.metrics["unmatched_replies"] == 1.0
    asked = fake.calls[0][1][0]
    assert "A. som tam\nB. rice\nC. pho bo" in asked and "letter" in asked


def test_classification_rows_become_multiple_choice(tmp_path):
    rows = [{"label": name, "text": ""} for name in ("rice", "tea", "som tam", "pho bo")]
    path = _bench(tmp_path, rows)
    ev = build("evaluators", "vqa-multiple-choice", {"dataset": "local-benchmark",
               "dataset_params": {"path": path}, "options_from_labels": 3})  # fmt: skip
    fake = Fake()
    res = ev.evaluate(fake, make_ctx(tmp_path), "test")
    assert res.n == 4 and not res.skipped
    assert fake.calls[0][2] == ["What is shown in this image?"] * 4
    asked = fake.calls[0][3]
    labels = ["rice", "tea", "som tam", "pho bo"]
    assert all(len(set(o)) == 3 and lab in o for o, lab in zip(asked, labels, strict=True))
    # the fake picks the shortest name: right exactly when that is the row's label
    want = [float(min(o, key=len) == lab) for o, lab in zip(asked, labels, strict=True)]
    assert res.items == want
    again = Fake()
    ev.evaluate(again, make_ctx(tmp_path), "test")
    assert again.calls[0][3] == asked  # seeded per item: the same options every run


def test_match_option_and_normalise():
    opts = ["som tam", "rice", "pho bo"]
    assert match_option("B", opts) == 1
    assert match_option("(c) pho bo", opts) == 2
    assert match_option("It is Rice.", opts) == 1
    assert match_option("som tam or rice", opts) is None
    assert match_option("E", opts) is None
    assert normalise("  The Rice!! ") == "rice"
    assert normalise("ต้มยำ") == "ต้มยำ"


def test_open_vqa_exact_and_normalised(tmp_path):
    rows = [{"reference": "rice"}, {"reference": "som tam"}, {"reference": ""}]
    path = _bench(tmp_path, rows)
    ev = build("evaluators", "vqa-open", {"dataset": "local-benchmark",
                                          "dataset_params": {"path": path}})  # fmt: skip
    res = ev.evaluate(Fake(["The rice.", "som tam"]), make_ctx(tmp_path), "test")
    res.check("open")
    assert res.items == [1.0, 1.0] and res.skipped == {"no reference": 1}
    assert res.metrics["exact_match"] == 0.5 and res.score == 1.0


def _tsv(tmp_path, rows):
    cols = ["index", "image", "question", "hint", "A", "B", "C", "D", "answer", "category"]
    lines = ["\t".join(cols)] + ["\t".join(str(r.get(c, "")) for c in cols) for r in rows]
    path = tmp_path / "bench.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_vlmevalkit_tsv_reads_as_multiple_choice(tmp_path):
    b64 = base64.b64encode(K.png(GREEN)).decode()
    path = _tsv(tmp_path, [
        {"index": 10, "image": b64, "question": "Which dish?", "A": "som tam", "B": "rice",
         "C": "tea", "answer": "C", "category": "food"},
        {"index": 11, "image": "10", "question": "And this?", "hint": "street food",
         "A": "pho bo", "B": "tea", "answer": "b", "category": "food"},
        {"index": 12, "image": b64, "question": "Q", "A": "x", "B": "y", "C": "z",
         "answer": "E"},
        {"index": 13, "image": "", "question": "Q", "A": "x", "B": "y", "answer": "A"},
    ])  # fmt: skip
    ds = build("datasets", "vlmevalkit-tsv", {"path": str(path), "country": "TH"}).load(
        make_ctx(tmp_path), "test"
    )
    assert ds["options"][0] == ["som tam", "rice", "tea"] and ds["answer"][:3] == [2, 1, -1]
    assert ds["image"][1] == ds["image"][0] == K.png(GREEN)  # the repeated image resolved
    assert ds["text"][1] == "Hint: street food\nAnd this?"
    assert json.loads(ds["meta"][0]) == {"category": "food"} and ds["country"][0] == "TH"
    ev = build("evaluators", "vqa-multiple-choice", {"dataset": "vlmevalkit-tsv",
               "dataset_params": {"path": str(path)}})  # fmt: skip
    res = ev.evaluate(Fake(), make_ctx(tmp_path), "test")
    assert res.n == 2 and res.items == [1.0, 1.0]
    assert res.skipped == {"answer is not among the options": 1, "missing image": 1}


def test_tsv_with_wrong_columns_is_refused(tmp_path):
    from regionadapt.errors import ConfigError

    bad = tmp_path / "bad.tsv"
    bad.write_text("a\tb\n1\t2\n")
    with pytest.raises(ConfigError, match="expected VLMEvalKit TSV columns"):
        build("datasets", "vlmevalkit-tsv", {"path": str(bad)}).load(make_ctx(tmp_path), "t")


def test_multiple_choice_on_a_real_tiny_model(tmp_path):
    """The evaluator through the real handle: a score in [0, 1] whose items average to it, and
    mean vs sum normalisation giving the choices their log-likelihoods imply."""
    torch = pytest.importorskip("torch")
    from regionadapt_plugins.chat_backend.backend import load_handle

    torch.set_num_threads(1)
    handle = load_handle(K.build_llava(tmp_path / "m"))
    path = _bench(tmp_path, MC_ROWS[:3])
    for norm in ("mean", "sum"):
        ev = build("evaluators", "vqa-multiple-choice", {"dataset": "local-benchmark",
                   "dataset_params": {"path": path}, "normalize": norm})  # fmt: skip
        res = ev.evaluate(handle, make_ctx(tmp_path), "test")
        res.check("tiny")
        from regionadapt.handles import ChatPrompt

        scores = handle.option_logprobs(
            [ChatPrompt("which dish is this", [K.image(RED)])] * 3,
            [r["options"] for r in MC_ROWS[:3]], normalize=norm)  # fmt: skip
        want = [float(max(range(len(s)), key=s.__getitem__) == r["answer"])
                for s, r in zip(scores, MC_ROWS[:3], strict=True)]  # fmt: skip
        assert res.items == want


def test_rows_are_read_once_per_split(tmp_path, monkeypatch):
    import regionadapt_plugins.chat_eval.common as common

    calls = []
    real = common.load_rows

    def counting(p, ctx, split, who):
        calls.append(split)
        return real(p, ctx, split, who)

    monkeypatch.setattr(common, "load_rows", counting)
    path = _bench(tmp_path, MC_ROWS[:3])
    ev = build("evaluators", "vqa-multiple-choice",
               {"dataset": "local-benchmark", "dataset_params": {"path": path}})  # fmt: skip
    ctx = make_ctx(tmp_path)
    first = [ev.evaluate(Fake(), ctx, "test").items for _ in range(3)]
    assert calls == ["test"] and first[0] == first[1] == first[2]
    ev.evaluate(Fake(), ctx, "validation")
    assert calls == ["test", "validation"]
