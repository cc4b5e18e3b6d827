"""Runs one img2dataset download in its own process: ``python -m <this module> ARGS.json``.

A separate process because img2dataset starts a spawn pool and a logger process (which need a
``__main__`` guard), prints progress bars to stdout (which belongs to regionadapt's result
table) and calls ``sys.exit`` on SIGINT. Its output goes to a log file the collector names.
"""

from __future__ import annotations

import json
import os
import sys


def main(args_path: str) -> None:
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # no version check over the network
    os.environ.setdefault("WANDB_MODE", "disabled")
    from img2dataset import download

    with open(args_path, encoding="utf-8") as fh:
        kwargs = json.load(fh)
    download(**kwargs)


if __name__ == "__main__":
    main(sys.argv[1])
