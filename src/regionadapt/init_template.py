"""The documented ``regionadapt.toml`` that ``regionadapt init`` writes, for one or more archs.

Nothing here knows a particular backend or evaluator. Each architecture's tables come from the
registry: the backend's ``TuneParams`` defaults and field descriptions give the ``[<arch>.tune]``
table (so each paper recipe lives in one place: the backend's params), a model source (the demo
world) overrides what suits its small models and names its benchmarks, and the region pack's
benchmarks become ``[[<arch>.evaluate.benchmarks]]`` entries through the evaluators that declare
their task kinds.
"""

from __future__ import annotations

import json
from typing import Any

from regionadapt.errors import ConfigError
from regionadapt.packs import ARCHS, RegionPack

HEADER = """\
# regionadapt project file, written by `regionadapt init`.
# Every key is documented in docs/configuration.md; plugin tables (`params`) in each plugin's
# docs (`regionadapt plugins list` shows what is installed).
#
{commands}"""

COMMON = """
region = "{region}"          # a registered pack id (`regionadapt regions list`) or a path to a pack .toml
run_root = "runs"        # each architecture runs in <run_root>/<region>-<arch>/
seed = 0                 # seeds data generation, shuffling and any random merge method

# ---------------------------------------------------------------------------------------------
# collect: sources, in order. Each is a registered collector with its params.
[[collect.sources]]
{source}

# ---------------------------------------------------------------------------------------------
# filter: GG-EZ phase 1, keep what belongs to the region. Filters run in this order; every drop
# is recorded with its reason in runs/.../filter/ (`regionadapt filter --explain SAMPLE_ID`).
[filter]
workers = 1              # worker processes for the local executor
executor = "local"       # "local" (HF datasets) or "ray" (Ray Data, for a cluster)

[[filter.steps]]
filter = "quality"       # unreadable, truncated, tiny or extreme-aspect images
{region_filter}"""

# Web captions rarely carry a country: the region is recognised from the text too. A sample is
# kept when any member says so (docs/data.md, "Filter expressions"; measured in
# benchmarks/region_text_quality.py).
REGION_TEXT = """
[[filter.steps]]
label = "region-text"    # country metadata, or the caption names the region's culture or places
any_of = [
  { filter = "region", params = { unknown = "defer" } },   # metadata decides when it exists
  { filter = "lexicon" },                                  # the pack's cultural lexicon
  { filter = "gazetteer" },                                # places in the pack's countries
  { all_of = [                                             # a language spoken only in the region,
    { filter = "language", params = { evidence_only = true, min_prob = 0.5 } },
    { not = { filter = "gazetteer", params = { scope = "elsewhere" } } },  # not about elsewhere
  ] },
]
"""

# The demo's captions are often a single lexicon name ("rendang") and all carry a country:
# metadata decides, and no language guess can let a distractor through.
REGION_DEMO = """
[[filter.steps]]
filter = "region"        # country code in the pack, or coordinates inside its bounding boxes
"""

# The demo-world collector's params; a demo model source may change some (ModelSource.collect).
DEMO_COLLECT = {"regional_concepts": 24, "per_regional": 60, "per_global": 20,
                "per_distractor": 15, "corrupt": 5, "global_in_region": 0.05}  # fmt: skip
DEMO_SOURCE = """\
collector = "demo-world"   # DEMO WORLD: generated pictures of the pack's lexicon, of everyday things and of distractors
params = {params}"""

REAL_SOURCE = """\
collector = "hf"           # point this at your data (a hub id or a local folder): docs/data.md lists every collector
params = { path = "SEACrowd/sea-vl_crowdsourcing", split = "train" }"""

MERGE = """
[{arch}.merge]
# theta = b * theta_tuned + (1 - b) * theta_base for each b; the b with the highest GRP on the
# validation split wins.{grid_note}
method = "linear"
grid = {grid}
min_global_retention = 0.0   # e.g. 0.98: only ratios keeping 98% of the base's global score
keep_candidates = false      # keep every merged candidate's weights (disk!) or only the chosen

[{arch}.evaluate]
validation_split = "validation"   # chooses b
test_split = "test"               # is reported
"""


def toml_value(value: Any) -> str:
    """A Python value as a TOML literal (strings JSON-quoted, which TOML accepts)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML literal for {type(value).__name__}")


def _line(key: str, value: Any, comment: str) -> str:
    comment = " ".join(comment.split())
    if value is None:  # TOML has no null: leave the key out, shown as an example
        return f"# {key} =            # {comment} (unset)"
    text = f"{key} = {toml_value(value)}"
    return f"{text:<24} # {comment}" if comment else text


def params_table(params_cls: Any, values: dict[str, Any]) -> list[str]:
    """Every field of a params model: given value or default, its description as a comment."""
    from pydantic_core import PydanticUndefined

    lines = []
    for key, f in params_cls.model_fields.items():
        name = f.alias or key
        if name in values:
            value = values[name]
        elif f.default is not PydanticUndefined:
            value = f.default
        elif f.default_factory is not None:
            value = f.default_factory()
        else:
            value = None
        if hasattr(value, "model_dump"):
            value = value.model_dump(mode="json")
        lines.append(_line(name, value, f.description or ""))
    return lines


def backend_for(arch: str) -> Any:
    """The registered backend class for ``arch`` (the first registered, by plugin load order)."""
    from regionadapt.plugins import registry

    for _, cls in registry("backends").items():
        if cls.arch == arch:
            return cls
    raise ConfigError(
        f"no installed backend for {arch!r}; `regionadapt plugins list` shows what is"
    )


def demo_source(arch: str) -> Any:
    from regionadapt.plugins import pm

    source = pm.first_result("resolve_model_source", source="demo-world", arch=arch)
    if source is None:
        raise ConfigError(
            f"the demo world has no {arch} base model (is its plugin installed?); "
            f"pass --model for a real {arch} model"
        )
    return source


def arch_tables(
    pack: RegionPack, arch: str, model: str | None, model_params: dict[str, Any] | None = None
) -> str:
    backend = backend_for(arch)
    out = [f"\n# {'=' * 93}\n# {arch} architecture ({backend.name})", f"[{arch}.model]"]
    out.append(f'backend = "{backend.name}"')
    if model is None:
        source = demo_source(arch)
        out.append(f'source = "{source.name}"    # {source.description}')
        out.append('params = {}             # for a real model: source = "params" and params.model')
        tune_values, grid = dict(source.tune), list(source.merge_grid or backend.merge_grid)
        notes = source.notes
        bench = "".join(_entry(arch, b) for b in source.benchmarks)
    else:
        out.append('source = "params"')
        out.append(f"\n[{arch}.model.params]")
        out.extend(params_table(backend.ModelParams, {**(model_params or {}), "model": model}))
        tune_values, grid, notes = {}, list(backend.merge_grid), ""
        bench = pack_benchmarks(pack, arch)
    out.append(f"\n[{arch}.tune]")
    for line in filter(None, [notes, backend.recipe and f"Defaults: {backend.recipe}."]):
        out.extend(f"# {n}" for n in line.splitlines())
    out.extend(params_table(backend.TuneParams, tune_values))
    note = f"\n# Paper grid and recipe: {backend.recipe}." if model and backend.recipe else ""
    out.append(MERGE.format(arch=arch, grid=toml_value(grid), grid_note=note))
    return "\n".join(out) + bench


def _entry(arch: str, b: dict[str, Any]) -> str:
    comment = f"   # {b['comment']}" if b.get("comment") else ""
    return (
        f"\n[[{arch}.evaluate.benchmarks]]\n"
        f'name = "{b["name"]}"{comment}\n'
        f'role = "{b["role"]}"\n'
        f'evaluator = "{b["evaluator"]}"\n'
        f"params = {toml_value(b.get('params', {}))}\n"
    )


def evaluator_for(arch: str, task: str) -> Any:
    """The first registered evaluator that scores ``task`` benchmarks for ``arch`` models."""
    from regionadapt.plugins import registry

    for _, cls in registry("evaluators").items():
        if arch in cls.archs and task in cls.tasks:
            return cls
    return None


def pack_benchmarks(pack: RegionPack, arch: str) -> str:
    """The pack's benchmarks for ``arch`` as config entries, each through the evaluator that
    declares its task. One with no hub id needs a local copy (written commented out) unless its
    evaluator's ``pack_note`` says it needs none."""
    out = []
    for b in pack.benchmarks:
        if arch not in b.archs:
            continue
        ev = evaluator_for(arch, b.task)
        params = ev.pack_params(b, pack) if ev is not None else None
        if params is None:
            out.append(
                f"\n# {b.name} ({b.id}): no installed evaluator scores {b.task!r} for {arch}\n"
            )
            continue
        entry = _entry(arch, {"name": b.id, "role": b.role, "evaluator": ev.name, "params": params})
        where = b.hub_id or b.url or ""
        note = ev.pack_note(b, pack)
        if note:
            out.append(f"\n# {b.name}: {note}{entry}")
        elif b.hub_id:
            sliced = ", the pack countries only" if b.slice else ""
            out.append(f"\n# {b.name}{sliced} ({where}){entry}")
        else:
            commented = "".join(f"# {line}\n" for line in entry.strip("\n").splitlines())
            out.append(
                f"\n# {b.name}: no hub copy; download it ({where}) and set the path\n{commented}"
            )
    return "".join(out)


def _demo_collect(archs: list[str]) -> str:
    params = dict(DEMO_COLLECT)
    for arch in archs:
        params.update(demo_source(arch).collect)
    return DEMO_SOURCE.format(params=toml_value(params))


def render(
    pack: RegionPack,
    region: str,
    model: str | None,
    archs: list[str] | None = None,
    model_params: dict[str, Any] | None = None,
) -> str:
    """The project file for ``archs`` (default: embedding); ``model`` (one arch only) is a real
    model id or folder, None for the demo world; ``model_params`` more of its ModelParams."""
    archs = list(dict.fromkeys(archs or ["embedding"]))
    bad = [a for a in archs if a not in ARCHS]
    if bad:
        raise ConfigError(f"--arch: unknown architecture {bad[0]!r}; valid: {', '.join(ARCHS)}")
    if model is not None and len(archs) > 1:
        raise ConfigError("--model names one model: give it with a single --arch")
    commands = "".join(
        f"#   regionadapt adapt --arch {a:<10} collect -> filter -> tune -> merge -> evaluate\n"
        f"#   regionadapt report runs/{pack.id}-{a}\n"
        for a in archs
    )
    text = HEADER.format(commands=commands)
    text += COMMON.format(
        region=region,
        source=_demo_collect(archs) if model is None else REAL_SOURCE,
        region_filter=REGION_DEMO if model is None else REGION_TEXT,
    )
    for arch in archs:
        text += arch_tables(pack, arch, model, model_params)
    return text
