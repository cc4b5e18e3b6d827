"""Find a region pack's terms (lexicon forms, place names) in text with one Aho-Corasick automaton.

One pass over the text finds every surface form of every term, in every script, whatever their
number (a loop of regexes costs one pass per term: ~40x slower at 500 terms). Terms written in
a script without spaces (Thai, Lao, Khmer, Burmese, Chinese...) or listed under a language the
pack marks ``spaced = false`` match anywhere; other terms must sit between word boundaries, so
that "sate" does not fire inside "satellite". Where hits overlap, the longest wins: "Khon Kaen"
(a city) hides "khon" (a masked dance) inside it.

A term may be *ambiguous* (a lexicon form marked so in the pack, a place name shared with a
city elsewhere, a Latin place name in an all-lowercase caption): it counts only when the caption
holds a second, distinct term (:func:`decide`).
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING, NamedTuple

from regionadapt.data.text import UNSPACED_SCRIPTS, cached_script, is_word_char, normalise

if TYPE_CHECKING:
    from regionadapt.packs import RegionPack


class Term(NamedTuple):
    entry_id: str  # lexicon entry id, or "place:<name>" for a gazetteer name
    category: str  # lexicon category, or the place kind (city, subdivision, country)
    lang: str  # the form's language (lexicon) or the place's country code (gazetteer)
    kind: str  # "lexicon" | "place"
    bounded: bool  # needs word boundaries
    ambiguous: bool
    capital: bool  # a Latin place name: must start with a capital letter in the caption


class Hit(NamedTuple):  # a tuple: made ~0.5 times a caption, cheaper than a frozen dataclass
    entry_id: str
    category: str
    lang: str
    form: str
    start: int  # in the normalised text
    end: int  # exclusive
    kind: str = "lexicon"
    ambiguous: bool = False


def _bounded(key: str, spaced: bool) -> bool:
    return spaced and not any(cached_script(ch) in UNSPACED_SCRIPTS for ch in key)


def _logographic(key: str) -> bool:
    """Han or kana: a character is a syllable or a word, so two of them make a real word."""
    return any(cached_script(ch) in ("Hani", "Hira", "Kana") for ch in key)


def lexicon_terms(pack: RegionPack, languages: list[str] | None = None) -> list[tuple[str, Term]]:
    spaced = {lang.code: lang.spaced for lang in pack.languages}
    out = []
    for entry in pack.lexicon:
        ambiguous = {normalise(f.strip()) for f in entry.ambiguous}
        for lang, forms in entry.forms.items():
            if languages is not None and lang not in languages:
                continue
            for form in forms:
                key = normalise(form.strip())
                bounded = _bounded(key, spaced.get(lang, True))
                # two characters without word boundaries fire inside longer words
                # (three, like Thai แคน "khaen" inside แคนทอน "Canton", mostly do not): a second
                # signal is needed
                short = not bounded and len(key) < 3 and not _logographic(key)
                amb = key in ambiguous or short
                term = Term(entry.id, entry.category, lang, "lexicon", bounded, amb, False)
                out.append((key, term))
    return out


def place_terms(pack: RegionPack, elsewhere: bool = False) -> list[tuple[str, Term]]:
    """The pack's place names (kind "place"), or cities outside its countries ("elsewhere")."""
    from regionadapt.data.gazetteer import places, places_elsewhere

    kind = "elsewhere" if elsewhere else "place"
    out = []
    for p in places_elsewhere(pack) if elsewhere else places(pack):
        key = normalise(p.name)
        bounded = _bounded(key, True)
        latin = any(cached_script(ch) == "Latn" for ch in key)
        term = Term(f"{kind}:{p.name}", p.kind, p.country, kind, bounded, p.ambiguous, latin)
        out.append((key, term))
    return out


class TermMatcher:
    """Built once per process (``setup``); picklable so worker processes can use it (the automaton
    is rebuilt from the keys on arrival: it cannot be pickled)."""

    def __init__(self, terms: list[tuple[str, Term]]) -> None:
        payloads: dict[str, list[Term]] = {}
        for key, term in terms:
            if key:
                payloads.setdefault(key, []).append(term)
        self._keys = list(payloads)
        # per key: (key, its length, its terms), looked up by the automaton's pattern index
        self._payloads = [(key, len(key), tuple(items)) for key, items in payloads.items()]
        self.size = len(self._keys)
        self._build()
        self._memo: dict[str, list[Hit]] = {}

    def _build(self) -> None:
        import ahocorasick_rs

        # every match, overlapping ones too (the longest wins later, after the word checks)
        self._search = (
            ahocorasick_rs.AhoCorasick(self._keys).find_matches_as_indexes if self._keys else None
        )

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_search"} | {"_memo": {}}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._build()

    def find(self, text: str, first_only: bool = False) -> list[Hit]:
        """Every hit in ``text`` (after :func:`normalise`), longest first where hits overlap.

        The last few thousand answers are remembered: the filters sharing this matcher (lexicon,
        gazetteer, gazetteer elsewhere) ask about the same caption one after the other."""
        hits = self._memo.get(text)
        if hits is None:
            hits = self._find(text)
            if len(self._memo) >= 4096:
                self._memo.clear()
            self._memo[text] = hits
        return hits[:1] if first_only else hits

    def _find(self, text: str) -> list[Hit]:
        if not self.size or not text:
            return []
        nfc = text if text.isascii() else unicodedata.normalize("NFC", text)
        norm = nfc.casefold()
        found = self._search(norm, overlapping=True)
        if not found:
            return []
        if len(found) > 1:
            # by end, the longest first at one end (the order the hits are reported in)
            found.sort(key=_end_then_longest)
        aligned = len(norm) == len(nfc)  # casefold changed no length: positions map back
        lowercase_caption = nfc == norm
        n = len(norm)
        payloads = self._payloads
        hits: list[Hit] = []
        for index, start, end in found:
            key, length, items = payloads[index]
            boundary_ok = (start == 0 or not is_word_char(norm[start - 1]) or _prefixed(norm, start, length)) and (
                end >= n or not is_word_char(norm[end]) or _particle(norm, end)
            )  # fmt: skip
            for t in items:
                if t.bounded and not boundary_ok:
                    if not (t.capital and aligned and _locative(nfc, start, end)):
                        continue
                ambiguous = t.ambiguous
                if t.capital:
                    if not lowercase_caption:
                        if aligned and not nfc[start].isupper():
                            continue  # "bang" is not Bang (a place); "Bang Na" is
                        # (a country or province elsewhere, from the ISO lists, only vetoes:
                        # "Idaho at night" is foreign enough; GeoNames' alternate names of
                        # cities elsewhere hold everyday words, "Warna" is Varna in Polish)
                        short = 4 if t.kind == "elsewhere" and t.category != "city" else 5
                        if length <= short and _sentence_start(norm, start):
                            ambiguous = True  # capitalised by position only? ("Soko la Mombasa")
                    else:
                        ambiguous = True  # an all-lowercase caption cannot show a proper name
                    if _hyphenated(norm, start, end):
                        ambiguous = True  # part of a compound ("Ende-Zeit" is German for end time)
                hits.append(Hit(t.entry_id, t.category, t.lang, key, start, end, t.kind, ambiguous))
        if len(hits) > 1:
            hits = _longest(hits)
        return hits

    def first(self, text: str) -> Hit | None:
        hits = self.find(text, first_only=True)
        return hits[0] if hits else None


# Words written onto a name without a space. Hebrew and Arabic join one-letter prepositions and
# conjunctions to the next word (במאקאסאר "in Makassar", وبانكوك "and Bangkok"); Korean puts
# its case particles after it (방콕의 "of Bangkok"). A name is still a whole word when all that
# touches it is one of these.
_PREFIX_LETTERS = frozenset("בלמהושכوبلفك")
_KOREAN_PARTICLES = (
    "에서",
    "으로",
    "까지",
    "부터",
    "의",
    "에",
    "은",
    "는",
    "이",
    "가",
    "을",
    "를",
    "과",
    "와",
    "로",
    "도",
    "만",
)


def _end_then_longest(match: tuple[int, int, int]) -> tuple[int, int]:
    return match[2], match[1]


def _prefixed(text: str, start: int, length: int) -> bool:
    """Up to two prefix letters (Hebrew, Arabic) between a word start and the name at ``start``.
    Names of 5 letters or more only: a short one is too often the tail of a longer word (יוון,
    Greece, in כיוון, "direction")."""
    if length < 5 or text[start] < "\u0590" or text[start] > "\u06ff":
        return False
    for k in (1, 2):
        if start - k < 0 or text[start - k] not in _PREFIX_LETTERS:
            return False
        if start - k == 0 or not is_word_char(text[start - k - 1]):
            return True
    return False


def _particle(text: str, at: int) -> bool:
    """A Korean particle from ``at`` to a word end, after a name ending in Hangul."""
    if not ("\uac00" <= text[at - 1] <= "\ud7af"):
        return False
    for p in _KOREAN_PARTICLES:
        if text.startswith(p, at):
            after = at + len(p)
            return after >= len(text) or not is_word_char(text[after])
    return False


def _hyphenated(text: str, start: int, end: int) -> bool:
    """Joined by a hyphen to a word of 3+ letters ("Ende-Zeit"); a short prefix is not a word
    (Zulu "ei-Accra", Arabic "al-Quds")."""
    after = end + 3 < len(text) and text[end] == "-" and text[end + 1 : end + 4].isalpha()
    before = start >= 4 and text[start - 1] == "-" and text[start - 4 : start - 1].isalpha()
    return after or before


def _locative(text: str, start: int, end: int) -> bool:
    """A capitalised name with a short lower-case prefix written onto it and nothing after:
    Bantu locatives ("eMiddelburg", "eGoli", "kwaZulu"). ``text`` is the caption as written."""
    if not text[start].isupper() or (end < len(text) and is_word_char(text[end])):
        return False
    i = start
    while i > 0 and text[i - 1].isalpha():
        i -= 1
    prefix = text[i:start]
    return 1 <= len(prefix) <= 3 and prefix.isascii() and prefix.islower()


def _sentence_start(text: str, start: int) -> bool:
    before = text[:start].rstrip()
    return not before or before[-1] in ".!?:;\"'(“‘"


def _longest(hits: list[Hit]) -> list[Hit]:
    """Drop hits lying inside a longer hit (same span counts as kept: several entries share it)."""
    spans = [(h.start, h.end) for h in hits]
    return [
        h
        for h in hits
        if not any(s <= h.start and h.end <= e and (e - s) > (h.end - h.start) for s, e in spans)
    ]


def decide(hits: list[Hit], kind: str | None = None) -> Hit | None:
    """The hit that places the caption in the region, or None.

    An unambiguous hit of ``kind`` (any kind when None) decides; an ambiguous one needs a second
    hit of a different entry (of any kind) in the same caption."""
    mine = [h for h in hits if kind is None or h.kind == kind]
    for h in mine:
        if not h.ambiguous:
            return h
    for h in mine:
        # a city elsewhere confirms nothing about the region
        if any(o.entry_id != h.entry_id and o.kind != "elsewhere" for o in hits):
            return h
    return None


class LexiconMatcher(TermMatcher):
    """The pack's lexicon forms (optionally of some languages only)."""

    def __init__(self, pack: RegionPack, languages: list[str] | None = None) -> None:
        super().__init__(lexicon_terms(pack, languages))
