"""The demo world is generated from any region pack, deterministically, with disjoint splits."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from regionadapt_plugins.demo_world.concepts import global_concepts
from regionadapt_plugins.demo_world.world import DemoWorld

from regionadapt.errors import StageError
from regionadapt.packs import get_pack, load_pack

MINI = """
schema = 1
id = "andes"
name = "Andes"
[globalisation]
weight = 0.5
measure = "test"
source = "made up for a test"
[[countries]]
code = "PE"
name = "Peru"
bbox = [-81.4, -18.4, -68.6, 0.0]
[[countries]]
code = "BO"
name = "Bolivia"
[[languages]]
code = "spa"
name = "Spanish"
script = "Latn"
[[languages]]
code = "que"
name = "Quechua"
script = "Latn"
[[languages]]
code = "eng"
name = "English"
script = "Latn"
{entries}
"""
ENTRY = """
[[lexicon]]
id = "{id}"
category = "{cat}"
countries = ["{cc}"]
description = "a thing"
forms = {{ spa = ["{id} es"], que = ["{id} qu"], eng = ["{id}"] }}
"""


def mini_pack(tmp_path, n=6):
    cats = ["food", "clothing", "craft"]
    entries = "".join(
        ENTRY.format(id=f"thing-{i}", cat=cats[i % 3], cc="PE" if i % 2 else "BO") for i in range(n)
    )
    path = tmp_path / "andes.toml"
    path.write_text(MINI.format(entries=entries))
    return load_pack(path)


def test_any_pack_gets_its_own_world(tmp_path):
    pack = mini_pack(tmp_path)
    world = DemoWorld(pack, regional_concepts=4)
    assert {c.id for c in world.regional} <= {e.id for e in pack.lexicon}
    assert len(world.regional) == 4
    # distractors never come from the pack's own countries; the SEA pack's own things are
    # not distractors here, and Peru's are not SEA's
    assert all(c.countries[0] not in ("PE", "BO") for c in world.distractors)
    signatures = [c.signature for c in world.global_ + world.regional + world.distractors]
    assert len(signatures) == len(set(signatures)), "every concept must look different"


def test_pool_is_deterministic_and_labelled(tmp_path):
    pack = mini_pack(tmp_path)
    a = list(
        DemoWorld(pack, regional_concepts=4).pool(
            per_regional=3, per_global=1, per_distractor=1, corrupt=2
        )
    )
    b = list(
        DemoWorld(pack, regional_concepts=4).pool(
            per_regional=3, per_global=1, per_distractor=1, corrupt=2
        )
    )
    assert [s["id"] for s in a] == [s["id"] for s in b] and a[0]["image"] == b[0]["image"]
    kinds = {}
    for s in a:
        kind = "corrupt" if '"corrupt": true' in s["meta"] else s["url"].split("/")[3]
        kinds[kind] = kinds.get(kind, 0) + 1
    assert kinds == {
        "regional": 12,
        "global": 24,
        "distractor": len(DemoWorld(pack).distractors),
        "corrupt": 2,
    }
    regional = [s for s in a if "/regional/" in s["url"] and '"corrupt"' not in s["meta"]]
    assert all(
        s["country"] in ("PE", "BO") and s["lang"] in ("spa", "que", "eng") for s in regional
    )
    decoded = Image.open(io.BytesIO(regional[0]["image"]))
    assert decoded.size == (32, 32)
    with pytest.raises(OSError):  # PIL: truncated image file
        Image.open(io.BytesIO([s for s in a if '"corrupt"' in s["meta"]][0]["image"])).load()


def test_benchmark_splits_never_share_a_picture():
    world = DemoWorld(get_pack("sea"), regional_concepts=8)
    val = world.regional_benchmark("validation", per_concept=3)
    test = world.regional_benchmark("test", per_concept=3)
    assert not {r["image"] for r in val} & {r["image"] for r in test}
    for row in test:
        assert len(row["options"]) == 8 and len(set(row["options"])) == 8
        assert 0 <= row["answer"] < 8
    glob = world.global_benchmark("test", per_concept=2)
    assert {r["label"] for r in glob} == {c.id for c in global_concepts()}


def _concept_of(world, row):
    import json

    return next(c for c in world.regional if c.id == json.loads(row["meta"])["concept"])


def test_regional_benchmark_is_hard_enough_not_to_saturate():
    """Every pack language is asked; wrong names are of look-alike concepts; names are phrased
    as the training pool never phrases them."""
    pack = get_pack("sea")
    world = DemoWorld(pack, regional_concepts=24)
    rows = world.regional_benchmark("test", per_concept=8)
    named = {lang for e in pack.lexicon for lang in e.forms}
    assert {r["lang"] for r in rows} == named == {lang.code for lang in pack.languages}
    by_name = {}
    for c in world.regional:
        for forms in c.forms.values():
            for f in forms:
                by_name.setdefault(f, set()).add(c.id)
    shared = 0
    for r in rows:
        c = _concept_of(world, r)
        right = r["options"][r["answer"]]
        assert any(f in right for forms in c.forms.values() for f in forms)
        for i, opt in enumerate(r["options"]):
            if i == r["answer"]:
                continue
            others = [
                o for o in world.regional if any(f in opt for fs in o.forms.values() for f in fs)
            ]
            sig = c.signature
            shared += any(o.signature.shape == sig.shape or o.signature.colour == sig.colour
                          for o in others if o.id != c.id)  # fmt: skip
    # half of the seven wrong names share shape or colour where such concepts exist
    assert shared / (7 * len(rows)) > 0.35
    pool_texts = {
        s["text"] for s in world.pool(per_regional=60, per_global=0, per_distractor=0, corrupt=0)
    }
    unseen = [r["options"][r["answer"]] not in pool_texts for r in rows]
    # English is always phrased anew; other languages where the lexicon has a synonym to hold out
    assert all(u for u, r in zip(unseen, rows) if r["lang"] == "eng")
    assert any(u for u, r in zip(unseen, rows) if r["lang"] != "eng")


def test_a_pack_without_enough_lexicon_is_refused(tmp_path):
    pack = mini_pack(tmp_path, n=2)
    with pytest.raises(StageError, match="needs at least 4"):
        _ = DemoWorld(pack).regional
