"""Precision and recall of the region filters on labelled mixed pools.

Two pools:
- the demo world's pool for the pack (ground truth: the sample's country is in the pack);
  filters judged: `region` (country metadata), and with the country hidden, `lexicon` alone
  and `language` then `lexicon` (what text alone can tell);
- real translated text: the gettext catalogues installed on this machine
  (/usr/share/locale/<lang>/LC_MESSAGES/*.mo, human translations of program messages and
  place names). Positives: languages specific to the pack's region; negatives: languages of
  elsewhere. Languages the pack shares with the rest of the world (English, Portuguese,
  Chinese, Tamil in the SEA pack) are left out: their text alone cannot say where it is from.
  Filter judged: `language`.

    python benchmarks/region_filter_quality.py --pack regions/sea.toml --per-lang 400
"""

from __future__ import annotations

import argparse
import gettext
import glob
import json
import random
import re
import time
from pathlib import Path

# gettext locale folder -> ISO 639-3, for the real-text pool.
POSITIVE_LOCALES = {"id": "ind", "ms": "zsm", "vi": "vie", "th": "tha", "km": "khm", "lo": "lao",
                    "my": "mya", "tl": "fil", "fil": "fil", "jv": "jav"}  # fmt: skip
NEGATIVE_LOCALES = {
    "fr": "fra", "de": "deu", "es": "spa", "it": "ita", "nl": "nld", "pl": "pol", "ru": "rus",
    "uk": "ukr", "cs": "ces", "sv": "swe", "fi": "fin", "hu": "hun", "ro": "ron", "tr": "tur",
    "el": "ell", "he": "heb", "ar": "ara", "fa": "fas", "hi": "hin", "bn": "ben", "ja": "jpn",
    "ko": "kor", "sw": "swa", "da": "dan", "ca": "cat", "eu": "eus", "hr": "hrv", "lt": "lit",
}  # fmt: skip
UNSPACED = {"tha", "khm", "lao", "mya", "jpn"}
_PLACEHOLDER = re.compile(r"%(\([^)]*\))?[-#0 +]*\d*(\.\d+)?[a-zA-Z]|\{[^}]*\}|<[^>]+>|[_&](?=\w)")


def _clean(text: str) -> str:
    return " ".join(_PLACEHOLDER.sub(" ", text).split())


def real_text_pool(per_lang: int, seed: int = 0, root: str = "/usr/share/locale") -> list[dict]:
    """[{"text", "lang", "positive"}]: up to ``per_lang`` distinct translated messages per
    language, at least 3 words (12 characters for unspaced scripts), placeholders removed."""
    rng = random.Random(seed)
    out = []
    for locales, positive in ((POSITIVE_LOCALES, True), (NEGATIVE_LOCALES, False)):
        for loc, code in locales.items():
            texts: set[str] = set()
            for mo in sorted(glob.glob(f"{root}/{loc}/LC_MESSAGES/*.mo")):
                try:
                    with open(mo, "rb") as fh:
                        catalog = gettext.GNUTranslations(fh)._catalog
                except Exception:
                    continue
                for key, value in catalog.items():
                    src = key[0] if isinstance(key, tuple) else key
                    if not src or not isinstance(value, str) or value == src:
                        continue
                    text = _clean(value)
                    letters = sum(ch.isalpha() for ch in text)
                    ok = len(text) >= 12 if code in UNSPACED else len(text.split()) >= 3
                    if ok and letters >= 0.6 * len(text.replace(" ", "")):
                        texts.add(text)
            chosen = sorted(texts)
            rng.shuffle(chosen)
            out += [{"text": t, "lang": code, "positive": positive} for t in chosen[:per_lang]]
    return out


def prf(pred: list[bool], truth: list[bool]) -> dict:
    tp = sum(p and t for p, t in zip(pred, truth, strict=True))
    fp = sum(p and not t for p, t in zip(pred, truth, strict=True))
    fn = sum(t and not p for p, t in zip(pred, truth, strict=True))
    return {
        "precision": round(tp / (tp + fp), 4) if tp + fp else None,
        "recall": round(tp / (tp + fn), 4) if tp + fn else None,
        "n": len(pred), "positives": sum(truth), "tp": tp, "fp": fp, "fn": fn,
    }  # fmt: skip


def _chain(filters, sample) -> bool:
    return all(f.keep(sample) is True for f in filters)


def _build(ctx, *names):
    from regionadapt.components import build

    out = []
    for name in names:
        f = build("filters", name)
        f.setup(ctx)
        out.append(f)
    return out


def demo_world_quality(pack, seed: int = 0) -> dict:
    from regionadapt_plugins.demo_world.world import DemoWorld

    from regionadapt.components import Context

    ctx = Context(pack=pack)
    pool = [s for s in DemoWorld(pack, seed=seed).pool(corrupt=0)]
    truth = [s["country"] in pack.country_codes for s in pool]
    hidden = [{**s, "country": ""} for s in pool]
    (region,) = _build(ctx, "region")
    (lexicon,) = _build(ctx, "lexicon")
    lang_lex = _build(ctx, "language", "lexicon")
    return {
        "pool": "demo world (truth: country in pack)",
        "region (country metadata)": prf([region.keep(s) is True for s in pool], truth),
        "lexicon (country hidden)": prf([lexicon.keep(s) is True for s in hidden], truth),
        "language+lexicon (country hidden)": prf([_chain(lang_lex, s) for s in hidden], truth),
    }


def real_text_quality(pack, per_lang: int, seed: int = 0, sweep=(0.2, 0.3, 0.4, 0.5)) -> dict:
    from regionadapt.components import Context, build
    from regionadapt.samples import new_sample

    pool = real_text_pool(per_lang, seed)
    pack_langs = set(pack.language_codes)
    pool = [r for r in pool if not r["positive"] or r["lang"] in pack_langs]
    samples = [new_sample(id=str(i), text=r["text"]) for i, r in enumerate(pool)]
    truth = [r["positive"] for r in pool]
    curve = {}
    for t in sweep:
        f = build("filters", "language", {"min_prob": t})
        f.setup(Context(pack=pack))
        curve[f"min_prob={t}"] = prf([f.keep(s) is True for s in samples], truth)
    default = build("filters", "language")
    default.setup(Context(pack=pack))
    pred = [default.keep(s) is True for s in samples]
    per_lang_recall = {}
    for code in sorted({r["lang"] for r in pool}):
        idx = [i for i, r in enumerate(pool) if r["lang"] == code]
        kept = sum(pred[i] for i in idx)
        per_lang_recall[code] = {
            "n": len(idx),
            "kept": kept,
            "kept_share": round(kept / len(idx), 3),
        }
    return {
        "pool": "gettext catalogues (truth: language specific to the region)",
        "language (default params)": prf(pred, truth),
        "language by min_prob": curve,
        "kept share by language (default params)": per_lang_recall,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pack", default="regions/sea.toml")
    ap.add_argument("--per-lang", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    from regionadapt.packs import get_pack

    pack = get_pack(args.pack)
    t0 = time.perf_counter()
    result = {"pack": pack.id, "demo_world": demo_world_quality(pack, args.seed),
              "real_text": real_text_quality(pack, args.per_lang, args.seed)}  # fmt: skip
    result["seconds"] = round(time.perf_counter() - t0, 1)
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
