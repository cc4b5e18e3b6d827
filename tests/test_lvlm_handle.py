"""The ChatModel handle on the three tiny families: option log-likelihoods equal the model's own
loss on the answer tokens, batching changes nothing, greedy generation is deterministic."""

from __future__ import annotations

import math

import lvlm_tiny as K
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from regionadapt_plugins.chat_backend import data as D  # noqa: E402
from regionadapt_plugins.chat_backend import model as M  # noqa: E402
from regionadapt_plugins.chat_backend.handle import TransformersChatModel  # noqa: E402

from regionadapt.handles import ChatModel, ChatPrompt  # noqa: E402


@pytest.fixture(scope="module", params=K.FAMILIES)
def handle(request, tmp_path_factory):
    torch.set_num_threads(1)
    folder = K.build(request.param, tmp_path_factory.mktemp(request.param))
    return TransformersChatModel(M.load_model(folder), M.load_processor(folder), str(folder))


PROMPTS = [
    ChatPrompt("which dish is this", [K.image((240, 240, 230))]),
    ChatPrompt("what is shown in the picture", [K.image((60, 180, 60))], system="be brief"),
    ChatPrompt("describe this image", [K.image((40, 40, 160))]),
]
OPTIONS = [["rice", "som tam", "a green durian fruit"], ["tea", "pho bo"], ["batik cloth", "no"]]


def test_satisfies_the_protocol(handle):
    assert isinstance(handle, ChatModel)


def test_option_logprobs_equal_the_models_own_loss(handle):
    mean = handle.option_logprobs(PROMPTS, OPTIONS, normalize="mean", batch_size=1)
    total = handle.option_logprobs(PROMPTS, OPTIONS, normalize="sum", batch_size=1)
    iid = D.image_token_id(handle.processor, handle.model.config)
    for p, opts, m_row, s_row in zip(PROMPTS, OPTIONS, mean, total, strict=True):
        assert len(m_row) == len(opts)
        for opt, m, s in zip(opts, m_row, s_row, strict=True):
            conv = [{"role": "user", "content": p.text}, {"role": "assistant", "content": opt}]
            if p.system:
                conv.insert(0, {"role": "system", "content": p.system})
            # the reference goes through the processor on the whole text (no kept inputs)
            enc = D.encode(handle.processor, conv, p.images, "ref", iid, keep=False)
            batch = D.collate(handle.processor, [enc], 10**6)
            with torch.no_grad():
                loss = float(handle.model(**batch).loss)  # mean NLL over labelled tokens
            n = int((batch["labels"] != D.IGNORE).sum())
            assert m == pytest.approx(-loss, abs=1e-4)
            assert s == pytest.approx(-loss * n, abs=1e-3)


def test_batching_changes_no_score(handle):
    one = handle.option_logprobs(PROMPTS, OPTIONS, batch_size=1)
    many = handle.option_logprobs(PROMPTS, OPTIONS, batch_size=8)
    for a, b in zip(one, many, strict=True):
        assert a == pytest.approx(b, abs=1e-4)
    assert all(math.isfinite(x) and x < 0 for row in one for x in row)


def test_generate_is_greedy_and_batch_independent(handle):
    one = [handle.generate([p], max_new_tokens=4)[0] for p in PROMPTS]
    many = handle.generate(PROMPTS, max_new_tokens=4, batch_size=3)
    assert one == many
    assert all(isinstance(t, str) for t in many)


def test_mismatched_options_are_refused(handle):
    with pytest.raises(ValueError, match="2 prompts but 1 option lists"):
        handle.option_logprobs(PROMPTS[:2], OPTIONS[:1])


def test_prompts_with_and_without_images_score_as_alone(handle):
    """A text-only prompt batched with pictured ones scores as it does on its own."""
    mixed = [PROMPTS[0], ChatPrompt("which dish is this"), PROMPTS[2]]
    opts = [OPTIONS[0], OPTIONS[0], OPTIONS[2]]
    together = handle.option_logprobs(mixed, opts, batch_size=8)
    alone = [handle.option_logprobs([p], [o], batch_size=1)[0] for p, o in zip(mixed, opts)]
    for a, b in zip(together, alone, strict=True):
        assert a == pytest.approx(b, abs=1e-4)
