"""A non-editable install must carry the region packs and every built-in plugin."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _package_dirs() -> set[str]:
    found = set()
    for base in (ROOT / "src", ROOT / "plugins"):
        for init in base.rglob("__init__.py"):
            found.add(str(init.parent.relative_to(base)).replace("/", "."))
    return found


def test_wheel_contains_packs_and_plugins(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("regionadapt-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "regionadapt_regions/sea.toml" in names
    for package in _package_dirs():
        assert f"{package.replace('.', '/')}/__init__.py" in names, (
            f"{package} is missing from the wheel"
        )
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    for name in ("open_clip", "demo_world", "region_packs", "filters", "merge_methods"):
        assert f"{name} = " in text
