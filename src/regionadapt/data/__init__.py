"""The data stages: collect samples from sources, filter them to a region with a reason for
every drop. Torch-free; heavy libraries (datasets, pyarrow) are imported inside functions."""

from regionadapt.data.collect import run_collect
from regionadapt.data.explain import explain
from regionadapt.data.filtering import run_filters
from regionadapt.data.skip import Skip
from regionadapt.data.stateful import StatefulFilter

__all__ = ["run_collect", "run_filters", "explain", "Skip", "StatefulFilter"]
