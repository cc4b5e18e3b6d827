"""The demo world's base models: small models pretrained on the global part only, built once
and cached (never committed). The cache key covers everything that shapes the weights.

Only the embedding architecture has a demo base so far; t2i and lvlm join with their backends.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from regionadapt.errors import StageError
from regionadapt.progress import log
from regionadapt.rundir import hash_json

# Bump when the world's drawing or the recipe below changes: old caches are then ignored.
DEMO_VERSION = 1

EMBEDDING_MODEL_CFG = {
    "embed_dim": 96,
    "vision_cfg": {"image_size": 32, "layers": 3, "width": 96, "patch_size": 8, "head_width": 32},
    "text_cfg": {"context_length": 24, "vocab_size": 49408, "width": 96, "heads": 3, "layers": 3},
}
# Measured on 2 CPU cores: ~0.19 s/step, so ~75 s; global zero-shot accuracy ~0.93.
EMBEDDING_PRETRAIN = {
    "method": "full", "epochs": 40, "max_steps": 400, "batch_size": 128, "lr": 2e-3,
    "warmup_ratio": 0.05, "weight_decay": 0.1, "seed": 0,
}  # fmt: skip
PER_CONCEPT = 80


def cache_root() -> Path:
    env = os.environ.get("REGIONADAPT_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "regionadapt"


def embedding_base(seed: int = 0) -> Path:
    """The cached demo base for the embedding architecture; built (about a minute) if absent."""
    key = hash_json([DEMO_VERSION, EMBEDDING_MODEL_CFG, EMBEDDING_PRETRAIN, PER_CONCEPT, seed])
    final = cache_root() / "demo-world" / f"embedding-{key}"
    if (final / "open_clip_model.safetensors").exists():
        return final
    from regionadapt.rundir import check_writable

    # Before the minute of pretraining, not after it: an unwritable cache is named now.
    check_writable(final.parent, f"the model cache ({final.parent}; set REGIONADAPT_CACHE)")
    import datasets

    from regionadapt_plugins.demo_world.world import DemoWorld
    from regionadapt_plugins.openclip_backend import (
        TuneParams,
        create_model,
        save_checkpoint,
        train_contrastive,
    )

    log(
        "demo world: pretraining the demo base model on the global part (once, then cached; "
        "about a minute on 2 idle cores)"
    )
    world = DemoWorld(pack=None, seed=seed)  # the global part needs no pack
    rows = world.global_training_set(PER_CONCEPT)
    model = create_model(EMBEDDING_MODEL_CFG)
    summary = train_contrastive(
        model,
        datasets.Dataset.from_list(rows),
        TuneParams(**{**EMBEDDING_PRETRAIN, "seed": seed}),
        log=log,
        task="demo base pretraining",
    )
    if summary.get("steps", 0) == 0:
        raise StageError("demo world: base-model pretraining made no step")
    tmp = final.with_name(f".tmp-{final.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_checkpoint(model, tmp)
    try:
        os.replace(tmp, final)
    except OSError:  # another process finished first: keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
    log(f"demo world: base model cached at {final}")
    return final
