"""Chat formatting, assistant-only labels and the truncation pre-flight, on three tiny families
(LLaVA, Qwen2-VL, Gemma-3) loaded back through AutoProcessor / AutoModelForImageTextToText."""

from __future__ import annotations

import lvlm_tiny as K
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from regionadapt_plugins.chat_backend import data as D  # noqa: E402
from regionadapt_plugins.chat_backend import model as M  # noqa: E402

from regionadapt.errors import ConfigError, StageError  # noqa: E402

END = {"llava": "</s>\n", "qwen2_vl": "<|im_end|>\n", "gemma3": "<end_of_turn>\n"}


@pytest.fixture(scope="module", params=K.FAMILIES)
def family(request, tmp_path_factory):
    torch.set_num_threads(1)
    folder = K.build(request.param, tmp_path_factory.mktemp(request.param))
    processor = M.load_processor(folder)
    model = M.load_model(folder)
    return request.param, folder, processor, model


def _labelled(processor, batch, row):
    ids, labels = batch["input_ids"][row], batch["labels"][row]
    return ids[labels != D.IGNORE].tolist()


def test_labels_cover_exactly_the_answer_tokens(family):
    name, _, processor, model = family
    iid = D.image_token_id(processor, model.config)
    tok = processor.tokenizer
    convs = [
        [{"role": "user", "content": "which dish is this"},
         {"role": "assistant", "content": "som tam"}],
        [{"role": "user", "content": "what is shown in the picture"},
         {"role": "assistant", "content": "a green durian fruit"},
         {"role": "user", "content": "yes"},
         {"role": "assistant", "content": "no"}],
    ]  # fmt: skip
    encs = [D.encode(processor, c, [K.image()], f"conv {i}", iid) for i, c in enumerate(convs)]
    batch = D.collate(processor, encs, max_length=512)
    for row, conv in enumerate(convs):
        answers = [t["content"] for t in conv if t["role"] == "assistant"]
        # What the template appends after each answer up to the next turn, and nothing else.
        expected = []
        for a in answers:
            expected += tok(a + END[name], add_special_tokens=False)["input_ids"]
        assert _labelled(processor, batch, row) == expected
        # The image placeholders and the user's turns carry no label.
        assert not (batch["labels"][row] == iid).any()
    # Padding (row 0 is shorter) is never labelled.
    pad = batch["attention_mask"][0] == 0
    assert pad.any() and (batch["labels"][0][pad] == D.IGNORE).all()
    # The model's own loss on these labels is finite: labels line up with real tokens.
    loss = model(**batch).loss
    assert torch.isfinite(loss)


def test_caption_sample_becomes_prompt_and_answer(family):
    _, _, processor, model = family
    s = K.samples(2)[0]
    turns = D.sample_turns(s, "describe this image")
    assert turns[-1] == {"role": "assistant", "content": s["text"]}
    enc = D.encode(processor, turns, [K.image()], "s0", D.image_token_id(processor, model.config))
    assert len(enc.spans) == 1 and enc.last_image_pos >= 0


def test_preflight_refuses_a_sample_whose_image_tokens_would_be_cut(family, tmp_path):
    _, _, processor, model = family
    iid = D.image_token_id(processor, model.config)
    rows = K.samples(4)
    long = dict(rows[1])
    long["id"] = "too-long"
    long["messages"] = (
        '[{"role": "user", "content": "' + "describe this image " * 40 + '"},'
        ' {"role": "assistant", "content": "rice"}]'
    )
    ds = __import__("datasets").Dataset.from_list(rows + [long])
    encs, skipped = D.preflight(
        processor, ds.select(range(4)), "describe", 512, iid, log=lambda m: None
    )
    assert len(encs) == 4 and not skipped
    # Image tokens first, then a long question: a cut at max_length loses only text... but then
    # no answer token is left, which is refused as well.
    with pytest.raises(StageError, match="'too-long'.*no answer token"):
        D.preflight(processor, ds, "describe", 64, iid, log=lambda m: None)
    # A max_length shorter than the image tokens' end: refused, naming the sample, before work.
    first = encs[0]
    with pytest.raises(StageError, match=r"'s0'.*would cut image tokens"):
        D.preflight(processor, ds, "describe", first.last_image_pos, iid, log=lambda m: None)


def test_preflight_counts_unreadable_images(family):
    _, _, processor, model = family
    rows = K.samples(3)
    rows[2]["image"] = rows[2]["image"][:20]  # truncated PNG
    ds = __import__("datasets").Dataset.from_list(rows)
    encs, skipped = D.preflight(processor, ds, "describe", 512, None, log=lambda m: None)
    assert len(encs) == 2 and skipped == {"unreadable image": 1}


def test_truncation_cuts_only_answer_text(family):
    _, _, processor, model = family
    iid = D.image_token_id(processor, model.config)
    turns = [{"role": "user", "content": "which dish is this"},
             {"role": "assistant", "content": "a green durian fruit on a wooden boat"}]  # fmt: skip
    enc = D.encode(processor, turns, [K.image()], "x", iid)
    cut = enc.spans[0][0] + 2
    D.check_fits(enc, cut, "x")
    batch = D.collate(processor, [enc], cut)
    assert batch["input_ids"].shape[1] == cut
    assert int((batch["labels"] != D.IGNORE).sum()) == 2
    assert torch.isfinite(model(**batch).loss)


def test_processor_without_images_is_refused(tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM

    # A text-only chat model: AutoProcessor gives back its tokenizer.
    core = K.bpe_tokenizer(["<pad>", "</s>"])
    tok = K._fast(core, pad_token="<pad>", eos_token="</s>")
    tok.chat_template = K.LLAVA_TEMPLATE
    out = tmp_path / "text-only"
    tok.save_pretrained(out)
    LlamaForCausalLM(
        LlamaConfig(
            vocab_size=300,
            hidden_size=16,
            intermediate_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
        )
    ).save_pretrained(out)
    with pytest.raises(ConfigError, match="cannot take images"):
        M.load_processor(out)


def test_missing_chat_template_is_refused_or_taken_from_config(tmp_path):
    import json

    folder = K.build_llava(tmp_path / "m")
    for f in folder.glob("chat_template*"):
        f.unlink()
    cfg = folder / "processor_config.json"
    if cfg.is_file():  # a template may also live inside the processor config
        data = json.loads(cfg.read_text())
        data.pop("chat_template", None)
        cfg.write_text(json.dumps(data))
    tok_cfg = folder / "tokenizer_config.json"
    data = json.loads(tok_cfg.read_text())
    data.pop("chat_template", None)
    tok_cfg.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="no chat template.*chat_template"):
        M.load_processor(folder)
    tpl = tmp_path / "t.jinja"
    tpl.write_text(K.LLAVA_TEMPLATE)
    assert M.load_processor(folder, chat_template=str(tpl)).chat_template == K.LLAVA_TEMPLATE


def test_not_a_model_folder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot load"):
        M.load_processor(tmp_path / "nothing-here")


def test_kept_inputs_equal_the_processor_on_the_whole_batch(family):
    """collate from the inputs kept at pre-flight == the processor run on the batch's texts."""
    _, _, processor, model = family
    iid = D.image_token_id(processor, model.config)
    convs = [
        [{"role": "user", "content": "which dish is this"},
         {"role": "assistant", "content": "som tam"}],
        [{"role": "system", "content": "be brief"},
         {"role": "user", "content": "what is shown in the picture"},
         {"role": "assistant", "content": "a green durian fruit on a wooden boat"}],
    ]  # fmt: skip
    imgs = [[K.image()], [K.image((60, 180, 60))]]
    kept = [D.encode(processor, c, im, "k", iid) for c, im in zip(convs, imgs, strict=True)]
    fresh = [D.encode(processor, c, im, "f", iid, keep=False)
             for c, im in zip(convs, imgs, strict=True)]  # fmt: skip
    assert [e.spans for e in kept] == [e.spans for e in fresh]
    a, b = D.collate(processor, kept, 512), D.collate(processor, fresh, 512)
    assert set(a) == set(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key
