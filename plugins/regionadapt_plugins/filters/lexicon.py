"""Keep captions that mention the pack's cultural lexicon (any surface form, any script)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from regionadapt.components import Context, Filter
from regionadapt.data.lexicon import decide
from regionadapt.errors import ConfigError
from regionadapt.packs import CATEGORIES
from regionadapt.schema import Strict
from regionadapt_plugins.filters.matching import pack_matcher


class LexiconFilter(Filter):
    name: ClassVar[str] = "lexicon"
    description: ClassVar[str] = (
        "Keeps a sample whose caption contains a surface form of one of the pack's lexicon "
        "entries. One Aho-Corasick pass over the NFC-normalised, case-folded caption; word "
        "boundaries are required for spaced scripts only (Thai, Lao, Khmer, Burmese and Han "
        "forms match inside running text); the longest of overlapping matches wins; a form the "
        "pack marks ambiguous needs a second term (lexicon or place name) in the caption."
    )
    requires: ClassVar[dict[str, str]] = {"ahocorasick_rs": "ahocorasick-rs"}

    class Params(Strict):
        categories: list[str] = Field(
            default_factory=list,
            description="only entries of these categories count (all when empty)",
        )
        languages: list[str] = Field(
            default_factory=list,
            description="only forms of these pack languages (ISO 639-3) count (all when empty)",
        )
        places: bool = Field(
            default=True,
            description=(
                "also match the pack's place names (gazetteer): they confirm ambiguous forms "
                "and hide forms inside them ('khon' in 'Khon Kaen'); they never keep alone"
            ),
        )

    def setup(self, ctx: Context) -> None:
        bad = [c for c in self.params.categories if c not in CATEGORIES]
        if bad:
            raise ConfigError(
                f"lexicon filter: categories {bad} unknown; valid: {', '.join(CATEGORIES)}"
            )
        bad = [lang for lang in self.params.languages if lang not in ctx.pack.language_codes]
        if bad:
            raise ConfigError(
                f"lexicon filter: languages {bad} are not languages of pack {ctx.pack.id!r} "
                f"({', '.join(ctx.pack.language_codes)})"
            )
        entries = [
            e for e in ctx.pack.lexicon
            if not self.params.categories or e.category in self.params.categories
        ]  # fmt: skip
        if not entries:
            raise ConfigError(
                f"lexicon filter: pack {ctx.pack.id!r} has no lexicon entries to match"
            )
        self._matcher = pack_matcher(
            ctx.pack,
            tuple(self.params.categories),
            tuple(self.params.languages),
            self.params.places,
        )

    def keep(self, sample: dict[str, Any]) -> bool | tuple[bool, str]:
        hits = self._matcher.find(sample.get("text") or "")
        if not hits:  # most captions: no need to weigh anything
            return False, "no-lexicon-match: caption names no lexicon entry"
        hit = decide(hits, "lexicon")
        if hit is not None:
            return True, f"{hit.form} ({hit.category}, {hit.entry_id})"
        if any(h.kind == "lexicon" for h in hits):
            forms = ", ".join(sorted({h.form for h in hits if h.kind == "lexicon"}))
            return False, f"lexicon-ambiguous: {forms} needs a second signal"
        return False, "no-lexicon-match: caption names no lexicon entry"
