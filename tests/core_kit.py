"""Helpers for the core tests: a second region pack, the CLI as a subprocess, fake installs.

The Andes pack below is a test fixture (its globalisation weight is a placeholder, not a KOF
value): it exists to prove that nothing in the code is specific to the SEA pack.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

ANDES_PACK = """\
schema = 1
id = "andes"
name = "Andean States"
description = "Test fixture: a small second region, to prove nothing is SEA-specific."

[globalisation]
weight = 0.5
index = 50.0
measure = "placeholder for tests"
year = 2023
source = "test fixture, not a real KOF value"

[[countries]]
code = "PE"
name = "Peru"
bbox = [-81.4, -18.4, -68.6, -0.0]
languages = ["spa", "que", "aym"]

[[countries]]
code = "BO"
name = "Bolivia"
bbox = [-69.7, -22.9, -57.4, -9.6]
languages = ["spa", "que", "aym"]

[[countries]]
code = "EC"
name = "Ecuador"
languages = ["spa", "que"]

[[languages]]
code = "spa"
name = "Spanish"
script = "Latn"

[[languages]]
code = "que"
name = "Quechua"
script = "Latn"

[[languages]]
code = "aym"
name = "Aymara"
script = "Latn"

[[languages]]
code = "eng"
name = "English"
script = "Latn"

[[lexicon]]
id = "ceviche"
category = "food"
countries = ["PE", "EC"]
description = "raw fish cured in lime juice with red onion, chilli and sweet potato"
forms = { spa = ["ceviche"], eng = ["ceviche"] }

[[lexicon]]
id = "saltena"
category = "food"
countries = ["BO"]
description = "baked pastry filled with a juicy meat stew"
forms = { spa = ["salteña"] }

[[lexicon]]
id = "pollera"
category = "clothing"
countries = ["BO", "PE"]
description = "wide layered skirt worn with a bowler hat"
forms = { spa = ["pollera"], aym = ["pullira"] }

[[lexicon]]
id = "inti-raymi"
category = "festival"
countries = ["PE"]
description = "winter-solstice festival of the sun with processions in Cusco"
forms = { que = ["Inti Raymi"], spa = ["Fiesta del Sol"] }

[[benchmarks]]
id = "andes-local"
name = "A local regional set"
path = "data/andes-mc"
role = "regional"
task = "multiple-choice-vqa"
metric = "accuracy"
archs = ["embedding"]

[[data_sources]]
id = "own-photos"
name = "Own photos"
license = "CC-BY-4.0"
"""

# The smallest valid pack: one country, one language, weight a = 0.5 (fake-component tests).
TESTLAND_PACK = """
schema = 1
id = "testland"
name = "Testland"
[globalisation]
weight = 0.5
measure = "test"
source = "made up for a test"
[[countries]]
code = "AA"
name = "Aland"
[[languages]]
code = "eng"
name = "English"
script = "Latn"
"""

# CI (.ci/run sets CI=true) installs every system package the tests use (chromium,
# wordnet-base): there a missing one must fail the test, not skip it silently.
IN_CI = os.environ.get("CI", "").lower() in ("1", "true")


def missing(what: bool) -> bool:
    """True when a test may skip because ``what`` is unavailable: never in CI."""
    return what and not IN_CI


HEAVY_MODULES = ("torch", "transformers", "diffusers", "open_clip", "datasets")


def write_andes(directory: Path, name: str = "andes.toml", text: str = ANDES_PACK) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def cli_command() -> list[str]:
    """The installed ``regionadapt`` console script next to this interpreter (or ``-m``)."""
    script = Path(sys.executable).parent / "regionadapt"
    return [str(script)] if script.exists() else [sys.executable, "-m", "regionadapt"]


def run_cli(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str | None] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run ``regionadapt ARGS`` as a subprocess, as a user would.

    Only built-in plugins load unless ``env`` says otherwise; a ``None`` value unsets a variable.
    """
    full_env = {**os.environ, "REGIONADAPT_BUILTIN_ONLY": "1"}
    for key, value in (env or {}).items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    return subprocess.run(
        [*cli_command(), *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def builtin_plugin_names() -> list[str]:
    """Entry-point names regionadapt itself installs (the built-in plugins)."""
    return sorted(
        ep.name
        for ep in importlib.metadata.entry_points(group="regionadapt")
        if ep.dist is not None and ep.dist.metadata["Name"] == "regionadapt"
    )


def write_dist(
    site: Path, dist: str, entry_points: dict[str, str], files: dict[str, str], version: str = "0.1"
) -> Path:
    """A minimal installed distribution in ``site``: its files plus a ``NAME-VER.dist-info``.

    With ``site`` on ``sys.path``, ``importlib.metadata.entry_points(group="regionadapt")``
    finds the entry points exactly as it finds those of a pip-installed package.
    """
    for rel, text in files.items():
        path = site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n", encoding="utf-8"
    )
    lines = ["[regionadapt]"] + [f"{name} = {target}" for name, target in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return info


def demo_project(directory: Path, region: str = "sea"):
    """A real, validated project (the `init` demo config) in ``directory``; nothing runs."""
    from regionadapt.init_template import render
    from regionadapt.lifecycle import open_project
    from regionadapt.packs import get_pack

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "regionadapt.toml"
    path.write_text(render(get_pack(region), region, None, None), encoding="utf-8")
    return open_project(path, "embedding")
