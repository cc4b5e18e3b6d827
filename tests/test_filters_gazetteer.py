"""Gazetteer, word-respecting lexicon matching, ambiguous terms and language evidence, on the
shipped SEA pack (its real GeoNames/pycountry gazetteer)."""

from __future__ import annotations

import pytest

from regionadapt.components import Context, build
from regionadapt.data.groups import answer, kept
from regionadapt.packs import Gazetteer, get_pack
from regionadapt.samples import new_sample


@pytest.fixture(scope="module")
def sea():
    return get_pack("sea")


def _f(pack, name, **params):
    f = build("filters", name, params)
    f.setup(Context(pack=pack))
    return f


def _s(text):
    return new_sample(id="x", text=text)


def test_place_names_in_latin_and_native_scripts(sea):
    g = _f(sea, "gazetteer")
    for text in ("Night market in Khon Kaen", "ตลาดนัดที่เชียงใหม่", "Street food in Hà Nội",
                 "Phnom Penh riverside", "Morning in Ilocos Norte"):  # fmt: skip
        assert kept(g.keep(_s(text))), text
    for text in ("Apple pie in Paris", "a bang on the door", "a dog on a sofa"):
        assert not kept(g.keep(_s(text))), text


def test_longest_match_wins_and_word_boundaries_hold(sea):
    lex = _f(sea, "lexicon")
    assert not kept(lex.keep(_s("Night market in Khon Kaen")))  # khon (a dance) inside a city
    assert kept(lex.keep(_s("a mor lam concert")))
    assert not kept(lex.keep(_s("a satellite dish")))  # "sate" needs word boundaries
    assert kept(lex.keep(_s("ฉันชอบกินต้มยำกุ้งมาก")))  # Thai matches inside running text


def test_ambiguous_terms_need_a_second_signal(sea):
    lex, g = _f(sea, "lexicon"), _f(sea, "gazetteer")
    kind, why = answer(lex.keep(_s("a plate of fried rice with an egg")))
    assert kind == "drop" and why.startswith("lexicon-ambiguous: fried rice")
    assert kept(lex.keep(_s("fried rice at a night market in Jakarta")))
    kind, why = answer(g.keep(_s("Sunset over Victoria harbour")))  # Victoria, Canada is bigger
    assert kind == "drop" and why.startswith("place-ambiguous: victoria")
    assert kept(g.keep(_s("Victoria, a town near Rendang and Satay stalls")))


def test_pack_adds_and_excludes_names(sea):
    custom = sea.model_copy(update={"gazetteer": Gazetteer(
        add={"TH": ["Baan Rak Thai"]}, exclude=["Khon Kaen"])})  # fmt: skip
    g = _f(custom, "gazetteer")
    assert kept(g.keep(_s("Tea fields at Baan Rak Thai")))
    assert not kept(g.keep(_s("Night market in Khon Kaen")))


def test_elsewhere_scope_finds_cities_outside_the_pack(sea):
    away = _f(sea, "gazetteer", scope="elsewhere")
    assert kept(away.keep(_s("Morning in Paris")))
    assert not kept(away.keep(_s("Morning in Bangkok")))
    # countries in the regional languages (iso-codes), their provinces, capitals below the
    # cities' population floor, continents
    for text in (
        "ตลาดในเยอรมนี",
        "Idaho at night",
        "Đường phố Nuuk về đêm",
        "Buổi sáng ở Châu Âu",
        "ផ្សារនៅអង់ទីហ្កា",
    ):  # fmt: skip  (the last: Antigua, part of "Antigua and Barbuda")
        assert kept(away.keep(_s(text))), text
    # a word of an own place name is not foreign ("Oriental" is also a region of Morocco)
    assert not kept(away.keep(_s("Ang kalye sa Oriental Mindoro sa gabi")))
    # a spelling GeoNames does not have, found by sound: Dublin ဒပ်ဗလင် in GeoNames
    kind, why = answer(away.keep(_s("ဒတ်ဘလင်မြို့ ညနေခင်း")))
    assert kind == "keep" and "sounds like" in why and "IE" in why


def test_names_with_joined_particles_and_prefixes(sea):
    g = _f(sea, "gazetteer")
    assert kept(g.keep(_s("방콕의 시장")))  # Korean: particle after the name, two syllables
    assert not kept(g.keep(_s("방콕이라는")))  # not a particle: not a whole word
    assert kept(g.keep(_s("בוקר בבנגקוק")))  # Hebrew: "in" joined before the name
    assert kept(g.keep(_s("Ekuseni eJakarta")))  # a locative prefix written onto the name
    assert kept(g.keep(_s("Imakethe ei-Jakarta")))  # ...or joined by a hyphen
    # a German noun that is also a town of Indonesia, inside a compound
    assert not kept(g.keep(_s("Kann die Ende-Zeit nicht bestimmen")))


def test_language_evidence_only_and_readable_thresholds(sea):
    lang = _f(sea, "language", evidence_only=True)
    assert kept(lang.keep(_s("ตลาดน้ำยามเช้าที่อัมพวา")))
    kind, why = answer(lang.keep(_s("A photo of a dog sitting on the sofa in the living room")))
    assert kind == "drop" and why.startswith("lang-not-evidence: eng")
    kind, why = answer(lang.keep(_s("Утро на рынке")))  # no SEA evidence language uses Cyrillic
    assert kind == "drop" and "Cyrl" in why
    strict = _f(sea, "language", min_prob=0.999)
    kind, why = answer(strict.keep(_s("Pasar pagi")))
    if kind == "drop" and why.startswith("lang-low-confidence"):
        assert "below the threshold 0.999" in why  # never "p=1.00 < 0.999"


def test_evidence_only_needs_a_pack_that_marks_evidence(tmp_path):
    from data_kit import make_ctx

    from regionadapt.errors import ConfigError

    f = build("filters", "language", {"evidence_only": True})
    with pytest.raises(ConfigError, match="marks none of its languages `evidence = true`"):
        f.setup(make_ctx(tmp_path))


def test_matchers_survive_pickling_for_worker_processes(sea):
    """Worker processes get the filters pickled; the automata cannot be, and are rebuilt."""
    import pickle

    from regionadapt_plugins.filters.matching import pack_matcher, sound_matcher

    texts = ["Night market in Khon Kaen", "ตลาดนัดที่เชียงใหม่", "Apple pie in Paris",
             "ถนนยามเช้าที่เบอร์ลิน", "a satellite dish"]  # fmt: skip
    matcher = pack_matcher(sea)
    copy = pickle.loads(pickle.dumps(matcher))
    assert [copy.find(t) for t in texts] == [matcher.find(t) for t in texts]
    assert any(copy.find(t) for t in texts)
    sounds = sound_matcher(sea)
    again = pickle.loads(pickle.dumps(sounds))
    assert [again.find(t) for t in texts] == [sounds.find(t) for t in texts]


def test_a_longer_name_elsewhere_outweighs_a_place_of_the_pack():
    g = _f(get_pack("south-asia"), "gazetteer")
    assert kept(g.keep(_s("Morning in Kota")))  # Kota, Rajasthan
    res = g.keep(_s("Suasana jalan di Kota Administrasi Jakarta Timur"))
    assert not kept(res) and res[1].startswith("place-contested: kota"), res
