"""The reference pages cover every key of the schemas they document, and the configuration
example is exactly what `regionadapt init` writes (so neither can drift silently)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from regionadapt_plugins.openclip_backend import params as openclip_params

from regionadapt import config, packs
from regionadapt.init_template import render
from regionadapt.packs import get_pack
from regionadapt.schema import tomllib

DOCS = Path(__file__).resolve().parents[1] / "docs"

PACK_MODELS = [
    packs.RegionPack,
    packs.Globalisation,
    packs.Country,
    packs.Language,
    packs.LexiconEntry,
    packs.Benchmark,
    packs.DataSource,
]
CONFIG_MODELS = [
    config.ProjectConfig,
    config.CollectConfig,
    config.SourceRef,
    config.FilterConfig,
    config.FilterRef,
    config.ArchConfig,
    config.ModelConfig,
    config.MergeConfig,
    config.EvaluateConfig,
    config.BenchmarkRef,
    openclip_params.ModelParams,
    openclip_params.TuneParams,
]


def _keys(model) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def _documented(text: str, key: str) -> bool:
    """The key appears as a word inside a `code span` (`key`, `[key]`, `sources[].key`...)."""
    return re.search(rf"`[^`\n]*\b{re.escape(key)}\b[^`\n]*`", text) is not None


@pytest.mark.parametrize(
    "page, models", [("region-packs.md", PACK_MODELS), ("configuration.md", CONFIG_MODELS)]
)
def test_every_schema_key_is_documented(page, models):
    text = (DOCS / page).read_text(encoding="utf-8")
    missing = [f"{m.__name__}.{k}" for m in models for k in _keys(m) if not _documented(text, k)]
    assert missing == [], f"{page} does not document {missing}"


def test_every_lexicon_category_and_task_is_listed():
    text = (DOCS / "region-packs.md").read_text(encoding="utf-8")
    for value in (*packs.CATEGORIES, *packs.TASKS, *packs.ARCHS):
        assert f"`{value}`" in text, value


def test_configuration_example_is_what_init_writes():
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    example = text.split("## A complete example", 1)[1]
    block = re.search(r"```toml\n(.*?)```", example, re.S).group(1)
    written = render(get_pack("sea"), "sea", None, None)
    assert tomllib.loads(block) == tomllib.loads(written)
