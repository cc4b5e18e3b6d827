"""Built-in collectors: each turns one kind of source into samples, recording source, licence
and URL per sample, and yields :class:`regionadapt.data.Skip` for items it cannot read."""

from regionadapt.hookspecs import hookimpl


@hookimpl
def register_collectors(register):
    return None
