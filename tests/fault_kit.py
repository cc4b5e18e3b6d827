"""A third-party plugin distribution of fast fake components, written into a test's own
site-packages folder, and a project that uses them: the real CLI runs every stage of it in a
second or two, and blocks inside the stage named by ``RA_FAULT_BLOCK`` (writing the marker file
``RA_FAULT_MARK`` first) so that a test can send a signal while that stage is running."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from core_kit import TESTLAND_PACK, cli_command, write_dist

FAKE_PLUGIN = '''
import os
import time
from pathlib import Path

from regionadapt.components import Backend, Collector, EvalResult, Evaluator, Filter
from regionadapt.hookspecs import hookimpl
from regionadapt.samples import new_sample
from regionadapt.schema import Strict

RUNNING = []  # the stage running now, as this plugin's own observer hooks saw it


@hookimpl
def stage_started(stage, run):
    RUNNING[:] = [stage]


@hookimpl
def stage_finished(stage, run, record):
    RUNNING.clear()


def block_here():
    """Sleep inside the stage the test asked for, after saying so through the marker file."""
    stage = RUNNING[0] if RUNNING else None
    if stage and stage == os.environ.get("RA_FAULT_BLOCK"):
        Path(os.environ["RA_FAULT_MARK"]).write_text(stage)
        for _ in range(1200):
            time.sleep(0.1)


def write_w(path, value):
    import numpy as np
    from safetensors.numpy import save_file

    path.mkdir(parents=True, exist_ok=True)
    save_file({"w": np.array([value], dtype=np.float32)}, str(path / "model.safetensors"))
    big = int(os.environ.get("RA_FAULT_BIG_MB", "0"))
    if big:  # a checkpoint too big for the disk the test gave
        (path / "extra.bin").write_bytes(b"x" * big * 2**20)


class NoParams(Strict):
    pass


class TuneP(Strict):
    target: float = 1.0


class FaultBackend(Backend):
    name = "fault-backend"
    arch = "embedding"
    ModelParams = NoParams
    TuneParams = TuneP

    def prepare_base(self, ctx, model, out_dir):
        write_w(out_dir, 0.0)

    def tune(self, ctx, params, base_dir, train_data, out_dir):
        block_here()
        write_w(out_dir, params.target)
        return {"steps": 1}

    def load(self, spec):
        from safetensors.numpy import load_file

        return float(load_file(str(Path(spec) / "model.safetensors"))["w"][0])


class FaultCollector(Collector):
    name = "fault-collector"

    def collect(self, ctx):
        for i in range(6):
            if i == 3:
                block_here()
            yield new_sample(id=f"s{i}", text=f"caption {i}", country="AA", lang="eng",
                             source="fault")


class FaultFilter(Filter):
    name = "fault-filter"

    def keep(self, sample):
        block_here()
        return True


class RoleP(Strict):
    role: str


class FaultEval(Evaluator):
    name = "fault-eval"
    archs = ("embedding",)
    Params = RoleP

    def evaluate(self, model, ctx, split):
        block_here()
        w = float(model)
        score = w if self.params.role == "regional" else max(0.0, 1.0 - (w - 0.3) ** 2)
        return EvalResult(score=score, n=4, items=[score] * 4)


from regionadapt.merge import MergeMethod


class SlowMean(MergeMethod):
    name = "fault-slow-mean"
    description = "A weighted mean that blocks like block_here() (standalone merges)."

    def merge_tensor(self, tensors, weights, base, key, generator):
        if os.environ.get("RA_FAULT_BLOCK") == "standalone-merge":
            Path(os.environ["RA_FAULT_MARK"]).write_text(key)
            for _ in range(50):  # a few seconds: the test signals well before
                time.sleep(0.1)
        return sum(w * t.float() for w, t in zip(weights, tensors))


@hookimpl
def register_merge_methods(register):
    register(SlowMean)


@hookimpl
def register_backends(register):
    register(FaultBackend)


@hookimpl
def register_collectors(register):
    register(FaultCollector)


@hookimpl
def register_filters(register):
    register(FaultFilter)


@hookimpl
def register_evaluators(register):
    register(FaultEval)
'''

PACK = TESTLAND_PACK

CONFIG = """
region = "pack.toml"
seed = 0
{extra}
[[collect.sources]]
collector = "{collector}"
{collector_params}
[[filter.steps]]
filter = "fault-filter"
[embedding.model]
backend = "fault-backend"
[embedding.merge]
grid = [0.5, 0.75]
min_global_retention = 0.0
[[embedding.evaluate.benchmarks]]
name = "r"
role = "regional"
evaluator = "fault-eval"
params = {{ role = "regional" }}
[[embedding.evaluate.benchmarks]]
name = "g"
role = "global"
evaluator = "fault-eval"
params = {{ role = "global" }}
"""


def install_fake_plugin(site: Path) -> None:
    write_dist(
        site, "ra-fault-kit", {"fault_kit": "ra_fault_kit"}, {"ra_fault_kit.py": FAKE_PLUGIN}
    )


def write_project(
    directory: Path, collector: str = "fault-collector", collector_params: str = "", extra: str = ""
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pack.toml").write_text(PACK, encoding="utf-8")
    config = directory / "regionadapt.toml"
    config.write_text(
        CONFIG.format(collector=collector, collector_params=collector_params, extra=extra),
        encoding="utf-8",
    )
    return config


def plugin_env(site: Path, **extra: str) -> dict[str, str]:
    """A subprocess environment that sees the built-ins plus what ``site`` holds."""
    env = {k: v for k, v in os.environ.items() if k != "REGIONADAPT_BUILTIN_ONLY"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    env.pop("REGIONADAPT_PLUGINS", None)
    env.update(extra)
    return env


def run(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120, prefix=()):
    return subprocess.run(
        [*prefix, *cli_command(), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def interrupt_at(
    stage: str, sig: int, args: list[str], env: dict[str, str], cwd: Path, mark: Path
) -> subprocess.CompletedProcess[str]:
    """Start the CLI, wait until ``stage`` is running (its marker file), send ``sig``."""
    mark.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [*cli_command(), *args],
        cwd=cwd,
        env={**env, "RA_FAULT_BLOCK": stage, "RA_FAULT_MARK": str(mark)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 90
    while not mark.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(f"{stage} never started blocking:\n{out}\n{err}")
        time.sleep(0.05)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM}
