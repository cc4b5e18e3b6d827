"""Merging checkpoints tensor by tensor: the method base class, the streaming engine, pre-flight.

Torch-free at import time; torch is imported when tensors are actually read.
"""

from regionadapt.merge.checkpoint import preflight
from regionadapt.merge.engine import MergeReport, get_method, merge_checkpoints
from regionadapt.merge.method import MergeMethod
from regionadapt.merge.ratio import ratio_merge_args

__all__ = [
    "MergeMethod",
    "MergeReport",
    "get_method",
    "merge_checkpoints",
    "preflight",
    "ratio_merge_args",
]
