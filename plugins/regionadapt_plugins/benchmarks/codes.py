"""Country names -> ISO 3166-1 alpha-2 and ISO 639-1 -> ISO 639-3, for the benchmarks' own
spellings. Small tables on purpose (no extra dependency); where ``pycountry`` is installed it
resolves names these tables lack. An unresolved value becomes '' and evaluators report it
per group as missing, never guessed.
"""

from __future__ import annotations

import re

COUNTRY_NAMES: dict[str, str] = {
    "argentina": "AR", "bangladesh": "BD", "brazil": "BR", "bulgaria": "BG", "burundi": "BI",
    "cambodia": "KH", "china": "CN", "colombia": "CO", "egypt": "EG", "ethiopia": "ET",
    "france": "FR", "ghana": "GH", "greece": "GR", "india": "IN", "indonesia": "ID",
    "ireland": "IE", "italy": "IT", "japan": "JP", "jordan": "JO", "kenya": "KE",
    "laos": "LA", "lao pdr": "LA", "malaysia": "MY", "mexico": "MX", "mongolia": "MN",
    "myanmar": "MM", "nepal": "NP", "nigeria": "NG", "norway": "NO", "pakistan": "PK",
    "peru": "PE", "philippines": "PH", "romania": "RO", "russia": "RU", "rwanda": "RW",
    "singapore": "SG", "south africa": "ZA", "south korea": "KR", "korea": "KR", "spain": "ES",
    "sri lanka": "LK", "tanzania": "TZ", "thailand": "TH", "turkey": "TR", "türkiye": "TR",
    "uganda": "UG", "ukraine": "UA", "united kingdom": "GB", "uk": "GB", "united states": "US",
    "usa": "US", "uruguay": "UY", "vietnam": "VN", "viet nam": "VN", "zimbabwe": "ZW",
    "ecuador": "EC", "chile": "CL", "bolivia": "BO", "haiti": "HT", "canada": "CA",
    "netherlands": "NL", "sweden": "SE", "denmark": "DK", "germany": "DE", "austria": "AT",
    "switzerland": "CH", "portugal": "PT", "poland": "PL", "serbia": "RS", "latvia": "LV",
    "palestine": "PS", "iran": "IR", "iraq": "IQ", "israel": "IL", "saudi arabia": "SA",
    "morocco": "MA", "tunisia": "TN", "malawi": "MW", "burkina faso": "BF", "senegal": "SN",
    "cameroon": "CM", "ivory coast": "CI", "cote d'ivoire": "CI", "liberia": "LR",
    "south sudan": "SS", "somalia": "SO", "togo": "TG", "zambia": "ZM", "guatemala": "GT",
    "papua new guinea": "PG", "timor-leste": "TL", "east timor": "TL", "brunei": "BN",
}  # fmt: skip

# ISO 639-1 (and a few other spellings) -> ISO 639-3, covering XM3600, MaRVL and CVQA.
LANG3: dict[str, str] = {
    "ar": "ara", "bn": "ben", "cs": "ces", "da": "dan", "de": "deu", "el": "ell", "en": "eng",
    "es": "spa", "fa": "fas", "fi": "fin", "fil": "fil", "fr": "fra", "hi": "hin", "hr": "hrv",
    "hu": "hun", "id": "ind", "it": "ita", "he": "heb", "iw": "heb", "ja": "jpn", "ko": "kor",
    "mi": "mri", "nl": "nld", "no": "nor", "pl": "pol", "pt": "por", "quz": "quz", "ro": "ron",
    "ru": "rus", "sv": "swe", "sw": "swa", "te": "tel", "th": "tha", "tr": "tur", "uk": "ukr",
    "vi": "vie", "zh": "zho", "ta": "tam", "ms": "zsm", "tl": "fil", "km": "khm", "lo": "lao",
    "my": "mya", "jv": "jav", "su": "sun", "mn": "mon", "ga": "gle", "am": "amh", "ur": "urd",
    "mr": "mar", "si": "sin", "ig": "ibo", "om": "orm", "rw": "kin", "bg": "bul", "nb": "nob",
    "zh-cn": "zho", "zh-tw": "zho",
}  # fmt: skip
LANG_NAMES: dict[str, str] = {
    "indonesian": "ind", "javanese": "jav", "sundanese": "sun", "minangkabau": "min",
    "balinese": "ban", "malay": "zsm", "filipino": "fil", "tagalog": "fil", "thai": "tha",
    "vietnamese": "vie", "chinese": "zho", "mandarin": "zho", "japanese": "jpn",
    "korean": "kor", "mongolian": "mon", "tamil": "tam", "telugu": "tel", "bengali": "ben",
    "hindi": "hin", "marathi": "mar", "urdu": "urd", "sinhala": "sin", "amharic": "amh",
    "oromo": "orm", "igbo": "ibo", "swahili": "swa", "kinyarwanda": "kin", "arabic": "ara",
    "egyptian arabic": "arz", "spanish": "spa", "portuguese": "por", "french": "fra",
    "russian": "rus", "bulgarian": "bul", "norwegian": "nor", "irish": "gle", "breton": "bre",
    "romanian": "ron", "english": "eng", "turkish": "tur", "khmer": "khm", "lao": "lao",
    "burmese": "mya",
}  # fmt: skip


def country_code(value: object) -> str:
    """'TH', 'th', 'Thailand' -> 'TH'; '' when unknown (a two-letter code must be one the
    table or pycountry knows: 'xx' is not a country)."""
    if value is None:
        return ""
    text = str(value).strip()
    if re.fullmatch(r"[A-Za-z]{2}", text):
        return text.upper() if text.upper() in KNOWN or _pycountry(text) else ""
    code = COUNTRY_NAMES.get(text.lower())
    if code:
        return code
    return _pycountry(text)


def _pycountry(text: str) -> str:
    try:  # optional, fuller table
        import pycountry

        return pycountry.countries.lookup(text).alpha_2
    except Exception:
        return ""


KNOWN = frozenset(COUNTRY_NAMES.values())


def lang_code(value: object) -> str:
    """'th', 'tha', 'Thai' -> 'tha'; '' when unknown."""
    if value is None:
        return ""
    text = str(value).strip().lower()
    if text in LANG3:
        return LANG3[text]
    if text in LANG_NAMES:
        return LANG_NAMES[text]
    if re.fullmatch(r"[a-z]{3}", text):
        return text
    return ""
