"""Keep samples whose metadata places them in the pack's region: country code or coordinates."""

from __future__ import annotations

import json
import math
from typing import Any, ClassVar, Literal

from regionadapt.components import Context, Filter
from regionadapt.schema import Strict

_LAT_KEYS = ("lat", "latitude")
_LON_KEYS = ("lon", "lng", "longitude")


class RegionMetadataFilter(Filter):
    name: ClassVar[str] = "region"
    description: ClassVar[str] = (
        "Keeps a sample when its country code (ISO 3166 alpha-2) is one of the pack's countries "
        "or its coordinates (meta lat/lon) fall inside one of the pack's country bounding boxes. "
        "Without metadata (most web captions) it drops, keeps or defers to the other members of "
        "an any_of group (`unknown`)."
    )

    class Params(Strict):
        # Which signal decides: either one inside is enough; or only one kind; or both inside.
        require: Literal["either", "country", "coordinates", "both"] = "either"
        # A sample with no usable region metadata: "drop" it, "keep" it, or "defer": abstain
        # (no evidence either way), so that the other members of an any_of group (lexicon,
        # gazetteer, language) decide; as a top-level step a deferred sample passes on.
        unknown: Literal["drop", "keep", "defer"] = "drop"

    def setup(self, ctx: Context) -> None:
        self._codes = set(ctx.pack.country_codes)
        self._boxes = [(c.code, c.bbox) for c in ctx.pack.countries if c.bbox is not None]

    def _coords(self, meta: dict[str, Any]) -> tuple[float, float] | None | str:
        lat = next((meta[k] for k in _LAT_KEYS if k in meta), None)
        lon = next((meta[k] for k in _LON_KEYS if k in meta), None)
        if lat is None or lon is None:
            return None
        try:
            lat_f, lon_f = float(lat), float(lon)
        except (TypeError, ValueError):
            return f"bad-coordinates: lat={lat!r} lon={lon!r} are not numbers"
        if not (
            math.isfinite(lat_f)
            and math.isfinite(lon_f)
            and -90 <= lat_f <= 90
            and -180 <= lon_f <= 180
        ):
            return f"bad-coordinates: lat={lat_f} lon={lon_f} out of range"
        return lat_f, lon_f

    def keep(self, sample: dict[str, Any]) -> bool | tuple[bool, str]:
        raw = sample.get("meta")
        if (not raw or raw == "{}") and not sample.get("country"):
            return self._unknown("")  # no metadata at all (most web captions): no JSON to parse
        try:
            meta = json.loads(raw or "{}")
        except json.JSONDecodeError as exc:
            return False, f"bad-meta: not JSON ({exc.msg})"
        if not isinstance(meta, dict):
            meta = {}
        country = (sample.get("country") or "").strip().upper()
        country_ok = (country in self._codes) if country else None
        coords = self._coords(meta)
        if isinstance(coords, str):
            return False, coords
        coords_ok = None
        if coords is not None and self._boxes:
            lat, lon = coords
            coords_ok = any(b[0] <= lon <= b[2] and b[1] <= lat <= b[3] for _, b in self._boxes)
        signals = {
            "either": (country_ok, coords_ok),
            "country": (country_ok,),
            "coordinates": (coords_ok,),
            "both": (country_ok, coords_ok),
        }[self.params.require]
        known = [s for s in signals if s is not None]
        if not known or (self.params.require == "both" and len(known) < 2):
            return self._unknown(country)
        ok = all(known) if self.params.require == "both" else any(known)
        if ok:
            return True, f"country {country}" if country_ok else "coordinates in a country box"
        if country_ok is False:
            return False, f"country-not-in-pack: {country}"
        return False, f"outside-region: lat={coords[0]} lon={coords[1]} in no country box"

    def _unknown(self, country: str) -> tuple[bool | None, str]:
        why = f"no-region-metadata: needs {self.params.require} (country={country!r})"
        if self.params.unknown == "keep":
            return True, why
        return (None if self.params.unknown == "defer" else False), why
