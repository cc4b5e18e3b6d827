"""The documented ``regionadapt.toml`` that ``regionadapt init`` writes.

With no model option it configures the embedded default, the DEMO WORLD (runs offline on a
laptop); with ``--model`` it points the embedding stages at a real open_clip model, the GG-EZ
paper's recipe and the region pack's own benchmarks.
"""

from __future__ import annotations

from regionadapt.packs import RegionPack

HEADER = """\
# regionadapt project file, written by `regionadapt init`.
# Every key is documented in docs/configuration.md; plugin tables (`params`) in each plugin's
# docs (`regionadapt plugins list` shows what is installed).
#
#   regionadapt adapt --arch embedding     collect -> filter -> tune -> merge -> evaluate
#   regionadapt report runs/{pack}-embedding
"""

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

[[filter.steps]]
filter = "region"        # country code in the pack, or coordinates inside its bounding boxes

{language}"""

LANGUAGE_ON = """
[[filter.steps]]
filter = "language"      # language ID (py3langid, offline) restricted to the pack's languages
params = {{ min_prob = 0.5 }}
"""

# The demo's captions are often a single lexicon name ("rendang"): too short for any language
# identifier (measured: it dropped ~40% of true regional captions as low-confidence).
LANGUAGE_OFF = """
# [[filter.steps]]       # off in the demo world: its captions are single names, too short to
# filter = "language"    # identify; turn it on for real captions
"""

DEMO_SOURCE = """\
collector = "demo-world"   # DEMO WORLD: generated pictures of the pack's lexicon, of everyday things and of distractors
params = {{ regional_concepts = 24, per_regional = 60, per_global = 20, per_distractor = 15, corrupt = 5, global_in_region = 0.05 }}"""

REAL_SOURCE = """\
collector = "hf"           # point this at your data (a hub id or a local folder): docs/data.md lists every collector
params = {{ path = "SEACrowd/sea-vl_crowdsourcing", split = "train" }}"""

EMBEDDING_DEMO = """
# =============================================================================================
# embedding architecture (open_clip)
[embedding.model]
backend = "open_clip"
source = "demo-world"    # DEMO WORLD base model: pretrained on the global part once, cached in ~/.cache/regionadapt
params = {{}}             # for a real model use source = "params" and e.g.
                         # params = {{ model = "hf-hub:timm/ViT-SO400M-14-SigLIP2" }}

[embedding.tune]
# The demo's small model learns fast, and at this rate forgets part of the global world
# as real fine-tuning does (the merge then wins it back); the GG-EZ paper's recipe for
# SigLIP2-SO400M is
# method = "full", batch_size = 128, lr = 5e-6, epochs = 2 (what `init --model` writes).
method = "full"          # "full" or "lora" (adapters fused before the merge)
epochs = 8
batch_size = 128
lr = 3e-3
weight_decay = 0.1
warmup_ratio = 0.05      # then linear decay to 0 (AdamW)
processes = 1            # >1: DDP worker processes (torchrun; GPUs or CPU/gloo)
"""

EMBEDDING_REAL = """
# =============================================================================================
# embedding architecture (open_clip)
[embedding.model]
backend = "open_clip"
source = "params"
params = {{ model = "{model}"{pretrained} }}

[embedding.tune]
# GG-EZ paper, SigLIP2-SO400M: full fine-tune, batch 128, lr 5e-6, 2 epochs, AdamW + linear decay.
method = "full"
epochs = 2
batch_size = 128
lr = 5e-6
weight_decay = 0.1
warmup_ratio = 0.0
processes = 1
"""

EMBEDDING_MERGE = """
[embedding.merge]
# theta = b * theta_tuned + (1 - b) * theta_base for each b; the b with the highest GRP on the
# validation split wins. Paper grid for embedding models: 0.25, 0.5, 0.75 (best: 0.75).
method = "linear"
grid = [0.25, 0.5, 0.75]
min_global_retention = 0.0   # e.g. 0.98: only ratios keeping 98% of the base's global score
keep_candidates = false      # keep every merged candidate's weights (disk!) or only the chosen

[embedding.evaluate]
validation_split = "validation"   # chooses b
test_split = "test"               # is reported
"""

DEMO_BENCHMARKS = """
[[embedding.evaluate.benchmarks]]
name = "demo-regional"     # DEMO WORLD: pick the right name among 4 lexicon names, in the pack's languages
role = "regional"
evaluator = "multiple-choice"
params = { dataset = "demo-world", dataset_params = { part = "regional", per_concept = 8 } }

[[embedding.evaluate.benchmarks]]
name = "demo-global"       # DEMO WORLD: zero-shot classification of 24 everyday things
role = "global"
evaluator = "zero-shot-classification"
params = { dataset = "demo-world", dataset_params = { part = "global", per_concept = 10 } }
"""

TASK_EVALUATOR = {
    "multiple-choice-vqa": "multiple-choice",
    "zero-shot-classification": "zero-shot-classification",
    "retrieval": "retrieval",
    "geo-localisation": "geo-probe",
}


def pack_benchmarks(pack: RegionPack) -> str:
    """The pack's embedding benchmarks as config entries.

    The loader is the benchmark id without a trailing ``-<pack id>`` (``cvqa-sea`` reads with the
    ``cvqa`` loader, sliced to the pack's countries). Benchmarks with no hub id need a local
    copy: they are written commented out, to be enabled with ``dataset_params.path``.
    """
    from regionadapt.plugins import registry

    loaders = registry("datasets")
    out = []
    for b in pack.benchmarks:
        if "embedding" not in b.archs or b.task not in TASK_EVALUATOR:
            continue
        loader = b.id.removesuffix(f"-{pack.id}")
        if loader not in loaders:
            continue
        dparams = f'hub_id = "{b.hub_id}"' if b.hub_id else 'path = "/path/to/local/copy"'
        params = f'dataset = "{loader}", dataset_params = {{ {dparams} }}'
        if b.slice:
            params += f', slice = "{b.slice}"'
        entry = (
            f"[[embedding.evaluate.benchmarks]]\n"
            f'name = "{b.id}"\n'
            f'role = "{b.role}"\n'
            f'evaluator = "{TASK_EVALUATOR[b.task]}"\n'
            f"params = {{ {params} }}\n"
        )
        where = b.hub_id or b.url or ""
        if b.hub_id:
            out.append(
                f"\n# {b.name}{', the pack countries only' if b.slice else ''} ({where})\n{entry}"
            )
        else:
            commented = "".join(f"# {line}\n" for line in entry.splitlines())
            out.append(
                f"\n# {b.name}: no hub copy; download it ({where}) and set the path\n{commented}"
            )
    return "".join(out)


def render(pack: RegionPack, region: str, model: str | None, pretrained: str | None) -> str:
    text = HEADER.format(pack=pack.id)
    if model is None:
        text += COMMON.format(region=region, source=DEMO_SOURCE.format(), language=LANGUAGE_OFF)
        text += EMBEDDING_DEMO.format() + EMBEDDING_MERGE + DEMO_BENCHMARKS
    else:
        text += COMMON.format(
            region=region, source=REAL_SOURCE.format(), language=LANGUAGE_ON.format()
        )
        pre = f', pretrained = "{pretrained}"' if pretrained else ""
        text += EMBEDDING_REAL.format(model=model, pretrained=pre) + EMBEDDING_MERGE
        text += pack_benchmarks(pack)
    return text
