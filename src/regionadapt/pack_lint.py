"""Checks and comparisons on region packs beyond the schema: placeholders, pack diffs."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from regionadapt.schema import key_path

if TYPE_CHECKING:
    from regionadapt.packs import RegionPack

# Words a skeleton or a hurried author leaves where a fact belongs.
_PLACEHOLDER = re.compile(r"\b(TODO|TBD|FIXME|XXX|LOREM IPSUM)\b", re.IGNORECASE)


def placeholders(data: Any, path: tuple = ()) -> list[tuple[str, str]]:
    """(key path, message) for every string value holding a placeholder word."""
    out: list[tuple[str, str]] = []
    if isinstance(data, dict):
        for k, v in data.items():
            out += placeholders(v, path + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += placeholders(v, path + (i,))
    elif isinstance(data, str):
        m = _PLACEHOLDER.search(data)
        if m:
            out.append((key_path(path), f"placeholder {m.group(0)!r} left in {data!r}; write the real value (or, "
                        "for a source, where it comes from)"))  # fmt: skip
    return out


def _by_id(items, key="id") -> dict[str, Any]:
    return {getattr(i, key): i for i in items}


def diff_packs(a: RegionPack, b: RegionPack) -> list[str]:
    """Human-readable differences from pack ``a`` to pack ``b``."""
    lines: list[str] = []
    for field in ("id", "name"):
        if getattr(a, field) != getattr(b, field):
            lines.append(f"~ {field}: {getattr(a, field)!r} -> {getattr(b, field)!r}")
    ga, gb = a.globalisation, b.globalisation
    if ga.weight != gb.weight or ga.source != gb.source:
        lines.append(f"~ globalisation.weight: {ga.weight} -> {gb.weight} (source: {gb.source})")
    for kind, key, show in (
        ("countries", "code", lambda c: f"{c.code} {c.name}"),
        ("languages", "code", lambda lang: f"{lang.code} ({lang.name}, {lang.script}"
                                            f"{', evidence' if lang.evidence else ''})"),
        ("lexicon", "id", lambda e: f"{e.id} ({e.category}; {', '.join(e.countries)})"),
        ("benchmarks", "id", lambda bm: f"{bm.id} ({bm.role}, {bm.hub_id or bm.url or bm.path})"),
    ):  # fmt: skip
        old, new = _by_id(getattr(a, kind), key), _by_id(getattr(b, kind), key)
        for k in sorted(set(old) - set(new)):
            lines.append(f"- {kind} {show(old[k])}")
        for k in sorted(set(new) - set(old)):
            lines.append(f"+ {kind} {show(new[k])}")
        for k in sorted(set(old) & set(new)):
            if old[k] != new[k]:
                da, db = old[k].model_dump(), new[k].model_dump()
                changed = [f for f in da if da[f] != db[f]]
                lines.append(f"~ {kind} {k}: {', '.join(changed)}")
    if a.gazetteer != b.gazetteer:
        da, db = a.gazetteer.model_dump(), b.gazetteer.model_dump()
        lines.append("~ gazetteer: " + ", ".join(f for f in da if da[f] != db[f]))
    return lines
