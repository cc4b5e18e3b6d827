"""GlobalOpinionQA (``Anthropic/llm_global_opinions``) mapped to the benchmark schema.

The published data set has one row per survey question with four text columns: ``question``,
``options`` (a Python list literal, e.g. ``"['Yes', 'No']"``), ``selections`` (the ``repr`` of
a ``defaultdict(<class 'list'>, {'Country': [share per option], ...})``) and ``source``
(``GAS`` for Pew's Global Attitudes Survey, ``WVS`` for the World Values Survey). Each becomes
one schema row per country: ``text`` = question, ``options``, ``country`` (ISO alpha-2, '' when
the name is not known), ``meta`` = {question_id, distribution, country_name, source, topic}.

Nothing is ``eval``-ed: the ``defaultdict(...)`` wrapper is stripped and the dict literal inside
read with ``ast.literal_eval``, which accepts only literals. A row that cannot be read becomes a
schema row whose ``meta.skip`` names the reason, so the evaluator counts it (never silently).
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import math
import re
import tokenize
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from regionadapt.errors import ConfigError
from regionadapt_plugins.benchmarks.base import BenchmarkLoader, LoaderParams
from regionadapt_plugins.benchmarks.codes import country_code

_WRAPPER = re.compile(r"^\s*defaultdict\(\s*<class '[A-Za-z_.]+'>\s*,\s*(\{.*\})\s*\)\s*$", re.S)
# GlobalOpinionQA's own spellings that the shared country table does not know.
ALIASES: dict[str, str] = {
    "britain": "GB", "great britain": "GB", "czech rep.": "CZ", "czech republic": "CZ",
    "czechia": "CZ", "s. korea": "KR", "hong kong sar": "HK", "hong kong": "HK",
    "macau sar": "MO", "macao sar": "MO", "taiwan roc": "TW", "taiwan": "TW",
    "bosnia herzegovina": "BA", "bosnia and herzegovina": "BA", "slovakia": "SK",
    "lebanon": "LB", "kyrgyzstan": "KG", "kazakhstan": "KZ", "tajikistan": "TJ",
    "venezuela": "VE", "nicaragua": "NI", "puerto rico": "PR", "new zealand": "NZ",
    "australia": "AU", "cyprus": "CY", "andorra": "AD", "armenia": "AM", "libya": "LY",
    "maldives": "MV", "macedonia": "MK", "north macedonia": "MK", "el salvador": "SV",
    "honduras": "HN", "belgium": "BE", "finland": "FI", "hungary": "HU", "lithuania": "LT",
    "slovenia": "SI", "croatia": "HR", "estonia": "EE", "albania": "AL", "belarus": "BY",
    "georgia": "GE", "azerbaijan": "AZ", "uzbekistan": "UZ", "kuwait": "KW", "qatar": "QA",
    "mali": "ML", "angola": "AO", "bolivia": "BO", "ethiopia": "ET", "montenegro": "ME",
}  # fmt: skip


def parse_selections(text: Any) -> dict[str, list[float | None]]:
    """``"defaultdict(<class 'list'>, {'Belgium': [0.2, 0.8]})"`` -> ``{'Belgium': [0.2, 0.8]}``.

    A plain dict literal or an already parsed dict is accepted too; a bare ``nan`` share becomes
    None (missing). Raises ValueError saying what was expected.
    """
    if isinstance(text, dict):
        raw: Any = text
    else:
        s = str(text or "").strip()
        m = _WRAPPER.match(s)
        literal = m.group(1) if m else s
        if not literal.startswith("{"):
            raise ValueError(f"expected defaultdict(<class 'list'>, {{...}}), got {s[:60]!r}")
        try:
            raw = ast.literal_eval(_nan_to_none(literal))
        except (ValueError, SyntaxError, tokenize.TokenError) as exc:
            raise ValueError(
                f"selections is not a dict literal ({exc.__class__.__name__})"
            ) from None
    if not isinstance(raw, dict):
        raise ValueError("selections is not a mapping")
    out: dict[str, list[float | None]] = {}
    for country, shares in raw.items():
        if not isinstance(shares, (list, tuple)):
            raise ValueError(f"selections[{country!r}] is not a list of shares")
        try:
            out[str(country)] = [None if x is None else float(x) for x in shares]
        except (TypeError, ValueError):
            raise ValueError(
                f"selections[{country!r}] holds a share that is not a number"
            ) from None
    return out


def _nan_to_none(literal: str) -> str:
    """A bare ``nan`` (how Python prints a missing share) -> ``None``, token by token, so a
    country called "Nan..." or a quoted 'nan' is untouched; the share is then counted missing
    for that one country instead of losing the whole question."""
    if "nan" not in literal:
        return literal
    toks = tokenize.generate_tokens(io.StringIO(literal).readline)
    out = [(t.type, "None" if t.type == tokenize.NAME and t.string == "nan" else t.string)
           for t in toks]  # fmt: skip
    return tokenize.untokenize(out)


def parse_options(value: Any) -> list[str]:
    """``"['Yes', 'No']"`` (the published text) or a list -> list of option texts."""
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    try:
        out = ast.literal_eval(str(value or "").strip())
    except (ValueError, SyntaxError):
        raise ValueError(f"options is not a list literal: {str(value)[:60]!r}") from None
    if not isinstance(out, (list, tuple)):
        raise ValueError("options is not a list")
    return [str(v) for v in out]


def goqa_country(name: str) -> str:
    """'Nigeria (Non-national sample)' -> 'NG'; '' when the name is not known."""
    base = re.sub(r"\s*\(.*\)\s*$", "", name).strip()
    return ALIASES.get(base.lower()) or country_code(base)


def question_split(question: str, validation_share: float) -> str:
    """A stable split from the question text (the hub has only ``train``)."""
    h = int.from_bytes(hashlib.sha256(question.encode("utf-8")).digest()[:8], "little")
    return "validation" if h / 2**64 < validation_share else "test"


def load_topics(path: str | None) -> dict[str, str]:
    """A JSON object {question text or question id: topic}; {} without a file."""
    if not path:
        return {}
    file = Path(path).expanduser()
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{file}: topic mapping file not found") from None
    except ValueError as exc:
        raise ConfigError(f"{file}: not JSON: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ConfigError(f"{file}: expected a JSON object {{question text or id: topic}}")
    return {str(k).strip(): v for k, v in data.items()}


class GlobalOpinionsParams(LoaderParams):
    sources: list[str] | None = Field(
        default=None, description="keep only these survey sources, e.g. ['WVS'] (GAS: Pew)"
    )
    topics: str | None = Field(
        default=None, description="JSON file {question text or goqa-N id: topic}"
    )
    validation_share: float = Field(
        default=0.3, ge=0.0, le=1.0,
        description="share of questions (by a hash of the text) in 'validation'; the rest 'test'",
    )  # fmt: skip


class GlobalOpinions(BenchmarkLoader):
    name = "global-opinions"
    description = (
        "GlobalOpinionQA (Pew GAS + WVS): survey questions with each country's answer "
        "distribution; one row per question and country, for value alignment."
    )
    default_hub_id = "Anthropic/llm_global_opinions"
    Params = GlobalOpinionsParams
    split_map: ClassVar[dict[str, str]] = {"test": "train", "validation": "train"}

    def raw_splits(self, split: str) -> list[str]:
        if self.params.path and split in _local_splits(self.params.path):
            return [split]  # a local copy with its own splits: used as they are
        return [self.split_map.get(split, split)]

    def convert(self, raw: Any, where: str, raw_split: str) -> Any:
        self._topics = load_topics(self.params.topics)
        return super().convert(raw, where, raw_split)

    def load(self, ctx: Any, split: str) -> Any:
        self._split = split
        return super().load(ctx, split)

    def map_row(self, row: dict[str, Any], i: int, raw_split: str) -> list[dict[str, Any]]:
        p: GlobalOpinionsParams = self.params  # type: ignore[assignment]
        question = str(row.get("question") or "").strip()
        source = str(row.get("source") or "")
        if p.sources is not None and source not in p.sources:
            return []
        qid = f"goqa-{i}"
        wanted = getattr(self, "_split", raw_split)
        if wanted in ("validation", "test") and raw_split != wanted and question:
            if question_split(question, p.validation_share) != wanted:
                return []
        topic = self._topics.get(question) or self._topics.get(qid) or row.get("topic") or ""
        base = {"id": qid, "text": question, "meta": {"question_id": qid, "source": source}}
        if not question:
            return [_bad(base, "empty question")]
        # Reasons without the row's text, so that they count (the ValueError says more).
        try:
            options = parse_options(row["options"])
        except ValueError:
            return [_bad(base, "options is not a list literal")]
        try:
            selections = parse_selections(row["selections"])
        except ValueError:
            return [_bad(base, "selections is not a defaultdict/dict literal of share lists")]
        out = []
        for name, shares in selections.items():
            code = goqa_country(name)
            meta = {
                "question_id": qid, "source": source, "topic": str(topic or "unassigned"),
                "country_name": name, "distribution": [_finite(x) for x in shares],
            }  # fmt: skip
            out.append({"id": f"{qid}-{code or name}", "text": question, "options": options,
                        "country": code, "meta": meta})  # fmt: skip
        return out or [_bad(base, "no country in selections")]


def _local_splits(path: str) -> list[str]:
    file = Path(path).expanduser() / "dataset_dict.json"
    try:
        return list(json.loads(file.read_text(encoding="utf-8")).get("splits", []))
    except (OSError, ValueError):
        return []


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _bad(base: dict[str, Any], reason: str) -> dict[str, Any]:
    return {**base, "meta": {**base["meta"], "skip": reason}}
