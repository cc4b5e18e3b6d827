"""Precision and recall of the region filters on small labelled pools with the reference SEA
pack (the full measurement is benchmarks/region_filter_quality.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from regionadapt.components import Context, build
from regionadapt.data.groups import kept
from regionadapt.packs import load_pack
from regionadapt.samples import new_sample

SEA = Path(__file__).resolve().parents[1] / "regions" / "sea.toml"

# Everyday sentences; positives in languages specific to South-East Asia, negatives elsewhere.
POSITIVE = {
    "ind": ["Anak-anak bermain sepak bola di lapangan dekat sekolah setiap sore.",
            "Ibu membeli sayur dan ikan segar di pasar tradisional pagi ini.",
            "Kami menunggu kereta api yang terlambat hampir satu jam."],
    "zsm": ["Saya akan pergi ke pejabat pos untuk menghantar surat kepada kawan saya.",
            "Kerajaan negeri mengumumkan cuti umum sempena sambutan hari kebangsaan."],
    "vie": ["Những đứa trẻ đang chơi đá bóng trên sân gần trường học.",
            "Mẹ tôi mua rau và cá tươi ở chợ vào buổi sáng.",
            "Chúng tôi đã đợi chuyến tàu bị trễ gần một tiếng đồng hồ."],
    "tha": ["เด็กๆ กำลังเล่นฟุตบอลที่สนามใกล้โรงเรียน",
            "แม่ไปซื้อผักและปลาสดที่ตลาดตอนเช้า"],
    "khm": ["កុមារកំពុងលេងបាល់ទាត់នៅទីលានជិតសាលារៀន", "ម្តាយទិញបន្លែនិងត្រីស្រស់នៅផ្សារ"],
    "lao": ["ເດັກນ້ອຍກຳລັງຫຼິ້ນບານເຕະຢູ່ເດີ່ນໃກ້ໂຮງຮຽນ"],
    "mya": ["ကလေးများသည် ကျောင်းအနီးရှိ ကွင်းတွင် ဘောလုံးကန်နေကြသည်"],
    "fil": ["Ang mga bata ay naglalaro ng basketbol sa plaza tuwing hapon.",
            "Bumili si Nanay ng sariwang isda at gulay sa palengke kaninang umaga."],
}  # fmt: skip
NEGATIVE = {
    "fra": ["Les enfants jouent au football sur le terrain près de l'école.",
            "Ma mère achète des légumes frais au marché le matin."],
    "deu": ["Die Kinder spielen am Nachmittag Fußball auf dem Platz neben der Schule.",
            "Wir haben fast eine Stunde auf den verspäteten Zug gewartet."],
    "spa": ["Los niños juegan al fútbol en el campo cerca de la escuela.",
            "Mi madre compra verduras frescas en el mercado por la mañana."],
    "ita": ["I bambini giocano a calcio nel campo vicino alla scuola."],
    "nld": ["De kinderen spelen voetbal op het veld bij de school."],
    "pol": ["Dzieci grają w piłkę nożną na boisku obok szkoły."],
    "rus": ["Дети играют в футбол на поле возле школы."],
    "tur": ["Çocuklar okulun yanındaki sahada futbol oynuyor."],
    "jpn": ["子供たちは学校の近くのグラウンドでサッカーをしています。"],
    "kor": ["아이들이 학교 근처 운동장에서 축구를 하고 있습니다."],
    "ara": ["يلعب الأطفال كرة القدم في الملعب بالقرب من المدرسة."],
    "hin": ["बच्चे स्कूल के पास मैदान में फुटबॉल खेल रहे हैं।"],
}  # fmt: skip


def _prf(pred, truth):
    tp = sum(p and t for p, t in zip(pred, truth, strict=True))
    fp = sum(p and not t for p, t in zip(pred, truth, strict=True))
    fn = sum(t and not p for p, t in zip(pred, truth, strict=True))
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1)


@pytest.fixture(scope="module")
def ctx():
    return Context(pack=load_pack(SEA))


def test_language_filter_on_real_sentences(ctx):
    f = build("filters", "language")
    f.setup(ctx)
    rows = [(t, True) for ts in POSITIVE.values() for t in ts]
    rows += [(t, False) for ts in NEGATIVE.values() for t in ts]
    pred = [kept(f.keep(new_sample(id=str(i), text=t))) for i, (t, _) in enumerate(rows)]
    precision, recall = _prf(pred, [truth for _, truth in rows])
    assert precision >= 0.9 and recall >= 0.9, (precision, recall)


def test_region_and_lexicon_on_the_demo_world(ctx):
    from regionadapt_plugins.demo_world.world import DemoWorld

    pool = list(DemoWorld(ctx.pack).pool(per_regional=4, per_global=6, per_distractor=4, corrupt=0))
    truth = [s["country"] in ctx.pack.country_codes for s in pool]
    assert 0 < sum(truth) < len(truth)
    region = build("filters", "region")
    lexicon = build("filters", "lexicon")
    region.setup(ctx)
    lexicon.setup(ctx)
    assert _prf([kept(region.keep(s)) for s in pool], truth) == (1.0, 1.0)
    hidden = [{**s, "country": ""} for s in pool]  # what the caption alone can tell
    precision, recall = _prf([kept(lexicon.keep(s)) for s in hidden], truth)
    assert precision >= 0.9 and recall >= 0.8, (precision, recall)
