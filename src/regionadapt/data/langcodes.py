"""ISO 639-3 (what region packs use) <-> the codes language identifiers speak (mostly ISO 639-1).

A small table instead of a dependency: the identifiers we use (py3langid, fastText lid.176)
label languages with ISO 639-1 where one exists and ISO 639-3 otherwise, so a pack code maps to
its 639-1 twin when there is one and stays as it is otherwise. Macrolanguage members that
identifiers do not tell apart (zsm/msa -> ms, cmn/zho -> zh, fil/tgl -> tl) share a label.
"""

from __future__ import annotations

# ISO 639-3 (and common 639-2/B or macro codes) -> ISO 639-1.
ISO3_TO_1: dict[str, str] = {
    "afr": "af", "amh": "am", "ara": "ar", "arb": "ar", "asm": "as", "aze": "az", "bak": "ba",
    "bel": "be", "ben": "bn", "bod": "bo", "bos": "bs", "bre": "br", "bul": "bg", "cat": "ca",
    "ces": "cs", "cym": "cy", "dan": "da", "deu": "de", "dzo": "dz", "ell": "el", "eng": "en",
    "epo": "eo", "est": "et", "eus": "eu", "fas": "fa", "pes": "fa", "fin": "fi", "fao": "fo",
    "fra": "fr", "fry": "fy", "gle": "ga", "gla": "gd", "glg": "gl", "guj": "gu", "hau": "ha",
    "heb": "he", "hin": "hi", "hrv": "hr", "hat": "ht", "hun": "hu", "hye": "hy", "ind": "id",
    "ibo": "ig", "isl": "is", "ita": "it", "jpn": "ja", "jav": "jv", "kat": "ka", "kaz": "kk",
    "khm": "km", "kan": "kn", "kor": "ko", "kur": "ku", "kir": "ky", "lat": "la", "ltz": "lb",
    "lug": "lg", "lin": "ln", "lao": "lo", "lit": "lt", "lav": "lv", "mlg": "mg", "mkd": "mk",
    "mal": "ml", "mon": "mn", "mar": "mr", "msa": "ms", "zsm": "ms", "mlt": "mt", "mya": "my",
    "nep": "ne", "npi": "ne", "nld": "nl", "nno": "nn", "nor": "no", "nob": "no", "oci": "oc",
    "orm": "om", "ori": "or", "ory": "or", "pan": "pa", "pol": "pl", "pus": "ps", "por": "pt",
    "que": "qu", "ron": "ro", "rus": "ru", "kin": "rw", "san": "sa", "sme": "se", "sin": "si",
    "slk": "sk", "slv": "sl", "sna": "sn", "som": "so", "spa": "es", "sqi": "sq", "srp": "sr",
    "sot": "st",
    "swe": "sv", "swa": "sw", "swh": "sw", "tam": "ta", "tel": "te", "tgk": "tg", "tha": "th",
    "tuk": "tk", "tgl": "tl", "fil": "tl", "tur": "tr", "tat": "tt", "uig": "ug", "ukr": "uk",
    "urd": "ur", "uzb": "uz", "vie": "vi", "vol": "vo", "wln": "wa", "xho": "xh", "yor": "yo",
    "zho": "zh", "cmn": "zh", "zul": "zu",
}  # fmt: skip


# The reverse, keeping the first (canonical individual or macro) code listed for each label.
ISO1_TO_3: dict[str, str] = {}
for _three, _one in ISO3_TO_1.items():
    ISO1_TO_3.setdefault(_one, _three)


def to_model_label(code: str, labels: set[str] | frozenset[str]) -> str | None:
    """The identifier's label for an ISO 639-3 ``code``, or None when it cannot recognise it."""
    if code in labels:
        return code
    short = ISO3_TO_1.get(code)
    if short is not None and short in labels:
        return short
    return None
