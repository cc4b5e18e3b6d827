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
