"""Tests for the example plugin. Run them after `pip install -e ".[test]"` with `pytest`.

They go through regionadapt's own lookups (the entry point, the registry, the CLI), so they
also prove the plugin is installed and registered the way users will meet it.
"""

from __future__ import annotations

import json

import pytest

from regionadapt.components import Context, build
from regionadapt.errors import ConfigError
from regionadapt.packs import get_pack
from regionadapt.plugins import plugin_infos, pm, registry
from regionadapt.rundir import RunDir, StageRecord


def test_plugin_is_installed_and_loaded():
    info = {i.name: i for i in plugin_infos()}["example"]
    assert info.error is None
    assert info.hooks == [
        "register_commands",
        "register_filters",
        "stage_finished",
        "stage_started",
    ]
    assert registry("filters").owner("min-caption-words") == "example"


@pytest.fixture
def words_filter():
    f = build("filters", "min-caption-words", {"min_words": 2})
    f.setup(Context(pack=get_pack("sea")))
    return f


def test_keeps_and_drops_by_word_count(words_filter):
    assert words_filter.keep({"text": "nasi goreng kampung", "lang": "ind"}) is True
    assert words_filter.keep({"text": "rendang", "lang": "ind"}) == (
        False,
        "too-few-words: 1 < 2",
    )
    assert words_filter.keep({"text": "", "lang": ""})[0] is False


def test_unspaced_scripts_are_counted_by_characters(words_filter):
    # Thai is written without spaces: 9 characters / 3 per word = 3 words, kept.
    assert words_filter.keep({"text": "ต้มยำกุ้ง", "lang": "tha"}) is True
    # The same rule would drop it if Thai were counted by spaces.
    assert words_filter.words("ต้มยำกุ้ง", "ind") == 1


def test_params_are_validated():
    with pytest.raises(ConfigError, match="min_words"):
        build("filters", "min-caption-words", {"min_words": 0})
    with pytest.raises(ConfigError, match="unknown key"):
        build("filters", "min-caption-words", {"min_word": 2})


def test_stage_events_are_logged(tmp_path):
    run = RunDir(tmp_path / "run")
    pm.hook.stage_started(stage="filter", run=run)
    rec = StageRecord(stage="filter", status="done", input_hash="x", seconds=1.5)
    pm.hook.stage_finished(stage="filter", run=run, record=rec)
    lines = [json.loads(x) for x in (run.root / "stage-log.jsonl").read_text().splitlines()]
    assert [(x["event"], x["stage"]) for x in lines] == [
        ("started", "filter"),
        ("finished", "filter"),
    ]
    assert lines[1]["status"] == "done" and lines[1]["seconds"] == 1.5


def test_cli_command(tmp_path, capsys):
    from regionadapt.cli import main

    run = RunDir(tmp_path)
    pm.hook.stage_started(stage="collect", run=run)
    main(["stage-log", str(tmp_path)])
    assert capsys.readouterr().out.split() == ["collect", "started"]
