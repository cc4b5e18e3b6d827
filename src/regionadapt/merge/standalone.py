"""Standalone merges from a TOML file (``regionadapt merge --config merge.toml``), no run folder.

    method = "ties"
    dtype = "bfloat16"          # optional; default: the inputs' dtype (which must agree)
    output = "out/merged"
    base = "models/base"        # when the method needs one
    seed = 0                    # optional (DARE)
    files = ["unet/diffusion_pytorch_model.safetensors"]   # optional; default: every weight file
    max_shard_bytes = 5368709120                           # optional
    overwrite = false                                      # optional
    workers = 2                 # optional; tensors merged at once (default: CPUs, at most 4)
    [params]
    density = 0.5
    [[models]]
    path = "models/a"
    weight = 0.7
    density = 0.3               # per-model parameters: any of the method's per_model_params
    [[models]]
    path = "models/b"
    weight = 0.3

``regionadapt merge --config merge.yaml --output OUT`` runs mergekit's YAML format instead
(:func:`run_mergekit_config`). Relative paths are taken from the folder holding the config file, so a config means the same
thing whatever the current directory. Every error names the file and the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field

from regionadapt.errors import ConfigError, MergeError
from regionadapt.merge.engine import MergeReport, get_method, merge_checkpoints
from regionadapt.schema import Strict, read_toml, validate


class ModelEntry(Strict):
    """One input; keys besides path and weight are per-model method parameters (density...)."""

    model_config = ConfigDict(extra="allow")
    path: str
    weight: float | None = None

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class MergeConfig(Strict):
    method: str
    output: str | None = None
    models: list[ModelEntry] = Field(min_length=1)
    base: str | None = None
    dtype: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    seed: int = 0
    files: list[str] | None = None
    max_shard_bytes: int = Field(5 * 2**30, gt=0)
    overwrite: bool = False
    workers: int | None = Field(None, ge=1)


def load_config(path: Path) -> MergeConfig:
    """Read and validate a merge config (ConfigError names the file and key)."""
    path = Path(path)
    cfg = validate(MergeConfig, read_toml(path, ConfigError), str(path), ConfigError)
    given = [m.weight is not None for m in cfg.models]
    if any(given) and not all(given):
        i = given.index(False)
        raise ConfigError(f"{path}: models[{i}].weight: give a weight for every model or for none")
    return cfg


def run_config(
    path: Path, output: Path | None = None, overwrite: bool | None = None
) -> MergeReport:
    """Merge the checkpoints a TOML config names; see the module docstring for the format.
    ``output`` (the command line's ``--output``) overrides the file's ``output``."""
    path = Path(path)
    cfg = load_config(path)
    root = path.parent
    if output is None and cfg.output is None:
        raise ConfigError(f"{path}: output: required (or pass --output)")

    def resolve(p: str) -> Path:
        q = Path(p).expanduser()
        return q if q.is_absolute() else root / q

    weights = [m.weight for m in cfg.models] if cfg.models[0].weight is not None else None
    model_params = [m.params for m in cfg.models]
    try:
        get_method(cfg.method, cfg.params, where=f"{path}: params")  # names file and key
        return merge_checkpoints(
            cfg.method,
            [resolve(m.path) for m in cfg.models],
            Path(output) if output is not None else resolve(cfg.output),  # type: ignore[arg-type]
            base=resolve(cfg.base) if cfg.base else None,
            weights=weights,  # type: ignore[arg-type]
            params=cfg.params,
            model_params=model_params if any(model_params) else None,
            dtype=cfg.dtype,
            files=cfg.files,
            max_shard_bytes=cfg.max_shard_bytes,
            seed=cfg.seed,
            overwrite=cfg.overwrite if overwrite is None else overwrite,
            workers=cfg.workers,
        )
    except MergeError as exc:
        if str(exc).startswith(str(path)):
            raise
        raise MergeError(f"{path}: {exc}") from None


def _vocab(folder: Path) -> Any:
    """Token -> id of a tokenizer folder (tokenizer.json or vocab.json), else the raw bytes of
    its vocabulary file; None when it has none."""
    import json

    for name, pick in (("tokenizer.json", lambda d: (d.get("model", {}).get("vocab"),
                        [(t.get("id"), t.get("content")) for t in d.get("added_tokens", [])])),
                       ("vocab.json", lambda d: d)):  # fmt: skip
        if (folder / name).is_file():
            try:
                return pick(json.loads((folder / name).read_text(encoding="utf-8")))
            except (ValueError, AttributeError):
                return (folder / name).read_bytes()
    for name in ("tokenizer.model", "spiece.model", "vocab.txt"):
        if (folder / name).is_file():
            return (folder / name).read_bytes()
    return None


def _local_or_hub(path: Path, ref: str) -> Path:
    """A mergekit model reference: a local folder (relative to the current directory, as
    for mergekit) or a Hugging Face Hub id (``name`` or ``name@revision``)."""
    local = Path(ref).expanduser()
    if local.exists():
        return local
    repo, _, revision = ref.partition("@")
    try:
        from huggingface_hub import snapshot_download

        return Path(
            snapshot_download(
                repo,
                revision=revision or None,
                allow_patterns=["*.safetensors", "*.json", "*.model", "*.txt", "*.jinja"],
            )
        )
    except Exception as exc:  # offline, unknown repo, gated...: one clear message
        raise MergeError(
            f"{path}: model {ref!r}: not a local folder, and fetching it from the Hugging Face "
            f"Hub failed ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        ) from None


def run_mergekit_config(
    path: Path, output: Path, *, overwrite: bool = False, workers: int | None = None
) -> MergeReport:
    """Run a mergekit YAML config (see :mod:`regionadapt.merge.mergekit_config`)."""
    from regionadapt.merge import mergekit_params as mp
    from regionadapt.merge.checkpoint import open_checkpoint
    from regionadapt.merge.mergekit_config import read, translate

    path = Path(path)
    plan = translate(path, read(path))
    models = [_local_or_hub(path, r) for r in plan.models]
    base = _local_or_hub(path, plan.base) if plan.base else None
    tok = _local_or_hub(path, plan.tokenizer_source) if plan.tokenizer_source else None
    if tok is not None and _vocab(tok) != _vocab(models[0]):
        raise MergeError(
            f"{path}: tokenizer_source: the vocabulary of {tok} differs from {models[0]}'s; "
            "regionadapt does not permute embeddings to another vocabulary (mergekit does)"
        )
    try:
        if mp.is_constant(plan):
            setting, resolver = mp.setting_for(plan, "", 0.0), None
        else:
            positions = {
                rel: mp.layer_positions(unit.tensors)
                for rel, unit in open_checkpoint(models[0]).units.items()
            }
            setting = None
            resolver = lambda rel, name: mp.setting_for(  # noqa: E731
                plan, name, positions.get(rel, {}).get(name, 0.0)
            )
        kwargs = {"params": setting.params, "weights": setting.weights,
                  "model_params": setting.model_params} if setting else {}  # fmt: skip
        return merge_checkpoints(
            plan.method, models, Path(output), base=base, dtype=plan.dtype, overwrite=overwrite,
            workers=workers, tokenizer_source=tok, resolver=resolver, **kwargs,
        )  # fmt: skip
    except MergeError as exc:
        raise MergeError(f"{path}: {exc}") from None
