"""Built-in merge methods, registered through the ``merge_methods`` entry point exactly as a
third-party package would register its own."""

from regionadapt.hookspecs import hookimpl
from regionadapt_plugins.merge_methods.linear import Linear, Soup
from regionadapt_plugins.merge_methods.slerp import Slerp
from regionadapt_plugins.merge_methods.task_vectors import (
    DareLinear,
    DareTies,
    TaskArithmetic,
    Ties,
)

BUILTIN = (Linear, Soup, TaskArithmetic, Ties, DareLinear, DareTies, Slerp)


@hookimpl
def register_merge_methods(register):
    for cls in BUILTIN:
        register(cls)
