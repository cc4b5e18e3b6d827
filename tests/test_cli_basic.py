"""The installed `regionadapt` console script: help, regions, plugins, clean errors, and a
start-up that never imports the heavy libraries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from core_kit import HEAVY_MODULES, run_cli, write_andes

from regionadapt.packs import get_pack

COMMANDS = [
    "init",
    "adapt",
    "collect",
    "filter",
    "tune",
    "merge",
    "evaluate",
    "report",
    "regions",
    "plugins",
    "t2i-rating",  # the built-in t2i_eval plugin's rating kit
]


def test_help_lists_every_command():
    res = run_cli("--help")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("Usage: regionadapt [OPTIONS] COMMAND [ARGS]...")
    listed = [
        line.split()[0] for line in res.stdout.split("Commands:")[1].splitlines() if line.strip()
    ]
    assert sorted(listed) == sorted(COMMANDS)


def test_no_arguments_shows_help():
    for args in [(), ("regions",), ("plugins",)]:
        res = run_cli(*args)
        assert "Usage: regionadapt" in res.stdout + res.stderr, args
        assert "Commands:" in res.stdout + res.stderr, args
        assert "Traceback" not in res.stderr, args


def test_python_m_regionadapt_is_the_same_cli():
    res = subprocess.run(
        [sys.executable, "-m", "regionadapt", "regions", "list"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    assert any(line.startswith("sea ") for line in res.stdout.splitlines())


def test_regions_list():
    res = run_cli("regions", "list")
    assert res.returncode == 0, res.stderr
    pack = get_pack("sea")
    (line,) = [x for x in res.stdout.splitlines() if x.startswith("sea ")]
    assert f"countries={len(pack.countries)}" in line
    assert f"lexicon={len(pack.lexicon)}" in line
    assert "a=0.434" in line and "sea.toml" in line


def test_regions_show_by_id():
    res = run_cli("regions", "show", "sea")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("Southeast Asia (sea)")
    assert "globalisation weight a = 0.434" in res.stdout
    assert "ID Indonesia" in res.stdout and "tha (Thai, Thai)" in res.stdout
    assert "cvqa" in res.stdout and "afaji/cvqa" in res.stdout


def test_regions_validate_and_new(tmp_path):
    res = run_cli("regions", "new", "coast", "--out", str(tmp_path / "c.toml"))
    assert res.returncode == 0, res.stderr
    assert "regionadapt regions validate" in res.stdout
    res = run_cli("regions", "validate", str(tmp_path / "c.toml"))
    assert res.returncode == 2 and "placeholder 'TODO'" in res.stderr  # fill them in first
    path = tmp_path / "c.toml"
    path.write_text(path.read_text().replace("TODO", "Coast").replace("todo", "coast"))
    res = run_cli("regions", "validate", str(path))
    assert res.returncode == 0, res.stderr
    assert "valid pack 'coast': 1 countries" in res.stdout
    write_andes(tmp_path)
    res = run_cli("regions", "validate", str(tmp_path / "andes.toml"))
    assert "valid pack 'andes'" in res.stdout


def _blocks(listing: str) -> dict[str, str]:
    """`plugins list` output split into one block per plugin, keyed by plugin name."""
    blocks: dict[str, str] = {}
    for line in listing.splitlines():
        if line and not line.startswith(" "):
            name = line.split()[0]
            blocks[name] = line
        else:
            blocks[name] += "\n" + line
    return blocks


def test_plugins_list_shows_every_builtin_with_its_hooks():
    res = run_cli("plugins", "list")
    assert res.returncode == 0, res.stderr
    blocks = _blocks(res.stdout)
    for name, hook, component in [
        ("region_packs", "register_region_packs", "region pack sea"),
        ("filters", "register_filters", "filter region"),
        ("merge_methods", "register_merge_methods", "merge method linear"),
        ("open_clip", "register_backends", "backend open_clip"),
        ("demo_world", "register_collectors", "collector demo-world"),
    ]:
        assert "[regionadapt " in blocks[name].splitlines()[0]
        assert f"hooks: {hook}" in blocks[name] or f", {hook}" in blocks[name], name
        assert component in blocks[name], name
    assert "FAILED" not in res.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["regions", "show", "atlantis"],
            "error: unknown region pack 'atlantis'; valid choices: east-asia-pacific, latin-america",
        ),
        (["regions", "validate", "missing.toml"], "error: missing.toml: file not found"),
        (["adapt", "-c", "missing.toml"], "error: missing.toml: not found. Run `regionadapt init"),
        (["report", "no-such-run"], "error: no-such-run/evaluate/results.json: not found"),
        (["init", "--region", "atlantis"], "error: unknown region pack 'atlantis'"),
    ],
)
def test_errors_exit_2_with_one_line_and_no_traceback(tmp_path, args, message):
    res = run_cli(*args, cwd=tmp_path)
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert res.stderr.startswith(message), res.stderr
    assert "Traceback" not in res.stderr


def test_usage_errors_are_click_style():
    res = run_cli("regions", "show")
    assert res.returncode == 2
    assert "missing argument 'pack'" in res.stderr.lower() and "Traceback" not in res.stderr
    res = run_cli("frobnicate")
    assert res.returncode == 2 and "No such command 'frobnicate'" in res.stderr


PROBE = """
import json, sys
from regionadapt.cli import main
try:
    main({args!r})
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print(json.dumps({{"code": code, "heavy": sorted(m for m in {heavy!r} if m in sys.modules)}}), file=sys.stderr)
"""


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["regions", "list"],
        ["regions", "show", "sea"],
        ["plugins", "list"],
        ["init", "--help"],
    ],
)
def test_startup_does_not_import_heavy_libraries(args):
    code = PROBE.format(args=args, heavy=HEAVY_MODULES)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    probe = json.loads(res.stderr.strip().splitlines()[-1])
    assert probe["code"] in (0, None), res.stderr
    assert probe["heavy"] == [], f"`regionadapt {' '.join(args)}` imported {probe['heavy']}"


def test_probe_would_see_a_heavy_import():
    # The check above can fail: a command that loads a model is seen importing torch.
    code = PROBE.format(args=["--help"], heavy=HEAVY_MODULES).replace(
        "from regionadapt.cli import main",
        "from regionadapt.cli import main\nimport safetensors.torch",
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "torch" in json.loads(res.stderr.strip().splitlines()[-1])["heavy"]


def test_committed_cli_reference_is_up_to_date():
    # Like llm's cog check: docs/cli.md is generated from --help and must match it.
    root = Path(__file__).resolve().parents[1]
    res = subprocess.run(
        [sys.executable, str(root / "scripts" / "gen_cli_docs.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert res.returncode == 0, res.stderr + " (run: python scripts/gen_cli_docs.py)"


def test_cli_reference_check_detects_a_stale_file(tmp_path):
    root = Path(__file__).resolve().parents[1]
    stale = tmp_path / "cli.md"
    stale.write_text((root / "docs" / "cli.md").read_text().replace("--force", "--forse", 1))
    res = subprocess.run(
        [sys.executable, str(root / "scripts" / "gen_cli_docs.py"), "--check", "--out", str(stale)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 1 and "out of date" in res.stderr
