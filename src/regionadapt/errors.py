"""Errors a user can act on: each names the file, key or item at fault and what was expected."""


class RegionAdaptError(Exception):
    """Base class for every error regionadapt reports to a user (the CLI prints it without a traceback)."""


class PackError(RegionAdaptError):
    """A region pack is malformed. Raised before any work starts."""


class ConfigError(RegionAdaptError):
    """A regionadapt.toml (or another config file) is malformed."""


class PluginError(RegionAdaptError):
    """A plugin is broken, a name is registered twice, or a name is unknown."""


class StageError(RegionAdaptError):
    """A lifecycle stage cannot run (missing inputs, failed precondition)."""


class MergeError(RegionAdaptError):
    """Merge inputs are incompatible or parameters are out of range. Raised before output is written."""
