"""The core stays the core: it imports no plugin, and no heavy library at module level.

Built-in plugins are ordinary plugins (design.md): if the core imported one, a third-party
backend could not replace it, and `regionadapt --help` would pay for its imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "src" / "regionadapt"
HEAVY = {"torch", "transformers", "diffusers", "open_clip", "datasets", "peft", "accelerate"}


def _imports(tree: ast.AST):
    """(module name, is_module_level, line) for every import, and every string handed to
    importlib.import_module (a plugin named by string is still imported)."""
    top = {id(n) for n in getattr(tree, "body", [])}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, id(node) in top, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module, id(node) in top, node.lineno
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.startswith("regionadapt_plugins"):
                yield node.value, False, node.lineno


def test_the_core_imports_no_plugin_module():
    offenders = [
        f"{path.relative_to(CORE.parent)}:{line}: {name}"
        for path in sorted(CORE.rglob("*.py"))
        for name, _, line in _imports(ast.parse(path.read_text(encoding="utf-8")))
        if name.split(".")[0] == "regionadapt_plugins"
    ]
    assert offenders == []


def test_the_core_imports_no_heavy_library_at_module_level():
    offenders = [
        f"{path.relative_to(CORE.parent)}:{line}: {name}"
        for path in sorted(CORE.rglob("*.py"))
        for name, top, line in _imports(ast.parse(path.read_text(encoding="utf-8")))
        if top and name.split(".")[0] in HEAVY
    ]
    assert offenders == []


def test_the_scan_sees_what_it_must_refuse():
    tree = ast.parse("import torch\ndef f():\n    import regionadapt_plugins.x\n")
    found = {(n, top) for n, top, _ in _imports(tree)}
    assert ("torch", True) in found and ("regionadapt_plugins.x", False) in found
