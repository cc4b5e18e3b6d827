"""Test-wide settings: never touch a model hub, never load plugins installed on the machine."""

import os

# A stray hub call hangs ~45 s before failing: fail fast instead.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
# Only regionadapt's own built-in plugins; tests that need another register it themselves.
os.environ["REGIONADAPT_BUILTIN_ONLY"] = "1"


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _verbosity_is_restored(monkeypatch):
    """-q/-v set the level through an environment variable (so worker processes inherit it):
    a test that changes it must not make every later subprocess quiet."""
    monkeypatch.delenv("REGIONADAPT_VERBOSITY", raising=False)
    yield
