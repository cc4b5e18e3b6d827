"""Sound-alike keys for foreign names written in Thai, Lao and Burmese script.

A foreign place is spelt in these scripts by ear, and two sources rarely agree letter for letter:
GeoNames writes Zürich ซูริก, a caption ซูริค (both final k); Juneau จูโนว์ / จูโน (a silent
letter); Dublin ဒပ်ဗလင် / ဒတ်ဘလင် (two letters for b, two for a stopped final). The key keeps
the vowels as written and replaces each consonant by its sound class, drops tone marks and
letters marked silent, so both spellings meet. Lao letters map onto the Thai classes: the two
alphabets are one family (Unicode lays them out in parallel), so Thai spellings of foreign names
also find Lao ones (Lusaka ลูซากา / ລູຊາກາ).

Used only to recognise places *elsewhere* (a caption in a regional language about Zürich): a
key is coarser than the spelling, so it would be too loose to place a caption in the region.
"""

from __future__ import annotations

import re

_THAI_CLASSES = {
    "k": "กขฃคฅฆ", "c": "จฉชฌ", "s": "ซศษส", "d": "ดฎ", "t": "ตฏ", "T": "ถทธฐฑฒ",
    "n": "นณ", "p": "ผพภ", "f": "ฝฟ", "l": "ลฬ", "h": "หฮ", "y": "ยญ", "b": "บ", "P": "ป",
    "m": "ม", "r": "ร", "w": "ว", "o": "อ", "g": "ง",
}  # fmt: skip
_LAO_CLASSES = {
    "k": "ກຂຄ", "c": "ຈ", "s": "ສຊ", "d": "ດ", "t": "ຕ", "T": "ຖທ", "n": "ນ", "p": "ຜພ",
    "f": "ຝຟ", "l": "ລ", "h": "ຫຮ", "y": "ຍຢຽ", "b": "ບ", "P": "ປ", "m": "ມ", "r": "ຣ",
    "w": "ວ", "o": "ອ", "g": "ງ",
}  # fmt: skip
_MYANMAR_SAME = {
    "ဘ": "ဗ",
    "ီ": "ိ",
    "ူ": "ု",
    "ါ": "ာ",
    "ဋ": "တ",
    "ဌ": "ထ",
    "ဍ": "ဒ",
    "ဏ": "န",
    "ဠ": "လ",
}

_TABLE: dict[int, str] = {}
for _cls, _letters in {**_THAI_CLASSES}.items():
    _TABLE.update({ord(ch): _cls for ch in _letters})
for _cls, _letters in _LAO_CLASSES.items():
    _TABLE.update({ord(ch): _cls for ch in _letters})
# Lao vowels -> the Thai vowel at the parallel code point (ະ -> ะ, ເ -> เ ...)
for _cp in list(range(0x0EB0, 0x0EBD)) + list(range(0x0EC0, 0x0EC5)):
    if _cp not in _TABLE:
        _TABLE[_cp] = chr(_cp - 0x80)
_TABLE[0x0EBB] = "\u0e31"  # Lao mai kon: the short vowel Thai writes with mai han-akat
_TABLE.update({cp: None for cp in range(0x0E47, 0x0E4D)})  # Thai tone marks, mai taikhu
_TABLE.update({cp: None for cp in range(0x0EC8, 0x0ECE)})  # Lao tone marks
_TABLE.update({ord(k): v for k, v in _MYANMAR_SAME.items()})
_TABLE.update({0x1037: None, 0x1038: None, 0x200B: None, ord(" "): None})  # Burmese tones, ZWSP

_THAI_SILENT = re.compile("[\u0e01-\u0e2e][\u0e34\u0e38]?\u0e4c")  # a letter killed by thanthakhat
_LAO_SILENT = re.compile("[\u0e81-\u0eae]\u0ecc")
_MY_STOPPED = re.compile("[ကခဂတထဒပဖဗဘစ][\u103a\u1039]")  # stopped finals all sound alike
_MY_NASAL = re.compile("[ငညနမဏ][\u103a\u1039]|\u1036")

SOUNDALIKE_SCRIPTS = frozenset({"Thai", "Laoo", "Mymr"})


def sound_key(text: str) -> str:
    """The sound-alike key of ``text`` (other scripts pass through unchanged)."""
    text = _THAI_SILENT.sub("", text)
    text = _LAO_SILENT.sub("", text)
    text = _MY_STOPPED.sub("K", text)
    text = _MY_NASAL.sub("N", text)
    return text.translate(_TABLE)
