"""Filter expressions: ``any_of``, ``all_of`` and ``not`` over per-sample filters.

A member's answer is one of three: keep (``True`` or ``(True, note)``), drop
(``(False, reason)``) or abstain (``(None, reason)``: "no evidence either way", e.g. the region
filter with ``unknown = "defer"`` on a caption without metadata). Abstentions do not count:

- ``any_of`` keeps when a member keeps, drops when none keeps and one dropped, else abstains;
- ``all_of`` drops when a member drops, keeps when none dropped and one kept, else abstains;
- ``not`` swaps keep and drop and leaves an abstention as it is.

A top-level step that abstains lets the sample through to the next step. Every answer names the
member(s) that decided it ("lexicon: rendang (food)"), so a record says why, not only what.
Members run on the samples still undecided only (``any_of`` stops at the first keep), in the
order written: put cheap filters first.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from regionadapt.components import Context, Filter

Answer = Literal["keep", "drop", "abstain"]
OPERATORS = ("any_of", "all_of", "not")


def answer(result: Any) -> tuple[Answer, str]:
    """A filter's return value as (keep | drop | abstain, its note or reason)."""
    if type(result) is tuple and len(result) == 2 and type(result[1]) is str and result[1]:
        verdict = result[0]  # the common shape, (verdict, text): answered without the checks below
        if verdict is True:
            return "keep", result[1]
        if verdict is False:
            return "drop", result[1]
        if verdict is None:
            return "abstain", result[1]
    if result is True:
        return "keep", ""
    if isinstance(result, tuple) and len(result) >= 1:
        text = str(result[1]) if len(result) >= 2 and result[1] is not None else ""
        if result[0] is True:
            return "keep", text
        if result[0] is False:
            return "drop", text or "dropped (no reason given)"
        if result[0] is None:
            return "abstain", text or "abstained"
    if result is False:
        return "drop", "dropped (no reason given)"
    return "drop", f"filter-error: keep() returned {result!r}, expected True or (False, reason)"


def kept(result: Any) -> bool:
    """Whether a filter's answer keeps the sample (``True`` or ``(True, note)``)."""
    return answer(result)[0] == "keep"


def _code(text: str) -> str:
    return text.split(":", 1)[0].strip() or text


class FilterGroup(Filter):
    """A group of built filters combined by one operator; itself a per-sample filter."""

    description: ClassVar[str] = "any_of / all_of / not over per-sample filters."

    def __init__(self, op: str, members: list[Filter], label: str = "") -> None:
        if op not in OPERATORS:
            raise ValueError(f"unknown filter group operator {op!r}; expected one of {OPERATORS}")
        self.op = op
        self.members = members
        self.label = label or op
        self.member_labels = _labels(members)
        super().__init__({})

    # `name` is what records and stats call this step.
    @property
    def name(self) -> str:  # type: ignore[override]
        return self.label

    def setup(self, ctx: Context) -> None:
        for m in self.members:
            m.setup(ctx)

    def describe(self) -> dict[str, Any]:
        """The tree, for stats.json and ``filter --explain``."""
        return {
            "group": self.op,
            "label": self.label,
            "members": [
                m.describe() if isinstance(m, FilterGroup) else {"filter": label}
                for m, label in zip(self.members, self.member_labels, strict=True)
            ],
        }

    def keep(self, sample: dict[str, Any]) -> tuple[bool | None, str]:
        return self.keep_batch([sample])[0]

    def keep_batch(self, samples: list[dict[str, Any]]) -> list[tuple[bool | None, str]]:
        answers: list[list[tuple[str, Answer, str]]] = [[] for _ in samples]
        pending = list(range(len(samples)))
        # any_of is decided by a keep, all_of by a drop; `not` has one member.
        stop = _DECIDED_BY.get(self.op)
        for member, label in zip(self.members, self.member_labels, strict=True):
            if not pending:
                break
            results = _member_batch(member, [samples[i] for i in pending])
            still = []
            for i, res in zip(pending, results, strict=True):
                kind, text = answer(res)
                answers[i].append((label, kind, text))
                if kind != stop:
                    still.append(i)
            pending = still
        return [self._combine(a) for a in answers]

    def _combine(self, answers: list[tuple[str, Answer, str]]) -> tuple[bool | None, str]:
        if self.op == "not":
            ((label, kind, text),) = answers
            if kind == "abstain":
                return None, f"{self.label}: {label} abstained ({text})"
            if kind == "keep":
                return False, f"not-{_code(text) or label}: {label} kept it ({text or 'kept'})"
            return True, f"{self.label}: {label} dropped it ({text})"
        want = _DECIDED_BY[self.op]
        # the deciding member, if any, is the last one asked (members after it never ran)
        if answers and answers[-1][1] == want:
            label, _, text = answers[-1]
            return want == "keep", f"{self.label}: {label}" + (f" ({text})" if text else "")
        other = "drop" if want == "keep" else "keep"
        if any(k == other for _, k, _ in answers):
            parts = "; ".join([f"{label}: {text or k}" for label, k, text in answers])
            if self.op == "any_of":
                return False, f"none-of: {parts}"
            return True, f"{self.label}: {parts}"
        parts = "; ".join([f"{label}: {text}" for label, _, text in answers])
        return None, f"{self.label}: every member abstained ({parts})"


_DECIDED_BY: dict[str, Answer] = {"any_of": "keep", "all_of": "drop"}


def _labels(members: list[Filter]) -> list[str]:
    from regionadapt.data.filtering import filter_labels

    return filter_labels(members)


def _member_batch(member: Filter, rows: list[dict[str, Any]]) -> list[Any]:
    from regionadapt.data.filtering import _safe_batch

    return _safe_batch(member, rows)


def build_step(step: Any, where: str) -> Filter:
    """A configured step (``config.FilterRef`` or ``config.FilterGroup``) as a built filter."""
    from regionadapt.components import build
    from regionadapt.config import FilterRef
    from regionadapt.errors import ConfigError

    if isinstance(step, FilterRef):
        return build("filters", step.filter, step.params, f"{where}.params")
    op = next(k for k in ("any_of", "all_of", "not_") if getattr(step, k) is not None)
    items = step.not_ if op == "not_" else getattr(step, op)
    items = [items] if op == "not_" else items
    key = "not" if op == "not_" else op
    members = []
    for i, item in enumerate(items):
        path = f"{where}.not" if op == "not_" else f"{where}.{key}[{i}]"
        member = build_step(item, path)
        if getattr(member, "stateful", False):
            raise ConfigError(
                f"{path}: filter {member.name!r} decides from other samples (stateful) and cannot "
                f"sit inside {key}; make it a top-level step of its own"
            )
        members.append(member)
    return FilterGroup(key, members, step.label)
