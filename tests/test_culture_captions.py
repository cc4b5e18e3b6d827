"""Caption metrics: each against its library's own result on English and a hand-checked case
per non-Latin script; the evaluator end to end on a fake chat model (keyword accuracy, skips)."""

from __future__ import annotations

import json
import math

import pytest
import sacrebleu
from core_kit import missing
from culture_kit import COLOURS, FakeChat, ctx, png, save_schema
from regionadapt_plugins.culture_eval import caption_report
from regionadapt_plugins.culture_eval import text_metrics as tm
from regionadapt_plugins.culture_eval.tokenize import word_tokenizer
from regionadapt_plugins.culture_eval.wordnet import find_wordnet
from rouge_score import rouge_scorer

from regionadapt.components import build

EN_HYP = ["the cat sat on the mat", "a dog runs in the park today"]
EN_REF = ["the cat is sitting on the mat", "a dog is running in a park"]
THA = word_tokenizer("tha", False)
WORDNET, _ = find_wordnet()
needs_wordnet = pytest.mark.skipif(
    missing(WORDNET is None), reason="no WordNet data (wordnet-base)"
)


def test_bleu_chrf_equal_sacrebleu_on_english():
    assert tm.bleu(EN_HYP, EN_REF, "13a") == (sacrebleu.corpus_bleu(EN_HYP, [EN_REF]).score, "13a")
    assert tm.chrf(EN_HYP, EN_REF)[0] == sacrebleu.corpus_chrf(EN_HYP, [EN_REF]).score
    with pytest.raises(ValueError, match="download"):
        tm.bleu(EN_HYP, EN_REF, "flores200")


def test_bleu_thai_hand_checked():
    ref, hyp = "ฉันกินข้าวเหนียวมะม่วงที่ตลาด", "ฉันกินข้าวเหนียวมะม่วง"
    assert THA.name == "pythainlp-newmm"
    # 6 reference words, 4 hypothesis words all matching in order: every precision is 1 and
    # BLEU is the brevity penalty exp(1 - 6/4).
    value, name = tm.bleu([hyp], [ref], THA)
    assert name == "word:pythainlp-newmm"
    assert value == pytest.approx(100 * math.exp(1 - 6 / 4))
    # 13a sees each unspaced sentence as one token: 0 for anything but an exact match.
    assert tm.bleu([hyp], [ref], "13a")[0] == 0.0
    assert tm.bleu([ref], [ref], "char")[0] == pytest.approx(100.0)


def test_chrf_thai_hand_checked():
    # Orders 1-2: unigrams {ก,ข,ง} vs {ก,ข,ค}: P = R = 2/3; bigrams {กข,ขง} vs {กข,ขค}: 1/2.
    # chrF averages P and R over orders (7/12 each), so F-beta = 7/12.
    value, name = tm.chrf(["กขง"], ["กขค"], char_order=2)
    assert value == pytest.approx(100 * 7 / 12)
    assert name == "chrF:char2"


def test_rouge_l_equals_rouge_score_on_english():
    ours = tm.rouge_l(EN_HYP, EN_REF, word_tokenizer("eng", True))[0]
    scorer = rouge_scorer.RougeScorer(["rougeL"])  # its default tokeniser, right for ASCII
    want = sum(scorer.score(r, h)["rougeL"].fmeasure for h, r in zip(EN_HYP, EN_REF)) / 2
    assert ours == pytest.approx(want)


@pytest.mark.parametrize(
    "lang, ref, hyp, n_ref, n_hyp",
    [
        ("tha", "ฉันกินข้าวเหนียวมะม่วงที่ตลาด", "ฉันกินข้าวเหนียวมะม่วง", 6, 4),
        ("lao", "ຂ້ອຍມັກກິນເຂົ້າໜຽວ", "ຂ້ອຍມັກກິນ", 3, 2),  # ຂ້ອຍ | ມັກກິນ | ເຂົ້າໜຽວ
        ("khm", "ខ្ញុំចូលចិត្តញ៉ាំអាម៉ុក", "ខ្ញុំចូលចិត្ត", 4, 2),  # ខ្ញុំ | ចូលចិត្ត | ញ៉ាំ | អាម៉ុក
        ("mya", "မြန်မာ", "မြန်", 3, 2),  # characters, marks attached: မြ | န် | မာ
    ],
    ids=["tha", "lao", "khm", "mya"],
)
def test_rouge_l_non_latin_hand_checked(lang, ref, hyp, n_ref, n_hyp):
    tok = word_tokenizer(lang, False)  # khmer-nltk loads its model here (~3-10 s), not at import
    assert tok.name == {"tha": "pythainlp-newmm", "lao": "laonlp", "khm": "khmer-nltk"}.get(
        lang, "chars"
    )
    # The hypothesis is a prefix of the reference: LCS = n_hyp, P = 1, R = n_hyp / n_ref.
    assert len(tok.split(ref)) == n_ref and tok.split(ref)[:n_hyp] == tok.split(hyp)
    r = n_hyp / n_ref
    assert tm.rouge_l([hyp], [ref], tok)[0] == pytest.approx(2 * r / (1 + r))
    # rouge-score's own tokeniser drops these scripts: identical strings score 0.
    assert rouge_scorer.RougeScorer(["rougeL"]).score(ref, ref)["rougeL"].fmeasure == 0.0


@needs_wordnet
def test_meteor_equals_nltk_and_uses_wordnet():
    from nltk.translate.meteor_score import meteor_score

    tok = word_tokenizer("eng", True)
    want = sum(
        meteor_score([r.split()], h.split(), wordnet=WORDNET) for h, r in zip(EN_HYP, EN_REF)
    )
    assert tm.meteor(EN_HYP, EN_REF, tok, WORDNET)[0] == pytest.approx(want / 2)
    # Synonyms count only through WordNet: car ~ auto (0.64 without it, pitfalls.md).
    assert tm.meteor(["the auto is red"], ["the car is red"], tok, WORDNET)[0] > 0.95


def test_meteor_thai_hand_checked_and_unavailable_without_wordnet():
    ref, hyp = "ฉันกินข้าวเหนียวมะม่วงที่ตลาด", "ฉันกินข้าวเหนียวมะม่วง"
    assert tm.meteor([hyp], [ref], THA, None) == (None, "unavailable")
    if missing(WORDNET is None):
        pytest.skip("no WordNet data")
    p, r = 1.0, 4 / 6  # 4 exact matches in one chunk
    fmean = p * r / (0.9 * p + 0.1 * r)
    assert tm.meteor([hyp], [ref], THA, WORDNET)[0] == pytest.approx(
        fmean * (1 - 0.5 * (1 / 4) ** 3)
    )


def caption_bench(tmp_path) -> str:
    rows = [
        {"id": "a", "image": png(COLOURS["TH"]), "reference": "ผัดไทยที่ตลาด", "lang": "tha", "country": "TH"},
        {"id": "b", "image": png(COLOURS["VN"]), "reference": "a bowl of pho", "lang": "eng", "country": "VN"},
        {"id": "c", "image": png(COLOURS["TH"]), "reference": "a street at night", "lang": "eng", "country": "TH"},
        {"id": "d", "image": png((0, 200, 0)), "reference": "pad thai", "lang": "eng", "country": "TH"},
        {"id": "e", "image": png(COLOURS["TH"]), "reference": "pad thai", "lang": "", "country": "TH"},
        {"id": "f", "image": png(COLOURS["TH"]), "reference": "", "lang": "eng", "country": "TH"},
    ]  # fmt: skip
    return save_schema(tmp_path / "captions", rows)


def test_caption_evaluator_keyword_accuracy_and_skips(tmp_path, monkeypatch):
    model = FakeChat({})
    model.captions = {COLOURS["TH"]: "pad thai at a market", COLOURS["VN"]: "a bowl of noodles"}
    ev = build("evaluators", "caption-metrics",
               {"dataset": "local-benchmark", "dataset_params": {"path": caption_bench(tmp_path)},
                "details": str(tmp_path / "d.jsonl")})  # fmt: skip
    res = ev.evaluate(model, ctx(), "test")
    res.check("caption-metrics")
    # a: ผัดไทย named as "pad thai" (another surface form) -> 1; b: pho not named -> 0.
    assert res.items == [1.0, 0.0] and res.score == 0.5
    assert res.groups["lang"] == {"eng": {"score": 0.0, "n": 1}, "tha": {"score": 1.0, "n": 1}}
    assert res.skipped == {
        "unknown language ('', expected ISO 639-3)": 1,
        "no reference caption": 1,
        "empty caption": 1,  # the green picture: the fake has no caption for it
        "keyword accuracy: reference names no lexicon entity": 1,
    }
    hyps = ["a bowl of noodles", "pad thai at a market"]
    assert (
        res.metrics["bleu/eng/13a"]
        == sacrebleu.corpus_bleu(hyps, [["a bowl of pho", "a street at night"]]).score
    )
    assert "chrf/tha/chrF:char6" in res.metrics and "bleu/tha/char" in res.metrics
    assert "bleu/tha/word:pythainlp-newmm" in res.metrics
    assert res.metrics["rouge_l/tha/word:pythainlp-newmm"] == 0.0  # no Thai word in common
    assert res.metrics["meteor_available"] == float(WORDNET is not None)
    recs = [json.loads(x) for x in open(tmp_path / "d.jsonl", encoding="utf-8")]
    assert recs[0]["prompt"] == "Describe this picture in Thai. Name what it shows."
    assert recs[0]["entities"] == ["pad-thai"] and recs[0]["named"] == ["pad-thai"]

    monkeypatch.setattr(caption_report, "find_wordnet", lambda: (None, "none"))
    res = ev.evaluate(model, ctx(), "test")
    assert res.metrics["meteor_available"] == 0.0
    assert not [k for k in res.metrics if k.startswith("meteor/")]


def test_demo_world_captions_name_their_entity():
    from regionadapt.components import Context
    from regionadapt.data.lexicon import LexiconMatcher
    from regionadapt.packs import get_pack

    c = Context(pack=get_pack("sea"), seed=0)
    loader = build("datasets", "demo-world-captions", {"regional_concepts": 6, "per_concept": 2})
    test, val = loader.load(c, "test"), loader.load(c, "validation")
    assert len(test) == 12 and test["image"] != val["image"]
    matcher = LexiconMatcher(c.pack)
    for label, ref, lang in zip(test["label"], test["reference"], test["lang"]):
        assert label in {h.entry_id for h in matcher.find(ref)}
        assert lang in {lg.code for lg in c.pack.languages}


@needs_wordnet
def test_wordnet_lexnames_match_the_data():
    # The lexnames index written beside Debian's files: every synset's lexicographer file must
    # be of its own part of speech (a shifted list would put nouns in verb.* files).
    prefix = {"n": "noun.", "v": "verb.", "a": "adj.", "s": "adj.", "r": "adv."}
    for pos in "nvar":
        for k, syn in enumerate(WORDNET.all_synsets(pos)):
            assert syn.lexname().startswith(prefix[syn.pos()]), syn
            if k > 2000:
                break
    assert WORDNET.synset("dog.n.01").lexname() == "noun.animal"
    assert WORDNET.synset("run.v.01").lexname() == "verb.motion"


def test_wordnet_missing_is_reported(monkeypatch, tmp_path):
    import nltk
    from regionadapt_plugins.culture_eval import wordnet as W

    def nowhere(name):
        raise LookupError(name)

    monkeypatch.setattr(nltk.data, "find", nowhere)
    monkeypatch.setattr(W, "SYSTEM_DIRS", (str(tmp_path / "absent"),))
    reader, why = W.find_wordnet.__wrapped__()
    assert reader is None and "METEOR unavailable" in why


def test_demo_world_benchmarks_have_the_reference_column():
    # The schema's optional `reference` column is filled in (the VQA parts have none).
    from regionadapt.components import Context
    from regionadapt.packs import get_pack

    c = Context(pack=get_pack("sea"), seed=0)
    for part in ("regional", "global"):
        ds = build("datasets", "demo-world", {"part": part, "per_concept": 1}).load(c, "test")
        assert set(ds["reference"]) == {""}


# "Myanmar" hand-checked in both encodings. Unicode: MA, MEDIAL RA (U+103C, after the
# consonant), NA, ASAT (U+103A), MA, AA. Zawgyi types the medial ra before the consonant at
# U+103B and the asat at U+1039: the same word is other code points.
MYANMAR_UNICODE = "\u1019\u103c\u1014\u103a\u1019\u102c"  # မြန်မာ
MYANMAR_ZAWGYI = "\u103b\u1019\u1014\u1039\u1019\u102c"  # ျမန္မာ shown in a Zawgyi font


def test_zawgyi_is_detected_and_never_tokenised():
    from regionadapt_plugins.culture_eval.zawgyi import zawgyi_reason

    assert zawgyi_reason(MYANMAR_ZAWGYI) == "zawgyi"
    assert zawgyi_reason(MYANMAR_UNICODE) is None
    assert zawgyi_reason("a photo of Bagan") is None  # no Myanmar letters: nothing to ask
    mya = word_tokenizer("mya", False)
    assert mya.split(MYANMAR_UNICODE) == ["မြ", "န်", "မာ"]
    with pytest.raises(ValueError, match="zawgyi"):
        mya.split(MYANMAR_ZAWGYI)


def test_caption_evaluator_skips_zawgyi(tmp_path):
    green, grey = (0, 200, 0), (90, 90, 90)
    rows = [  # a Unicode pair is scored; a Zawgyi reference or caption is counted, not scored
        {"id": "u", "image": png(COLOURS["TH"]), "reference": MYANMAR_UNICODE, "lang": "mya"},
        {"id": "z", "image": png(COLOURS["VN"]), "reference": MYANMAR_ZAWGYI, "lang": "mya"},
        {"id": "c", "image": png(green), "reference": MYANMAR_UNICODE, "lang": "mya"},
        {"id": "p", "image": png(grey), "reference": "pad thai", "lang": "eng"},
    ]  # fmt: skip
    model = FakeChat({})
    model.captions = {COLOURS["TH"]: MYANMAR_UNICODE, COLOURS["VN"]: MYANMAR_UNICODE,
                      green: MYANMAR_ZAWGYI, grey: "pad thai"}  # fmt: skip
    ev = build("evaluators", "caption-metrics",
               {"dataset": "local-benchmark",
                "dataset_params": {"path": save_schema(tmp_path / "mya", rows)}})  # fmt: skip
    res = ev.evaluate(model, ctx(), "test")
    assert res.skipped == {"zawgyi: reference": 1, "zawgyi: caption": 1,
                           "keyword accuracy: reference names no lexicon entity": 1}  # fmt: skip
    # Keyword accuracy scores the English row (the kit's pack has no Burmese entry); the text
    # metrics see the Unicode Burmese pair alone.
    assert res.items == [1.0] and res.metrics["n/mya"] == 1.0
    assert res.metrics["chrf/mya/chrF:char6"] == pytest.approx(100.0)
