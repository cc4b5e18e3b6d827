"""Keep captions that mention the pack's cultural lexicon (any surface form, any script)."""

from __future__ import annotations

from typing import Any, ClassVar

from regionadapt.components import Context, Filter
from regionadapt.data.lexicon import LexiconMatcher
from regionadapt.errors import ConfigError
from regionadapt.packs import CATEGORIES
from regionadapt.schema import Strict


class LexiconFilter(Filter):
    name: ClassVar[str] = "lexicon"
    description: ClassVar[str] = (
        "Keeps a sample whose caption contains a surface form of one of the pack's lexicon "
        "entries. One Aho-Corasick pass over the NFC-normalised, case-folded caption; word "
        "boundaries are required for spaced scripts only (Thai, Lao, Khmer, Burmese and Han "
        "forms match inside running text)."
    )
    requires: ClassVar[dict[str, str]] = {"ahocorasick": "pyahocorasick"}

    class Params(Strict):
        # Only entries of these categories count (all when empty).
        categories: list[str] = []
        # Only forms of these pack languages (ISO 639-3) count (all when empty).
        languages: list[str] = []

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
        pack = ctx.pack
        if self.params.categories:
            entries = [e for e in pack.lexicon if e.category in self.params.categories]
            pack = pack.model_copy(update={"lexicon": entries})
        if not pack.lexicon:
            raise ConfigError(
                f"lexicon filter: pack {ctx.pack.id!r} has no lexicon entries to match"
            )
        self._matcher = LexiconMatcher(pack, self.params.languages or None)

    def keep(self, sample: dict[str, Any]) -> bool | tuple[bool, str]:
        if self._matcher.first(sample.get("text") or "") is not None:
            return True
        return False, "no-lexicon-match: caption names no lexicon entry"
