"""regionadapt: adapt vision-language models to a region while keeping their global quality.

The core package imports nothing heavy (no torch, transformers, diffusers, open_clip) at module
level so that ``regionadapt --help`` and the region commands start instantly.
"""

__version__ = "0.1.0"
