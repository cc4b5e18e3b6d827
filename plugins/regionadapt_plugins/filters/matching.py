"""One term matcher per pack and process, shared by the lexicon and gazetteer filters."""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING

from regionadapt.data.lexicon import TermMatcher, lexicon_terms, place_terms

if TYPE_CHECKING:
    from regionadapt.packs import RegionPack

_PACKS: dict[str, RegionPack] = {}


def pack_matcher(
    pack: RegionPack, categories: tuple[str, ...] = (), languages: tuple[str, ...] = (),
    places: bool = True, lexicon: bool = True, elsewhere: bool = True,
) -> TermMatcher:  # fmt: skip
    """A matcher over the pack's lexicon (these categories/languages), its place names and
    cities elsewhere; built once per distinct pack content and arguments (the gazetteer takes
    ~2 s to assemble). With the default arguments the lexicon and both gazetteer filters share
    one matcher, and its memo: a caption is scanned once for all three."""
    key = json.dumps(pack.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    _PACKS.setdefault(key, pack)
    return _build(key, categories, languages, places, lexicon, elsewhere)


@functools.lru_cache(maxsize=8)
def _build(key: str, categories, languages, places, lexicon, elsewhere) -> TermMatcher:
    pack = _PACKS[key]
    terms = []
    if lexicon:
        entries = [e for e in pack.lexicon if not categories or e.category in categories]
        sub = pack.model_copy(update={"lexicon": entries})
        terms += lexicon_terms(sub, list(languages) or None)
    if places:
        terms += place_terms(pack)
    if elsewhere:
        terms += place_terms(pack, elsewhere=True)
    matcher = TermMatcher(terms)
    _BUILT.append(matcher)
    return matcher


_BUILT: list[TermMatcher] = []


def forget_captions() -> None:
    """Empty every matcher's memo of recent captions (a benchmark that repeats captions from a
    small pool would otherwise time the memo, not the matching)."""
    for matcher in _BUILT:
        matcher._memo.clear()


class SoundMatcher:
    """Places elsewhere by sound-alike key, for captions in Thai, Lao or Burmese script."""

    def __init__(self, pack: RegionPack) -> None:
        from regionadapt.data.gazetteer import sound_keys_elsewhere

        self._places = sound_keys_elsewhere(pack)
        self._keys = list(self._places)
        self._build()

    def _build(self) -> None:
        import ahocorasick_rs

        self._search = (
            ahocorasick_rs.AhoCorasick(self._keys).find_matches_as_indexes if self._keys else None
        )

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_search"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._build()

    def find(self, text: str):
        """(the caption's key span, the place) of the first sound-alike place (the earliest end,
        the longest there), or None."""
        from regionadapt.data.soundalike import sound_key
        from regionadapt.data.text import normalise

        if self._search is None:
            return None
        found = self._search(sound_key(normalise(text)), overlapping=True)
        if not found:
            return None
        index = min(found, key=lambda m: (m[2], m[1]))[0]
        return self._keys[index], self._places[self._keys[index]]


def sound_matcher(pack: RegionPack) -> SoundMatcher:
    key = json.dumps(pack.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    _PACKS.setdefault(key, pack)
    return _build_sounds(key)


@functools.lru_cache(maxsize=8)
def _build_sounds(key: str) -> SoundMatcher:
    return SoundMatcher(_PACKS[key])
