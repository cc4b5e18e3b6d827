"""Built-in filters. Each keeps a sample (True) or drops it with a reason ((False, reason));
reasons start with a short code ("lang-not-in-pack: eng") that the stage's stats group by."""

from regionadapt.hookspecs import hookimpl


@hookimpl
def register_filters(register):
    from regionadapt_plugins.filters.alignment import AlignmentFilter
    from regionadapt_plugins.filters.balance import BalanceFilter
    from regionadapt_plugins.filters.duplicates import DuplicatesFilter
    from regionadapt_plugins.filters.gazetteer import GazetteerFilter
    from regionadapt_plugins.filters.language import LanguageFilter
    from regionadapt_plugins.filters.lexicon import LexiconFilter
    from regionadapt_plugins.filters.quality import QualityFilter
    from regionadapt_plugins.filters.region import RegionMetadataFilter

    for cls in (
        RegionMetadataFilter, LanguageFilter, LexiconFilter, GazetteerFilter, QualityFilter, DuplicatesFilter,
        BalanceFilter, AlignmentFilter,
    ):  # fmt: skip
        register(cls)
