"""Region packs: TOML files that declare a region's countries, languages, globalisation weight,
cultural lexicon, benchmarks and data sources. Nothing in the code is specific to one region.

The schema is documented key by key in docs/region-packs.md. Validation happens before any work
starts; every error names the file, the key path and what was expected.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from regionadapt.errors import PackError
from regionadapt.schema import Strict, read_toml, validate

ARCHS = ("embedding", "t2i", "lvlm")
CATEGORIES = (
    "food", "clothing", "architecture", "festival", "landmark", "craft",
    "performing-arts", "transport", "music", "religion", "nature",
)  # fmt: skip
TASKS = (
    "multiple-choice-vqa", "zero-shot-classification", "retrieval", "text-to-image",
    "geo-localisation", "values", "captioning",
)  # fmt: skip
SCHEMA_VERSION = 1

_ID = r"^[a-z][a-z0-9-]*$"
_ISO2 = r"^[A-Z]{2}$"
_ISO3 = r"^[a-z]{3}$"


class Globalisation(Strict):
    weight: float = Field(ge=0.0, le=1.0, description="a in GRP = a*Q_global + (1-a)*Q_regional")
    index: float | None = Field(default=None, ge=0.0, le=100.0)
    measure: str
    year: int | None = None
    source: str = Field(min_length=1)
    per_country: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _index_matches_weight(self) -> Globalisation:
        if self.index is not None and abs(self.index / 100.0 - self.weight) > 0.0051:
            raise ValueError(
                f"weight {self.weight} does not match index {self.index} (expected index / 100)"
            )
        return self


class Country(Strict):
    code: str = Field(pattern=_ISO2)
    name: str = Field(min_length=1)
    bbox: tuple[float, float, float, float] | None = None
    languages: list[str] = Field(default_factory=list)

    @field_validator("bbox")
    @classmethod
    def _bbox_order(cls, v):
        if v is None:
            return v
        min_lon, min_lat, max_lon, max_lat = v
        if not (-180 <= min_lon < max_lon <= 180 and -90 <= min_lat < max_lat <= 90):
            raise ValueError("expected [min_lon, min_lat, max_lon, max_lat] in degrees, min < max")
        return v


class Language(Strict):
    code: str = Field(pattern=_ISO3, description="ISO 639-3")
    name: str
    script: str = Field(pattern=r"^[A-Z][a-z]{3}$", description="ISO 15924")
    spaced: bool = Field(default=True, description="whether the script separates words with spaces")
    evidence: bool = Field(
        default=False,
        description=(
            "text in this language is evidence of the region: it is written mostly in the "
            "pack's countries (Thai, Khmer, Tagalog). False for languages shared with the "
            "world (English, Chinese, Portuguese): their text alone says nothing about where."
        ),
    )


class LexiconEntry(Strict):
    id: str = Field(pattern=_ID)
    category: Literal[CATEGORIES]  # type: ignore[valid-type]
    countries: list[str] = Field(min_length=1)
    description: str = Field(min_length=1)
    forms: dict[str, list[str]] = Field(min_length=1)
    ambiguous: list[str] = Field(
        default_factory=list,
        description=(
            "forms (as written in `forms`) that also mean something else (an everyday word, a "
            "name common elsewhere): they count only with a second signal in the same caption"
        ),
    )

    @field_validator("forms")
    @classmethod
    def _forms_not_empty(cls, v):
        for lang, forms in v.items():
            if not forms or any(not f.strip() for f in forms):
                raise ValueError(f"forms.{lang}: expected a non-empty list of non-empty strings")
        return v

    @model_validator(mode="after")
    def _ambiguous_are_forms(self) -> LexiconEntry:
        known = {f for forms in self.forms.values() for f in forms}
        bad = [f for f in self.ambiguous if f not in known]
        if bad:
            raise ValueError(f"ambiguous: {bad} are not among this entry's forms")
        return self


class Gazetteer(Strict):
    """Place names of the pack's countries for the `gazetteer` filter (GeoNames data, offline)."""

    min_population: int = Field(
        default=15000, ge=500, description="cities with at least this many inhabitants"
    )
    subdivisions: bool = Field(
        default=True, description="first-level subdivisions (provinces, states; ISO 3166-2)"
    )
    add: dict[str, list[str]] = Field(
        default_factory=dict, description="country code -> extra place names (any script)"
    )
    exclude: list[str] = Field(
        default_factory=list, description="names never matched (they mean something else)"
    )
    ambiguous: list[str] = Field(
        default_factory=list, description="names that count only with a second signal"
    )


class Benchmark(Strict):
    id: str = Field(pattern=_ID)
    name: str
    hub_id: str | None = None
    path: str | None = None
    split: str = "test"
    role: Literal["regional", "global", "report"]
    task: Literal[TASKS]  # type: ignore[valid-type]
    metric: str
    archs: list[Literal[ARCHS]] = Field(min_length=1)  # type: ignore[valid-type]
    slice: Literal["countries"] | None = None
    url: str | None = None
    description: str = ""


class DataSource(Strict):
    id: str = Field(pattern=_ID)
    name: str
    hub_id: str | None = None
    url: str | None = None
    license: str
    opt_out: str = ""
    description: str = ""


class RegionPack(Strict):
    schema_: int = Field(alias="schema")
    id: str = Field(pattern=_ID)
    name: str
    description: str = ""
    globalisation: Globalisation
    countries: list[Country] = Field(min_length=1)
    languages: list[Language] = Field(min_length=1)
    lexicon: list[LexiconEntry] = Field(default_factory=list)
    benchmarks: list[Benchmark] = Field(default_factory=list)
    data_sources: list[DataSource] = Field(default_factory=list)
    gazetteer: Gazetteer = Gazetteer()

    @field_validator("schema_")
    @classmethod
    def _known_schema(cls, v):
        if v != SCHEMA_VERSION:
            raise ValueError(
                f"unsupported schema version {v}; this regionadapt reads {SCHEMA_VERSION}"
            )
        return v

    @model_validator(mode="after")
    def _cross_references(self) -> RegionPack:
        errors = cross_reference_errors(self.model_dump(by_alias=True))
        if errors:
            raise ValueError("; ".join(errors))
        return self

    # -- convenience views used by filters, the demo world and evaluators ---------------------
    @property
    def country_codes(self) -> list[str]:
        return [c.code for c in self.countries]

    @property
    def language_codes(self) -> list[str]:
        return [lang.code for lang in self.languages]

    @property
    def evidence_languages(self) -> list[str]:
        """Languages whose text alone places a caption in the region."""
        return [lang.code for lang in self.languages if lang.evidence]

    def language(self, code: str) -> Language:
        for lang in self.languages:
            if lang.code == code:
                return lang
        raise KeyError(code)

    @property
    def a(self) -> float:
        """The globalisation weight used by Global-Regional Parity."""
        return self.globalisation.weight


@dataclass(frozen=True)
class PackSource:
    """A registered pack: its id (read cheaply) and where it lives. Validated on first use.

    ``error`` is set when the pack could not be registered (its file is missing or not TOML,
    its id is unusable or already taken): using it raises that error, listing it shows it.
    """

    id: str
    path: Path
    error: str | None = None

    @cached_property
    def pack(self) -> RegionPack:
        if self.error is not None:
            raise PackError(self.error)
        return load_pack(self.path)


def pack_source(obj: str | Path) -> PackSource:
    path = Path(obj)
    data = read_toml(path, PackError)
    pack_id = data.get("id")
    if not isinstance(pack_id, str) or not re.match(_ID, pack_id):
        raise PackError(f"{path}: id: expected a lowercase id such as 'sea' (got {pack_id!r})")
    return PackSource(id=pack_id, path=path)


def add_pack(reg, obj: object, owner: str) -> None:
    """Register one pack a plugin gave; a pack that cannot be read is kept aside as invalid
    (listed with its error), so that one bad pack never hides the others."""
    try:
        source = pack_source(obj if isinstance(obj, (str, Path)) else str(obj))
    except (PackError, OSError, ValueError) as exc:  # unreadable, not TOML, not UTF-8
        reg.reject(PackSource(id="?", path=Path(str(obj)), error=str(exc)), owner)
        return
    if source.id in reg:
        first = reg.get(source.id)
        error = (
            f"{source.path}: id {source.id!r} is already provided by plugin "
            f"{reg.describe(reg.owner(source.id))} ({first.path}); this copy from plugin "
            f"{reg.describe(owner)} is ignored: rename one of them"
        )
        reg.reject(PackSource(id=source.id, path=source.path, error=error), owner)
        print(f"regionadapt: region pack {error}", file=sys.stderr)
        return
    reg.add(source.id, source, owner)


def load_pack(path: str | Path) -> RegionPack:
    """Read and validate a pack file. Raises :class:`PackError` naming the file and key path."""
    path = Path(path)
    data = read_toml(path, PackError)
    return validate(RegionPack, data, str(path), PackError)


def pack_path(id_or_path: str | Path, base: Path | None = None) -> Path:
    """The file a region names: a path (``./my-region.toml``; relative paths are tried against
    ``base``, the folder of the project file naming it, first) or a registered pack id
    (``sea``). The one rule every command uses."""
    text = str(id_or_path)
    if text.endswith(".toml") or "/" in text or Path(text).is_file():
        path = Path(text).expanduser()
        if base is not None and not path.is_absolute() and (base / path).is_file():
            return base / path
        return path
    from regionadapt.plugins import registry

    return Path(registry("region_packs").get(text).path)


def get_pack(id_or_path: str | Path, base: Path | None = None) -> RegionPack:
    """A pack by registered id (``sea``) or by file path (``./my-region.toml``)."""
    return load_pack(pack_path(id_or_path, base))


def _items(data: dict[str, Any], key: str) -> list[tuple[int, dict[str, Any]]]:
    """(index, table) of an array of tables, skipping what is not a table."""
    value = data.get(key)
    if not isinstance(value, list):
        return []
    return [(i, v) for i, v in enumerate(value) if isinstance(v, dict)]


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list | dict) else []


def cross_reference_errors(data: dict[str, Any]) -> list[str]:
    """Every reference between a pack's tables that points nowhere (a lexicon form in an
    undeclared language, a country tag that is not a pack country, duplicate ids...), on the
    raw TOML data: `regions validate` reports these together with the field errors, even when
    some fields do not parse (what cannot be read is skipped here, and reported by the schema).
    The model's own check runs this on the parsed pack."""
    errors: list[str] = []
    countries = _items(data, "countries")
    languages = _items(data, "languages")
    lexicon = _items(data, "lexicon")
    benchmarks = _items(data, "benchmarks")
    codes = [c["code"] for _, c in countries if isinstance(c.get("code"), str)]
    langs = [lang["code"] for _, lang in languages if isinstance(lang.get("code"), str)]
    # a code written in the wrong case is the schema's error; references to it are not broken
    known = {c.upper() for c in codes}
    for kind, rows in (("countries", countries), ("languages", languages)):
        ids = [r.get("code") for _, r in rows if isinstance(r.get("code"), str)]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            errors.append(f"{kind}: duplicate ids {dup}")
    for kind, rows in (("lexicon", lexicon), ("benchmarks", benchmarks)):
        ids = [r.get("id") for _, r in rows if isinstance(r.get("id"), str)]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            errors.append(f"{kind}: duplicate ids {dup}")
    for i, c in countries:
        for lang in _strings(c.get("languages")):
            if lang not in langs:
                errors.append(
                    f"countries[{i}].languages: {lang!r} is not declared in [[languages]]"
                )
    glob = data.get("globalisation")
    per_country = glob.get("per_country") if isinstance(glob, dict) else None
    for code in _strings(per_country):
        if code.upper() not in known:
            errors.append(f"globalisation.per_country: {code!r} is not one of the pack's countries")
    for i, e in lexicon:
        eid = e.get("id")
        for lang in _strings(e.get("forms")):
            if lang not in langs:
                errors.append(
                    f"lexicon[{i}] ({eid}).forms: language {lang!r} is not declared in "
                    f"[[languages]] (declared: {', '.join(langs)})"
                )
        for c in _strings(e.get("countries")):
            if c.upper() not in known:
                errors.append(
                    f"lexicon[{i}] ({eid}).countries: {c!r} is not one of the pack's "
                    f"countries ({', '.join(codes)})"
                )
    gaz = data.get("gazetteer")
    for code in _strings(gaz.get("add") if isinstance(gaz, dict) else None):
        if code.upper() not in known:
            errors.append(f"gazetteer.add: {code!r} is not one of the pack's countries")
    for i, b in benchmarks:
        if not (b.get("hub_id") or b.get("path") or b.get("url")):
            errors.append(
                f"benchmarks[{i}] ({b.get('id')}): expected at least one of hub_id, path, url"
            )
    return errors
