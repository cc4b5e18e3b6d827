"""`regionadapt.lazy.lazy_exports`: plugin packages export names without importing them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from regionadapt.lazy import lazy_exports


def test_a_listed_name_is_imported_from_its_submodule_on_first_use():
    getter = lazy_exports("regionadapt", {"lazy_exports": "lazy", "ConfigError": "errors"})
    assert getter("lazy_exports") is lazy_exports
    from regionadapt.errors import ConfigError

    assert getter("ConfigError") is ConfigError


def test_an_unlisted_name_is_an_attribute_error_naming_the_package():
    getter = lazy_exports("some_plugin", {"Backend": "backend"})
    with pytest.raises(AttributeError, match="'some_plugin' has no attribute 'Missing'"):
        getter("Missing")


@pytest.mark.parametrize("package", ["openclip_backend", "diffusers_backend", "chat_backend"])
def test_the_backends_export_their_names_without_importing_torch(package):
    # Importing the package must not import torch, and an exported name still resolves.
    code = (
        "import sys\n"
        f"import regionadapt_plugins.{package} as p\n"
        "assert 'torch' not in sys.modules, 'torch imported by the package itself'\n"
        "assert 'ModelParams' in p.__all__\n"
        "p.ModelParams\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
