"""The GG-EZ lifecycle: collect -> filter -> tune -> merge -> evaluate, through a run directory.

Each stage reads the previous stages' folders and writes its own. A stage is skipped when its
record in the manifest says it finished with the same inputs (its config, the pack, the outputs
of the stages it reads) and its folder is untouched. Everything a run needs is validated by
:func:`Project.open` before the first stage starts.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from regionadapt import metrics
from regionadapt.components import Backend, Context, EvalResult, ModelSource, build
from regionadapt.config import ArchConfig, ProjectConfig, load_config
from regionadapt.errors import ConfigError, PluginError, StageError
from regionadapt.packs import RegionPack, load_pack, pack_path
from regionadapt.plugins import pm, registry
from regionadapt.progress import Progress, log
from regionadapt.rundir import STAGES, RunDir, atomic_write_json, hash_json
from regionadapt.schema import validate


def ratio_label(b: float) -> str:
    return f"b={b:g}"


@dataclass
class Project:
    """A validated project: config, pack, architecture and the components it names."""

    config_path: Path
    config: ProjectConfig
    pack: RegionPack
    arch: str
    arch_cfg: ArchConfig
    backend: Backend
    model_params: Any
    tune_params: Any
    run: RunDir
    pack_hash: str
    model_source: ModelSource | None = None
    components: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(
        cls, config_path: str | Path, arch: str | None = None, run_dir: str | Path | None = None
    ) -> Project:
        """Load and validate everything up front: a bad pack or config fails before any work.

        ``arch`` None: the one architecture the project file configures (an error lists them
        when it configures several)."""
        config_path = Path(config_path)
        config = load_config(config_path)
        src = str(config_path)
        arch = arch or config.only_arch(src)
        pack = load_pack(_pack_path(config.region, config_path))
        arch_cfg = config.arch(arch, src)
        try:
            backend_cls = registry("backends").get(arch_cfg.model.backend)
        except PluginError as exc:
            raise ConfigError(f"{src}: {arch}.model.backend: {exc}") from None
        if backend_cls.arch != arch:
            raise ConfigError(
                f"{src}: {arch}.model.backend: {backend_cls.name!r} is a backend for "
                f"{backend_cls.arch!r}, not {arch!r}"
            )
        backend = backend_cls()
        source = resolve_source(arch_cfg, arch, src)
        model_params = validate(
            backend_cls.ModelParams,
            {**(source.placeholder if source else {}), **arch_cfg.model.params},
            f"{src} [{arch}.model.params]",
            ConfigError,
        )
        tune_params = validate(
            backend_cls.TuneParams, arch_cfg.tune, f"{src} [{arch}.tune]", ConfigError
        )
        root = (
            Path(run_dir) if run_dir else config_path.parent / config.run_root / f"{pack.id}-{arch}"
        )
        project = cls(
            config_path=config_path,
            config=config,
            pack=pack,
            arch=arch,
            arch_cfg=arch_cfg,
            backend=backend,
            model_params=model_params,
            tune_params=tune_params,
            run=RunDir(root),
            pack_hash=hash_json(pack.model_dump(mode="json")),
            model_source=source,
        )
        project._build_components(src)
        return project

    def _build_components(self, src: str) -> None:
        c = self.config
        self.components["collectors"] = [
            (build("collectors", s.collector, s.params, f"{src} collect.sources[{i}].params"),
             s.label or s.collector)
            for i, s in enumerate(c.collect.sources)
        ]  # fmt: skip
        from regionadapt.data.groups import build_step

        self.components["filters"] = [
            build_step(f, f"{src} filter.steps[{i}]") for i, f in enumerate(c.filter.steps)
        ]
        self.components["evaluators"] = {
            b.name: build(
                "evaluators",
                b.evaluator,
                b.params,
                f"{src} {self.arch}.evaluate.benchmarks[{i}].params",
            )
            for i, b in enumerate(self.arch_cfg.evaluate.benchmarks)
        }
        from regionadapt.handles import handle_name

        have = self.backend.handle
        for name, ev in self.components["evaluators"].items():
            if ev.archs and self.arch not in ev.archs:
                raise ConfigError(
                    f"{src}: benchmark {name!r}: evaluator {ev.name!r} does not score {self.arch!r} models"
                )
            if ev.needs is not None and not (have is not None and issubclass(have, ev.needs)):
                raise ConfigError(
                    f"{src}: benchmark {name!r}: evaluator {ev.name!r} needs a model that is a "
                    f"{handle_name(ev.needs)}; backend {self.backend.name!r} loads a "
                    f"{handle_name(have)}"
                )
        m = self.arch_cfg.merge
        self.components["merge_method"] = build(
            "merge_methods", m.method, m.params, f"{src} {self.arch}.merge.params"
        )
        components = [c for c, _ in self.components["collectors"]]
        components += [*self.components["filters"], *self.components["evaluators"].values()]
        for component in components:
            component.check_pack(self.pack)
        from regionadapt.errors import MergeError
        from regionadapt.merge import ratio_merge_args

        try:  # a method the sweep cannot drive by b is refused now, not after tuning
            ratio_merge_args(m.method, 0.5, m.params)
        except MergeError as exc:
            raise ConfigError(f"{src}: {self.arch}.merge: {exc}") from None

    def snapshot(self) -> None:
        """Record what this run is made of: the project file and the pack as given
        (``config.toml``, ``pack.toml``) and the config resolved with every default filled in,
        plugins' params included (``resolved.json``)."""
        from regionadapt.rundir import atomic_write_text

        root = self.run.root
        root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(root / "config.toml", self.config_path.read_text(encoding="utf-8"))
        pack_path = _pack_path(self.config.region, self.config_path)
        atomic_write_text(root / "pack.toml", pack_path.read_text(encoding="utf-8"))
        c = self.components
        resolved = {
            "config": self.config.model_dump(mode="json"),
            "arch": self.arch,
            "model": self.model_params.model_dump(mode="json"),
            "tune": self.tune_params.model_dump(mode="json"),
            "collectors": [
                {"name": col.name, "params": col.params.model_dump(mode="json")}
                for col, _ in c["collectors"]
            ],
            "filters": [
                {"name": f.name, "params": f.params.model_dump(mode="json")} for f in c["filters"]
            ],
            "evaluators": {
                n: {"name": e.name, "params": e.params.model_dump(mode="json")}
                for n, e in c["evaluators"].items()
            },
            "merge_method": {
                "name": c["merge_method"].name,
                "params": c["merge_method"].params.model_dump(mode="json"),
            },
            "pack": {
                "id": self.pack.id,
                "path": str(pack_path),
                "hash": self.pack_hash,
                "a": self.pack.a,
            },
        }
        atomic_write_json(root / "resolved.json", resolved)

    def context(self) -> Context:
        return Context(pack=self.pack, seed=self.config.seed, run=self.run, arch=self.arch)

    @property
    def label(self) -> str:
        """What every number of this project must be shown with ("" for a real model)."""
        return self.model_source.label if self.model_source else ""

    # -- inputs of each stage: what, if changed, makes its output stale ---------------------
    def input_hash(self, stage: str) -> str:
        c, a = self.config, self.arch_cfg
        upstream = {
            "collect": [],
            "filter": ["collect"],
            "tune": ["filter"],
            "merge": ["tune"],
            "evaluate": ["tune", "merge"],
        }[stage]
        own = {
            "collect": c.collect.model_dump(),
            "filter": c.filter.model_dump(),
            "tune": [a.model.model_dump(), a.tune],
            "merge": [a.merge.model_dump(), a.evaluate.model_dump()],
            "evaluate": a.evaluate.model_dump(),
        }[stage]
        records = self.run.manifest()
        ups = {s: (records[s].output_hash if s in records else None) for s in upstream}
        return hash_json([stage, own, ups, self.pack_hash, c.seed])


def _pack_path(region: str, config_path: Path) -> Path:
    return pack_path(region, config_path.parent)


def resolve_source(arch_cfg: ArchConfig, arch: str, src: str) -> ModelSource | None:
    """The plugin-provided model source a config names (None for ``source = "params"``)."""
    name = arch_cfg.model.source
    if name == "params":
        return None
    found = pm.first_result("resolve_model_source", source=name, arch=arch)
    if found is None:
        known = sorted({n for names in pm.results("model_sources", arch=arch) for n in names or []})
        raise ConfigError(
            f"{src}: {arch}.model.source: no installed plugin provides {name!r} for {arch!r}; "
            f"valid: {', '.join(['params', *known])}"
        )
    return found


# --------------------------------------------------------------------------------------------
# running one stage


def run_stage(project: Project, stage: str, fn, force: bool = False) -> dict[str, Any]:
    run = project.run
    input_hash = project.input_hash(stage)
    if not force and run.is_current(stage, input_hash):
        log(f"{stage}: up to date, skipped ({run.stage_dir(stage)})")
        return run.record(stage).summary  # type: ignore[union-attr]
    log(f"{stage}: started")
    pm.notify("stage_started", stage=stage, run=run)
    started = time.time()
    tmp = run.begin(stage)
    try:
        summary = fn(tmp) or {}
    except BaseException as exc:
        rec = run.fail(stage, tmp, input_hash, started, f"{type(exc).__name__}: {exc}")
        pm.notify("stage_finished", stage=stage, run=run, record=rec)
        raise  # the CLI prints one line naming the error (and the traceback with --debug)
    rec = run.commit(stage, tmp, input_hash, started, summary)
    pm.notify("stage_finished", stage=stage, run=run, record=rec)
    log(f"{stage}: done in {rec.seconds:.1f}s")
    return summary


def require_finished(project: Project, *stages: str) -> None:
    for s in stages:
        rec = project.run.record(s)
        if rec is None or rec.status != "done" or not project.run.stage_dir(s).is_dir():
            raise StageError(
                f"stage {s!r} has not finished in {project.run.root}; run `regionadapt {s}` first (or `adapt`)"
            )


def collect(project: Project, tmp: Path) -> dict[str, Any]:
    from regionadapt.data import run_collect

    may_fail = {
        s.label or s.collector for s in project.config.collect.sources if s.on_error == "skip"
    }
    return run_collect(project.components["collectors"], project.context(), tmp, may_fail)


def filter_(project: Project, tmp: Path) -> dict[str, Any]:
    from regionadapt.data import run_filters

    require_finished(project, "collect")
    f = project.config.filter
    return run_filters(
        project.run.stage_dir("collect") / "dataset",
        project.components["filters"],
        project.context(),
        tmp,
        workers=f.workers,
        executor=f.executor,
    )


def base_model_params(project: Project) -> Any:
    """The backend's model params, with a plugin model source (the demo world's cached base)
    built and resolved: the ModelSource's values win over its placeholder, the config's own
    params over both."""
    mp = project.model_params
    if project.model_source is None:
        return mp
    built = project.model_source.build(project.config.seed)
    values = {**project.model_source.placeholder, **built, **project.arch_cfg.model.params}
    return validate(type(mp), values, f"model source {project.model_source.name!r}", ConfigError)


def tune(project: Project, tmp: Path) -> dict[str, Any]:
    require_finished(project, "filter")
    kept = project.run.stage_dir("filter") / "kept"
    ctx = project.context()
    project.backend.prepare_base(ctx, base_model_params(project), tmp / "base")
    summary = project.backend.tune(ctx, project.tune_params, tmp / "base", kept, tmp / "tuned")
    return {"training": summary}


# --------------------------------------------------------------------------------------------
# scoring


def score_model(project: Project, model: Any, split: str, label: str) -> dict[str, Any]:
    """Every configured benchmark on one loaded model; Q_regional, Q_global, GRP and their
    bootstrap intervals. A score that is not finite and in [0, 1] is refused, naming the
    evaluator and the benchmark."""
    ctx = replace(project.context(), model=label)
    per: dict[str, Any] = {}
    roles: dict[str, list[tuple[float, float]]] = {"regional": [], "global": []}
    for bench in project.arch_cfg.evaluate.benchmarks:
        ev = project.components["evaluators"][bench.name]
        res: EvalResult = ev.evaluate(model, ctx, split)
        try:
            res.check(f"evaluator {ev.name!r} (benchmark {bench.name!r}, {label}, {split})")
        except ValueError as exc:
            raise StageError(str(exc)) from None
        entry = {"role": bench.role, "weight": bench.weight, **res.to_json()}
        if res.items:
            entry["ci"] = metrics.interval(
                metrics.replicate_means(res.items, project.config.seed, bench.name)
            )
        per[bench.name] = entry
        if bench.role in roles:  # "report" benchmarks are shown, not part of GRP
            roles[bench.role].append((res.score, bench.weight))
    q = {role: sum(s * w for s, w in v) / sum(w for _, w in v) for role, v in roles.items()}
    out = {
        "label": label,
        "split": split,
        "regional": q["regional"],
        "global": q["global"],
        "grp": metrics.grp(q["global"], q["regional"], project.pack.a),
        "ci": metrics.model_intervals(per, project.pack.a, project.config.seed),
        "benchmarks": per,
    }
    ci = out["ci"]
    shown = f"  (95% CI {ci['grp'][0]:.3f}-{ci['grp'][1]:.3f})" if ci else ""
    log(
        f"  {label:>9} [{split}] regional {out['regional']:.3f}  global {out['global']:.3f}  "
        f"GRP {out['grp']:.3f}{shown}"
    )
    return out


def score(project: Project, ckpt: Path, split: str, label: str) -> dict[str, Any]:
    """Load a checkpoint folder, score it, release it (accelerator memory included)."""
    model = project.backend.load(ckpt)
    try:
        return score_model(project, model, split, label)
    finally:
        project.backend.unload(model)


def score_ratio(
    project: Project,
    b: float,
    split: str,
    work: Path,
    reuse: Path | None = None,
    persist: bool = False,
) -> dict[str, Any]:
    """Score the merge at ratio b: from ``reuse`` when that candidate was kept; else in memory
    where the backend can (a LoRA adapter at scale b, linear method) unless the weights must be
    kept (``persist``); else written to ``work`` (removed afterwards unless ``persist``)."""
    label = ratio_label(b)
    if reuse is not None and reuse.is_dir():
        return score(project, reuse, split, label)
    if project.arch_cfg.merge.method == "linear" and not persist:
        tune_dir = project.run.stage_dir("tune")
        model = project.backend.interpolate(tune_dir / "base", tune_dir / "tuned", b)
        if model is not None:
            try:
                return score_model(project, model, split, label)
            finally:
                project.backend.unload(model)
    _candidate(project, b, work)
    try:
        return score(project, work, split, label)
    finally:
        if not persist:
            shutil.rmtree(work, ignore_errors=True)


def _candidate(project: Project, b: float, out: Path) -> Path:
    """Merge the tuned model with the base at ratio b. For linear, theta = b*tuned +
    (1-b)*base; every other method says how b maps to its own parameters (SLERP's t = b,
    task vectors' lambda = b: ``regionadapt.merge.ratio_merge_args``)."""
    from regionadapt.merge import merge_checkpoints, ratio_merge_args

    tune_dir = project.run.stage_dir("tune")
    tuned, base = tune_dir / "tuned", tune_dir / "base"
    m = project.arch_cfg.merge
    r = ratio_merge_args(m.method, b, m.params, tuned=tuned, base=base)
    merge_checkpoints(
        m.method,
        r["models"],
        out,
        base=r["base"],
        weights=r["weights"],
        params=r["params"],
        dtype=m.dtype,
        files=project.backend.mergeable_files(tuned),
        seed=project.config.seed,
    )
    return out


def ratio_mapping(project: Project) -> str:
    """How the merge ratio b enters the configured method, for the curve and the report."""
    from regionadapt.merge import ratio_merge_args

    m = project.arch_cfg.merge
    return ratio_merge_args(m.method, 0.5, m.params)["mapping"]


RETENTION_SHOWN = 0.98  # the paper's claim: a regional gain with over 98% of global kept


def choose(
    points: list[dict[str, Any]], base_global: float, min_retention: float
) -> dict[str, Any]:
    """The candidate with the highest GRP among those keeping ``min_retention`` of global."""
    allowed = [
        p
        for p in points
        # no constraint: every ratio may win (also when the base's global score is 0)
        if min_retention <= 0
        or metrics.global_retention(p["global"], base_global) >= min_retention - 1e-12
    ]
    if not allowed:
        raise StageError(
            f"no merge ratio keeps {min_retention:.0%} of the base model's global score; "
            "lower merge.min_global_retention or add smaller ratios to merge.grid"
        )
    return max(allowed, key=lambda p: (p["grp"], -p["b"]))


def explain_choice(
    points: list[dict[str, Any]], best: dict[str, Any], base_global: float, a: float, seed: int
) -> dict[str, Any]:
    """How sure the choice is: the winner's GRP margin over the runner-up with its paired 95%
    interval (``significant`` when the interval excludes 0), and the best ratio that keeps 98%
    of the base's global score."""
    others = [p for p in points if p["b"] != best["b"]]
    runner = max(others, key=lambda p: (p["grp"], -p["b"])) if others else None
    margin_ci = (
        metrics.paired_difference(best["benchmarks"], runner["benchmarks"], a, seed)
        if runner
        else None
    )
    retaining = [
        p
        for p in points
        if metrics.global_retention(p["global"], base_global) >= RETENTION_SHOWN - 1e-12
    ]
    best98 = max(retaining, key=lambda p: (p["grp"], -p["b"])) if retaining else None
    return {
        "b": best["b"],
        "runner_up": runner["b"] if runner else None,
        "grp_margin": best["grp"] - runner["grp"] if runner else None,
        "margin_ci": margin_ci,
        "significant": bool(margin_ci and margin_ci[0] > 0),
        "split": best["split"],
        "best_retaining_98": best98["b"] if best98 else None,
    }


def merge(project: Project, tmp: Path) -> dict[str, Any]:
    """Sweep b over the grid on the validation split; keep the best-GRP candidate as model/."""
    require_finished(project, "tune")
    m = project.arch_cfg.merge
    val = project.arch_cfg.evaluate.validation_split
    tune_dir = project.run.stage_dir("tune")
    # Scores of finished candidates survive a killed merge stage: keyed by everything they
    # depend on, they are reused instead of recomputed.
    cache = project.run.root / "merge-cache"
    cache.mkdir(exist_ok=True)
    key = project.input_hash("merge")

    def cached(label: str, make) -> dict[str, Any]:
        path = cache / f"{key}-{label}.json"
        if path.exists():
            return json.loads(path.read_text())
        result = make()
        atomic_write_json(path, result)
        return result

    with Progress(len(m.grid) + 2, f"merge: merging and scoring on {val}", "model") as bar:
        base = cached("base", lambda: score(project, tune_dir / "base", val, "base"))
        bar.update(1)
        tuned = cached("tuned", lambda: score(project, tune_dir / "tuned", val, "tuned"))
        bar.update(1)
        points = []
        for b in m.grid:
            cand = tmp / "candidates" / ratio_label(b)
            point = cached(
                ratio_label(b),
                lambda b=b, c=cand: score_ratio(project, b, val, c, persist=m.keep_candidates),
            )
            point["b"] = b
            points.append(point)
            bar.update(1)
    best = choose(points, base["global"], m.min_global_retention)
    choice = explain_choice(points, best, base["global"], project.pack.a, project.config.seed)
    chosen_dir = tmp / "candidates" / ratio_label(best["b"])
    if not chosen_dir.exists():  # scored in memory or from the cache: write the chosen weights
        _candidate(project, best["b"], chosen_dir)
    shutil.move(str(chosen_dir), tmp / "model")
    if not m.keep_candidates:
        shutil.rmtree(tmp / "candidates", ignore_errors=True)
    curve = {
        "split": val,
        "a": project.pack.a,
        "method": m.method,
        "ratio_mapping": ratio_mapping(project),
        "min_global_retention": m.min_global_retention,
        "chosen_b": best["b"],
        "choice": choice,
        "base": base,
        "tuned": tuned,
        "points": points,
    }
    atomic_write_json(tmp / "curve.json", curve)
    for p in cache.glob("*.json"):
        if not p.name.startswith(key):
            p.unlink()
    sure = "beyond noise" if choice["significant"] else "within noise of"
    runner = (
        f"; {sure} the runner-up b={choice['runner_up']:g}"
        if choice["runner_up"] is not None
        else ""
    )
    log(f"merge: chose b={best['b']:g} (GRP {best['grp']:.3f} on {val}{runner})")
    return {"chosen_b": best["b"], "grid": m.grid, "validation_grp": best["grp"]}


def evaluate(project: Project, tmp: Path) -> dict[str, Any]:
    """Test-split scores of base, tuned and every merge ratio (the chosen one marked)."""
    require_finished(project, "tune", "merge")
    test = project.arch_cfg.evaluate.test_split
    tune_dir, merge_dir = project.run.stage_dir("tune"), project.run.stage_dir("merge")
    curve = json.loads((merge_dir / "curve.json").read_text())
    chosen = curve["chosen_b"]
    results: dict[str, Any] = {
        "region": project.pack.id,
        "region_name": project.pack.name,
        "arch": project.arch,
        "a": project.pack.a,
        "a_source": project.pack.globalisation.source,
        "demo": bool(project.label),
        "label": project.label,
        "selection_split": curve["split"],
        "report_split": test,
        "chosen_b": chosen,
        "choice": curve.get("choice"),
        "min_global_retention": curve["min_global_retention"],
        "validation_curve": curve,
        "models": {},
    }
    bar = Progress(len(project.arch_cfg.merge.grid) + 2, f"evaluate: scoring on {test}", "model")
    results["models"]["base"] = score(project, tune_dir / "base", test, "base")
    bar.update(1)
    results["models"]["tuned"] = score(project, tune_dir / "tuned", test, "tuned")
    bar.update(1)
    work = project.run.root / f".tmp-candidates-{os.getpid()}"  # cleaned if this process dies
    kept = merge_dir / "candidates"
    try:
        for b in project.arch_cfg.merge.grid:
            label = ratio_label(b)
            reuse = merge_dir / "model" if b == chosen else kept / label
            entry = score_ratio(project, b, test, work / label, reuse=reuse)
            entry["b"] = b
            results["models"][label] = entry
            bar.update(1)
    finally:
        bar.close()
        shutil.rmtree(work, ignore_errors=True)
    summary = summarize(results)
    results["summary"] = summary
    atomic_write_json(tmp / "results.json", results)
    from regionadapt.report import write_report

    write_report(results, tmp)
    return summary


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    m = results["models"]
    base, tuned, chosen = m["base"], m["tuned"], m[ratio_label(results["chosen_b"])]
    return {
        "chosen_b": results["chosen_b"],
        "regional_gain": chosen["regional"] - base["regional"],
        "global_retention": metrics.global_retention(chosen["global"], base["global"]),
        "grp_base": base["grp"],
        "grp_tuned": tuned["grp"],
        "grp_chosen": chosen["grp"],
        "tuned_global_retention": metrics.global_retention(tuned["global"], base["global"]),
    }


STAGE_FUNCS = {
    "collect": collect,
    "filter": filter_,
    "tune": tune,
    "merge": merge,
    "evaluate": evaluate,
}


def run_stages(
    project: Project, stages: list[str], force_from: str | None = None
) -> dict[str, float]:
    """Run ``stages`` in order; ``force_from`` reruns that stage and every later one.

    Returns the wall time each stage took in this call (a skipped stage takes ~0 s)."""
    if force_from is not None and force_from not in STAGES:
        raise ConfigError(f"--force: unknown stage {force_from!r}; valid: {', '.join(STAGES)}")
    forced = set(STAGES[STAGES.index(force_from) :]) if force_from else set()
    project.snapshot()
    timings = {}
    for stage in stages:
        t0 = time.time()
        run_stage(
            project, stage, lambda tmp, s=stage: STAGE_FUNCS[s](project, tmp), force=stage in forced
        )
        timings[stage] = time.time() - t0
    return timings


def open_project(
    config: str | Path, arch: str | None = None, run_dir: str | Path | None = None
) -> Project:
    return Project.open(config, arch, run_dir)
