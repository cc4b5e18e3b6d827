"""The VQAScore-style evaluator: P(Yes | Yes or No) from a chat VLM judge loaded through its
registered backend (a tiny LLaVA built in code), on images from a tiny SD pipeline."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

import lvlm_tiny  # noqa: E402
import openclip_tiny  # noqa: E402
import t2i_tiny as T  # noqa: E402
from data_kit import make_pack  # noqa: E402
from regionadapt_plugins.t2i_eval import vqa_score as V  # noqa: E402
from regionadapt_plugins.t2i_eval.clip_score import load_judge  # noqa: E402

from regionadapt.components import Context, build  # noqa: E402
from regionadapt.errors import ConfigError  # noqa: E402
from regionadapt.handles import ChatModel, ChatPrompt  # noqa: E402

torch.set_num_threads(1)


class FixedJudge:
    """A ChatModel stand-in returning given (yes, no) log-likelihoods, recording its calls."""

    def __init__(self, lps):
        self.lps, self.calls = lps, []

    def generate(self, prompts, *, max_new_tokens=64, batch_size=8):
        raise AssertionError("not used")

    def option_logprobs(self, prompts, options, *, normalize="mean", batch_size=8):
        self.calls.append((prompts, options, normalize))
        return self.lps[: len(prompts)]


def test_yes_probability_is_normalised_over_yes_and_no():
    judge = FixedJudge([[math.log(0.6), math.log(0.2)], [-1000.0, -1.0], [-3.0, -3.0]])
    img = lvlm_tiny.image()
    probs = V.yes_probabilities(judge, [img] * 3, ["a cat", "a dog", "rice"])
    assert probs == pytest.approx([0.75, 0.0, 0.5])
    prompts, options, normalize = judge.calls[0]
    assert prompts[0].text == 'Does this figure show "a cat"? Please answer yes or no.'
    assert prompts[0].images == [img] and options == [["Yes", "No"]] * 3 and normalize == "sum"


def test_vqa_score_on_a_tiny_llava_judge(tmp_path):
    pack = make_pack(tmp_path)
    llava = str(lvlm_tiny.build_llava(tmp_path / "llava"))
    gen = build("backends", "diffusers").load(T.tiny_base(tmp_path)["model"])
    ctx = Context(pack=pack, run=SimpleNamespace(root=tmp_path / "run"))
    ev = build("evaluators", "vqa-score", {"prompts": "global", "judge": llava, "limit": 4,
                                           "num_inference_steps": 2})  # fmt: skip
    res = ev.evaluate(gen, ctx, "test")
    res.check("vqa-score")
    assert res.n == 4 and res.raw_name == "VQAScore" and 0 < res.score < 1
    assert res.score == pytest.approx(sum(res.items) / 4)
    # each item is P(Yes) recomputed from the judge's own log-likelihoods on the same images
    judge = build("backends", "transformers").load(llava)
    images = gen.generate([it["text"] for it in ev.prompts(ctx, "test")], 200_000,
                          num_inference_steps=2)  # fmt: skip
    texts = [it["text"] for it in ev.prompts(ctx, "test")]
    lps = judge.option_logprobs(
        [ChatPrompt(V.QUESTION.format(text=t), [im]) for im, t in zip(images, texts)],
        [["Yes", "No"]] * 4, normalize="sum",
    )  # fmt: skip
    want = [1 / (1 + math.exp(no - yes)) for yes, no in lps]
    assert res.items == pytest.approx(want, abs=1e-5)
    assert (tmp_path / "run" / "t2i-images" / "test" / "vqa-global-contact.png").is_file()


def test_a_judge_that_is_not_a_chat_model_is_refused(tmp_path):
    clip = openclip_tiny.tiny_base(tmp_path)["model"]
    with pytest.raises(ConfigError, match="not a chat model"):
        load_judge("open_clip", clip, Context(pack=None), ChatModel, "vqa-score")
    ev = build("evaluators", "vqa-score", {"prompts": "global", "judge": "x", "question": "Yes?"})
    with pytest.raises(ConfigError, match="placeholder"):
        ev.score_images(Context(pack=None), [], [])
