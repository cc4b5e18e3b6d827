"""WordNet for METEOR, found offline or reported missing (never faked).

Looked for, in order: NLTK's own ``corpora/wordnet`` (a user's ``nltk_data``), then the
Princeton WordNet 3.0 files of Debian's ``wordnet-base`` package (``/usr/share/wordnet``; the
same database NLTK distributes). Debian's copy lacks the ``lexnames`` index NLTK's reader opens
first: it is the fixed list of WordNet 3.0's 45 lexicographer files (wninput(5WN),
lexnames(5WN)), written beside a copy of the data files in a cache folder (NLTK refuses links).
"""

from __future__ import annotations

import os
import shutil
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

SYSTEM_DIRS = ("/usr/share/wordnet",)
NEEDED = ("data.noun", "index.noun", "data.verb", "index.verb", "data.adj", "index.adj",
          "data.adv", "index.adv", "noun.exc", "verb.exc", "adj.exc", "adv.exc")  # fmt: skip
LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute "
    "noun.body noun.cognition noun.communication noun.event noun.feeling noun.food noun.group "
    "noun.location noun.motive noun.object noun.person noun.phenomenon noun.plant "
    "noun.possession noun.process noun.quantity noun.relation noun.shape noun.state "
    "noun.substance noun.time verb.body verb.change verb.cognition verb.communication "
    "verb.competition verb.consumption verb.contact verb.creation verb.emotion verb.motion "
    "verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl"
).split()
POS_NUMBER = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}


def cache_root() -> Path:
    """Where the copy goes: ``$REGIONADAPT_CACHE`` or ``~/.cache/regionadapt`` (as the demo
    world's cached models)."""
    env = os.environ.get("REGIONADAPT_CACHE")
    return (Path(env) if env else Path.home() / ".cache" / "regionadapt") / "wordnet"


def _from_system(src: Path) -> Path | None:
    if not all((src / f).is_file() for f in NEEDED):
        return None
    dest = cache_root() / "wordnet-3.0"
    dest.mkdir(parents=True, exist_ok=True)
    for f in NEEDED:
        link = dest / f
        if not link.exists():
            # A copy (~28 MB, once): NLTK refuses symlinks out of its root and hard links.
            tmp = link.with_suffix(link.suffix + ".part")
            shutil.copyfile(src / f, tmp)
            tmp.replace(link)
    lex = dest / "lexnames"
    if not lex.is_file():
        lines = [f"{i:02d}\t{n}\t{POS_NUMBER[n.split('.')[0]]}" for i, n in enumerate(LEXNAMES)]
        lex.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dest


def _reader_class() -> type:
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class WordNet30Reader(WordNetCorpusReader):
        """NLTK's reader maps any copy whose header is not its own 'wordnet' corpus onto that
        corpus (for multilingual data), which is absent here; this copy *is* WordNet 3.0, the
        version NLTK distributes, so nothing needs mapping."""

        def map_wn(self, version: str = "wordnet") -> None:
            return None

    return WordNet30Reader


@lru_cache(maxsize=1)
def find_wordnet() -> tuple[Any | None, str]:
    """(a WordNet reader, where it came from) or (None, why METEOR is unavailable)."""
    import nltk

    try:
        nltk.data.find("corpora/wordnet")
        from nltk.corpus import wordnet

        wordnet.ensure_loaded()
        return wordnet, "nltk_data wordnet"
    except LookupError:
        pass
    for d in SYSTEM_DIRS:
        root = _from_system(Path(d))
        if root is not None:
            _Reader = _reader_class()
            if str(root.parent) not in nltk.data.path:
                nltk.data.path.append(str(root.parent))  # NLTK reads only from its data paths
            with warnings.catch_warnings():  # "multilingual functions are not available"
                warnings.simplefilter("ignore", UserWarning)
                reader = _Reader(str(root), None)
            return reader, f"wordnet-3.0 ({d})"
    return None, (
        "METEOR unavailable: no WordNet data (install Debian's wordnet-base, or NLTK's "
        "wordnet into an nltk_data folder)"
    )
