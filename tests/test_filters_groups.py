"""Filter expressions: any_of / all_of / not, abstentions, records naming the deciding member,
the config schema, and `filter --explain` showing the tree."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from data_kit import make_ctx

from regionadapt.components import Filter
from regionadapt.config import FilterConfig
from regionadapt.config import FilterGroup as GroupConfig
from regionadapt.data.groups import FilterGroup, answer, build_step, kept
from regionadapt.errors import ConfigError
from regionadapt.samples import new_sample
from regionadapt.schema import validate


class Word(Filter):
    """Keeps captions containing `word`, abstains on empty captions, drops the rest."""

    name: ClassVar[str] = "word"

    def __init__(self, word: str) -> None:
        self.word = word
        super().__init__({})

    def keep(self, sample: dict[str, Any]):
        text = sample.get("text") or ""
        if not text:
            return None, "no-text: nothing to judge"
        if self.word in text:
            return True, f"has {self.word}"
        return False, f"no-{self.word}: missing"


def s(text: str) -> dict:
    return new_sample(id=text or "empty", text=text)


def test_any_of_keeps_on_first_keep_and_names_the_member():
    g = FilterGroup("any_of", [Word("rice"), Word("noodle")])
    res = g.keep(s("noodle soup"))
    assert kept(res) and res[1] == "any_of: word#2 (has noodle)"
    kind, why = answer(g.keep(s("bread")))
    assert kind == "drop" and why.startswith("none-of: ")
    assert "word: no-rice: missing" in why and "word#2: no-noodle: missing" in why


def test_all_of_drops_on_first_drop_and_not_inverts():
    g = FilterGroup("all_of", [Word("rice"), Word("noodle")])
    assert kept(g.keep(s("rice noodle")))
    kind, why = answer(g.keep(s("rice cake")))
    assert kind == "drop" and "no-noodle" in why
    n = FilterGroup("not", [Word("rice")])
    assert not kept(n.keep(s("rice cake"))) and kept(n.keep(s("bread")))
    assert answer(n.keep(s("rice")))[1].startswith("not-has rice")


def test_abstentions_do_not_count():
    g = FilterGroup("any_of", [Word("rice"), Word("noodle")])
    assert answer(g.keep(s("")))[0] == "abstain"
    nested = FilterGroup("any_of", [FilterGroup("not", [Word("rice")]), Word("x")])
    assert answer(nested.keep(s("")))[0] == "abstain"
    # all_of: a member abstaining and one keeping -> keep
    mixed = FilterGroup("all_of", [Word("rice"), FilterGroup("not", [Word("rice")])])
    assert answer(mixed.keep(s("")))[0] == "abstain"


def test_keep_batch_runs_members_on_undecided_samples_only():
    calls: list[int] = []

    class Counting(Word):
        def keep_batch(self, samples):
            calls.append(len(samples))
            return super().keep_batch(samples)

    g = FilterGroup("any_of", [Counting("rice"), Counting("noodle")])
    out = g.keep_batch([s("rice"), s("noodle"), s("bread")])
    assert [kept(r) for r in out] == [True, True, False]
    assert calls == [3, 2]  # the second member never saw the rice caption


def test_config_parses_nested_groups_and_names_bad_keys():
    cfg = validate(
        FilterConfig,
        {"steps": [{"filter": "quality"}, {"any_of": [{"filter": "region"},
                   {"not": {"filter": "lexicon"}}], "label": "text"}]},
        "x.toml",
        ConfigError,
    )  # fmt: skip
    assert isinstance(cfg.steps[1], GroupConfig) and cfg.steps[1].label == "text"
    with pytest.raises(ConfigError, match=r"x.toml: steps\[0\]: a filter group takes exactly one"):
        validate(FilterConfig, {"steps": [{"any_of": [{"filter": "a"}], "not": {"filter": "b"}}]},
                 "x.toml", ConfigError)  # fmt: skip
    with pytest.raises(ConfigError, match=r"steps\[0\].anyof: unknown key"):
        validate(FilterConfig, {"steps": [{"anyof": [{"filter": "a"}]}]}, "x.toml", ConfigError)


def test_build_step_refuses_a_stateful_member_and_unknown_names():
    step = GroupConfig.model_validate({"any_of": [{"filter": "lexicon"}, {"filter": "duplicates"}]})
    with pytest.raises(ConfigError, match=r"f.any_of\[1\]: filter 'duplicates' .*stateful"):
        build_step(step, "f")
    bad = GroupConfig.model_validate({"any_of": [{"filter": "nope"}]})
    with pytest.raises(Exception, match=r"f.any_of\[0\]"):
        build_step(bad, "f")


def test_region_unknown_defer_abstains_and_the_group_decides(tmp_path):
    step = GroupConfig.model_validate(
        {"any_of": [{"filter": "region", "params": {"unknown": "defer"}}, {"filter": "lexicon"}]}
    )
    g = build_step(step, "f")
    g.setup(make_ctx(tmp_path))
    res = g.keep(new_sample(id="a", text="a bowl of rendang"))  # no metadata, lexicon hit
    assert kept(res) and "lexicon" in res[1]
    kind, why = answer(g.keep(new_sample(id="b", text="a bowl of soup")))
    assert kind == "drop" and "no-region-metadata" in why and "no-lexicon-match" in why
    assert kept(g.keep(new_sample(id="c", text="soup", country="TH")))  # metadata decides


def test_run_filters_records_the_deciding_member_and_explain_shows_the_tree(tmp_path):
    import datasets

    from regionadapt.data import explain, run_filters
    from regionadapt.data.store import save_dataset

    ctx = make_ctx(tmp_path)
    ds = tmp_path / "collected"
    rows = [new_sample(id="k", text="a bowl of rendang"), new_sample(id="d", text="a cup of tea")]
    save_dataset(datasets.Dataset.from_list(rows), ds)
    step = GroupConfig.model_validate({"label": "text", "any_of": [
        {"filter": "region", "params": {"unknown": "defer"}}, {"filter": "lexicon"}]})  # fmt: skip
    stats = run_filters(ds, [build_step(step, "f")], ctx, tmp_path / "out")
    assert stats["kept"] == 1 and stats["filters"]["text"]["reasons"] == {"none-of": 1}
    assert stats["steps"][0]["group"] == "any_of"
    out = explain(tmp_path / "out", "k")
    assert "kept" in out and "text: text: lexicon (rendang" in out
    assert "1. text (any_of)" in out and "- region" in out and "- lexicon" in out
    assert "dropped by filter 'text'" in explain(tmp_path / "out", "d")
