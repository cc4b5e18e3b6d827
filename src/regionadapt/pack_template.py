"""The skeleton ``regionadapt regions new ID`` writes: valid as written, TODOs to fill in."""

from __future__ import annotations


def skeleton(pack_id: str) -> str:
    return f'''# Region pack "{pack_id}". Reference: docs/region-packs.md; a full example: regions/sea.toml.
schema = 1
id = "{pack_id}"
name = "TODO region name"
description = "TODO one or two sentences"

[globalisation]
# a in GRP = a*Q_global + (1-a)*Q_regional: the mean KOF "de facto interpersonal" globalisation
# index over the region's countries, / 100. Cite the source; never invent per-country values.
weight = 0.5
index = 50.0
measure = "KOF Globalisation Index, de facto interpersonal globalisation (KOFIpGIdf), regional mean"
year = 2023
source = "TODO: where the value comes from"

[[countries]]
code = "XX"                       # ISO 3166-1 alpha-2
name = "TODO country"
bbox = [-10.0, -10.0, 10.0, 10.0] # [min_lon, min_lat, max_lon, max_lat]
languages = ["eng"]

[[languages]]
code = "eng"                      # ISO 639-3
name = "English"
script = "Latn"                   # ISO 15924
spaced = true                     # false for scripts written without spaces between words

[[lexicon]]                       # the region's cultural concepts; the demo world draws them
id = "todo-dish"
category = "food"
countries = ["XX"]
description = "TODO a concrete, visual one-line description"
forms = {{ eng = ["todo dish"] }}
'''
