"""Region-metadata, language and lexicon filters on a small pack with unspaced scripts."""

from __future__ import annotations

import unicodedata

import pytest
from data_kit import make_ctx

from regionadapt.components import build
from regionadapt.data.groups import kept
from regionadapt.data.text import script_counts
from regionadapt.errors import ConfigError
from regionadapt.samples import new_sample


def _filter(tmp_path, name, **params):
    f = build("filters", name, params)
    f.setup(make_ctx(tmp_path))
    return f


def _code(result):
    """ "kept" or the reason code of a drop."""
    if kept(result):
        return "kept"
    assert result[0] is False and isinstance(result[1], str) and result[1]
    return result[1].split(":")[0]


# -- region metadata ------------------------------------------------------------------------


def test_region_country_and_coordinates(tmp_path):
    f = _filter(tmp_path, "region")
    assert _code(f.keep(new_sample(id="a", country="TH"))) == "kept"
    assert _code(f.keep(new_sample(id="b", country="th"))) == "kept"  # case is not an identity
    assert _code(f.keep(new_sample(id="c", country="FR"))) == "country-not-in-pack"
    # Bangkok inside TH's box, no country given
    assert _code(f.keep(new_sample(id="d", meta={"lat": 13.75, "lon": 100.5}))) == "kept"
    # Paris: in no box
    assert _code(f.keep(new_sample(id="e", meta={"lat": 48.85, "lon": 2.35}))) == "outside-region"
    assert _code(f.keep(new_sample(id="f"))) == "no-region-metadata"
    assert _code(f.keep(new_sample(id="g", meta={"lat": "north", "lon": 1}))) == "bad-coordinates"
    assert _code(f.keep(new_sample(id="h", meta="{not json"))) == "bad-meta"


def test_region_require_modes(tmp_path):
    inside_fr = new_sample(id="x", country="FR", meta={"lat": 13.75, "lon": 100.5})
    assert _code(_filter(tmp_path, "region").keep(inside_fr)) == "kept"  # either: coordinates win
    assert (
        _code(_filter(tmp_path, "region", require="country").keep(inside_fr))
        == "country-not-in-pack"
    )
    assert (
        _code(_filter(tmp_path, "region", require="both").keep(inside_fr)) == "country-not-in-pack"
    )
    keep_unknown = _filter(tmp_path, "region", unknown="keep")
    assert kept(keep_unknown.keep(new_sample(id="y")))


# -- language -------------------------------------------------------------------------------

CAPTIONS = {
    "ind": "Seorang ibu sedang memasak nasi goreng di dapur rumahnya pada pagi hari",
    "vie": "Một người phụ nữ đang nấu phở trong bếp vào buổi sáng",
    "fil": "Ang mga bata ay naglalaro sa labas ng bahay tuwing hapon kasama ang kanilang aso",
    "tha": "ผู้หญิงคนหนึ่งกำลังทำอาหารในครัวตอนเช้า",
    "lao": "ແມ່ຍິງຄົນໜຶ່ງກຳລັງແຕ່ງກິນຢູ່ໃນເຮືອນຄົວຕອນເຊົ້າ",
    "khm": "ស្ត្រីម្នាក់កំពុងចម្អិនម្ហូបនៅក្នុងផ្ទះបាយនៅពេលព្រឹក",
    "mya": "အမျိုးသမီးတစ်ဦးသည် မနက်ခင်းတွင် မီးဖိုချောင်၌ ချက်ပြုတ်နေသည်",
}


@pytest.mark.parametrize("lang", sorted(CAPTIONS))
def test_language_keeps_pack_languages(tmp_path, lang):
    f = _filter(tmp_path, "language")
    assert f.identify(CAPTIONS[lang])[0] == lang
    assert kept(f.keep(new_sample(id=lang, text=CAPTIONS[lang])))


def test_language_drops_others_with_reason(tmp_path):
    f = _filter(tmp_path, "language")
    r = f.keep(new_sample(id="en", text="A woman is cooking breakfast in her kitchen this morning"))
    assert _code(r) == "lang-not-in-pack" and "eng" in r[1]
    r = f.keep(
        new_sample(id="fr", text="Une femme prépare le petit déjeuner dans sa cuisine ce matin")
    )
    assert _code(r) == "lang-not-in-pack" and "fra" in r[1]
    assert _code(f.keep(new_sample(id="e", text="   "))) == "no-text"
    # too short to identify: the declared language decides
    assert kept(f.keep(new_sample(id="s1", text="ok", lang="ind")))
    assert _code(f.keep(new_sample(id="s2", text="ok", lang="eng"))) == "text-too-short"


def test_language_per_language_threshold(tmp_path):
    text = "rumah makan"  # short: the model is unsure, and says so
    lenient = _filter(tmp_path, "language", min_prob=0.0)
    code, prob, total = lenient.identify(text)
    assert code == "ind" and 0.0 < total < 0.99
    strict = _filter(tmp_path, "language", min_prob=0.0, thresholds={"ind": total + 0.005})
    other = _filter(tmp_path, "language", min_prob=0.0, thresholds={"vie": 0.999})
    assert kept(lenient.keep(new_sample(id="a", text=text)))
    assert kept(other.keep(new_sample(id="a", text=text)))  # only Indonesian is stricter
    assert _code(strict.keep(new_sample(id="a", text=text))) == "lang-low-confidence"


def test_language_sums_close_relatives_in_the_pack(tmp_path):
    """Indonesian and Malay split a caption's probability; both in the pack, it is kept."""
    from data_kit import PACK_TOML

    toml = PACK_TOML.replace(
        '[[languages]]\ncode = "vie"',
        '[[languages]]\ncode = "zsm"\nname = "Malay"\nscript = "Latn"\n\n'
        '[[languages]]\ncode = "vie"',
    )
    path = tmp_path / "p2.toml"
    path.write_text(toml, encoding="utf-8")
    from regionadapt.components import Context
    from regionadapt.packs import load_pack

    both = build("filters", "language")
    both.setup(Context(pack=load_pack(path)))
    text = "Aplikasi telah tiada"
    code, prob, total = both.identify(text)
    assert code in ("ind", "zsm") and total > prob  # mass from both relatives
    assert kept(both.keep(new_sample(id="m", text=text)))
    only_ind = _filter(tmp_path, "language")
    assert only_ind.keep(new_sample(id="m", text=text)) is not True


def test_batch_scores_equal_py3langid_one_at_a_time():
    import numpy as np
    from py3langid.langid import MODEL_FILE, LanguageIdentifier
    from regionadapt_plugins.filters.langid_batch import BatchScorer

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ident.set_languages(["en", "id", "ms", "tl", "vi", "de", "es", "th"])
    texts = ["Pasar pagi di Jakarta", "Umaga sa Maynila", "EIN MARKT IN BERLIN", "", "!!",
             "Một khu chợ ở Huế", "ตลาดน้ำ", "Un mercado en Oaxaca por la mañana, 2019",
             "a" * 300]  # fmt: skip
    got = BatchScorer(ident).decide(texts)
    want = np.stack([ident._decide(t) for t in texts])
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert (got.argmax(axis=1) == want.argmax(axis=1)).all()


def test_language_batch_verdicts_equal_one_caption_at_a_time(tmp_path):
    """The batch path (one score matrix, rows judged together) gives each caption the verdict
    and the reason, to the printed probability, that the one-caption path gives it."""
    f = _filter(tmp_path, "language")
    texts = ["Pasar pagi di Jakarta", "Umaga sa Maynila", "Ein Markt in Berlin am Morgen",
             "Một khu chợ ở Huế", "ตลาดน้ำ", "Un mercado en Oaxaca por la mañana",
             "makan siang bersama keluarga", "kain songket", "xyz qwv"]  # fmt: skip
    rows = f._scorer.decide(texts)
    assert f._from_score_rows(rows) == [f._from_scores(row) for row in rows]
    batch = f.keep_batch([new_sample(id=str(i), text=t) for i, t in enumerate(texts)])
    assert batch == [f.keep(new_sample(id="x", text=t)) for t in texts]


def test_language_fast_paths_need_no_model(tmp_path):
    from regionadapt_plugins.filters.english import plainly_english

    assert plainly_english("Morning in Zürich")  # common words around a capitalised name
    assert plainly_english("Idaho at night")
    assert not plainly_english("Pasar pagi di Jakarta")
    assert not plainly_english("Umaga sa Manila")
    assert not plainly_english("at night")  # too short to say
    f = _filter(tmp_path, "language")
    text = "Đường phố Nuuk về đêm"  # đ, ư, ờ, ố, ề: letters only Vietnamese writes
    assert f._identify_fast(text, script_counts(text)) == ("vie", 1.0, 1.0)
    assert f._identify_fast("Ọjà ní Èkó", script_counts("Ọjà ní Èkó")) is None  # Yoruba's dots


def test_language_threshold_for_unknown_language_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="thresholds.deu"):
        _filter(tmp_path, "language", thresholds={"deu": 0.5})


# -- lexicon --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "ฉันชอบกินต้มยำกุ้งมาก",  # Thai, no spaces around the form
        "ຂ້ອຍມັກກິນເຝີທຸກມື້",  # Lao
        "ខ្ញុំចូលចិត្តអាម៉ុកត្រី",  # Khmer
        "ကျွန်တော်မုန့်ဟင်းခါးကြိုက်တယ်",  # Burmese
        "Rendang daging sapi yang lezat",  # capitalised
        "Sate ayam, satay kambing",
        "Tô phở bò ở Hà Nội",
        "pergi ke ທາດຫຼວງ hari ini",  # mixed scripts
    ],
)
def test_lexicon_matches_every_script(tmp_path, text):
    assert kept(_filter(tmp_path, "lexicon").keep(new_sample(id="x", text=text)))


def test_lexicon_word_boundaries_only_for_spaced_scripts(tmp_path):
    f = _filter(tmp_path, "lexicon")
    assert (
        _code(f.keep(new_sample(id="a", text="A satellite dish on a roof"))) == "no-lexicon-match"
    )
    assert _code(f.keep(new_sample(id="b", text="kesatean"))) == "no-lexicon-match"
    assert kept(f.keep(new_sample(id="c", text="(sate)")))


def test_lexicon_is_normalisation_insensitive(tmp_path):
    f = _filter(tmp_path, "lexicon")
    decomposed = unicodedata.normalize("NFD", "PHỞ BÒ")
    assert decomposed != unicodedata.normalize("NFC", decomposed)
    assert kept(f.keep(new_sample(id="a", text=decomposed)))


def test_lexicon_category_restriction(tmp_path):
    f = _filter(tmp_path, "lexicon", categories=["clothing"])
    assert kept(f.keep(new_sample(id="a", text="Barong Tagalog sa kasal")))
    assert _code(f.keep(new_sample(id="b", text="Rendang daging"))) == "no-lexicon-match"
    with pytest.raises(ConfigError, match="unknown"):
        _filter(tmp_path, "lexicon", categories=["snacks"])
