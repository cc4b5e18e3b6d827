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


class ResourceError(RegionAdaptError):
    """The disk is full, a folder is read-only or unwritable: names the path and the stage."""


def describe_os_error(exc: OSError, stage: str | None = None, fallback_path: object = None) -> str:
    """One line for an OS-level failure: what failed, on which path, in which stage.

    ``fallback_path`` names the folder being written when the OS error itself carries no path
    (a full disk during ``write()`` reports none).
    """
    import errno

    path = exc.filename if exc.filename is not None else fallback_path
    where = f" in stage {stage!r}" if stage else ""
    what = exc.strerror or type(exc).__name__
    hint = {
        errno.ENOSPC: "free some space or point run_root at a bigger disk",
        errno.EDQUOT: "free some space or point run_root at a bigger disk",
        errno.EROFS: "the file system is read-only; use a writable run folder",
        errno.EACCES: "check the folder's permissions",
        errno.EPERM: "check the folder's permissions",
    }.get(exc.errno or -1, "")
    text = f"{what}{where}: {path}" if path is not None else f"{what}{where}"
    if getattr(exc, "filename2", None):
        text += f" -> {exc.filename2}"
    return f"{text} ({hint})" if hint else text
