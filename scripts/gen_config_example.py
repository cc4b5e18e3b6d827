"""Rewrite the example in docs/configuration.md with what `regionadapt init` writes now.

python scripts/gen_config_example.py          # rewrite
python scripts/gen_config_example.py --check  # exit 1 if the page is out of date
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from regionadapt.init_template import render
from regionadapt.packs import get_pack

PAGE = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def main() -> int:
    text = PAGE.read_text(encoding="utf-8")
    head, tail = text.split("## A complete example", 1)
    written = render(get_pack("sea"), "sea", None, None)
    new_tail = re.sub(
        r"```toml\n.*?```", lambda _: f"```toml\n{written}```", tail, count=1, flags=re.S
    )
    new = head + "## A complete example" + new_tail
    if "--check" in sys.argv:
        if new != text:
            print(
                f"{PAGE} is out of date: run python scripts/gen_config_example.py", file=sys.stderr
            )
            return 1
        return 0
    PAGE.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
