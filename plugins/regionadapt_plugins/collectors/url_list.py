"""Images from a list of URLs, downloaded with img2dataset, honouring the owners' opt-outs.

img2dataset checks each response's ``X-Robots-Tag`` header: ``noai``, ``noimageai`` (and by
default ``noindex``, ``noimageindex``), for every crawler or for ours by name
(``X-Robots-Tag: regionadapt: noai``). A refused URL becomes a counted ``opt-out`` skip and a
line in the collect stage's ``skipped.jsonl``; other failures (HTTP errors, timeouts, files that
are not images) are skips with their own reason. Nothing is left out silently: every URL of the
list is either a sample or a skip.

Downloads land in ``<run>/downloads/url-list-<key>/shards/`` (the key covers the list's content and
every setting that changes what is downloaded). img2dataset resumes there shard by shard, so a
killed collect stage does not fetch finished shards again.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from regionadapt.components import Collector, Context
from regionadapt.data.skip import Skip
from regionadapt.errors import StageError
from regionadapt.rundir import hash_json
from regionadapt_plugins.collectors.rows import RowParams, row_to_sample

FORMATS = ("txt", "csv", "tsv", "json", "jsonl", "parquet")
InputFormat = Literal["auto", "txt", "csv", "tsv", "json", "jsonl", "parquet"]
OPT_OUT_MESSAGE = "X-Robots-Tag"  # img2dataset's refusal says "... disallowed by X-Robots-Tag ..."
SHARD_DIGITS = 5  # img2dataset's oom_shard_count: shard files 00000.parquet, 00000_stats.json


class UrlListParams(RowParams):
    urls: str = Field(description="a URL list file: .txt (one URL per line), .csv, .tsv, "
                      ".json, .jsonl or .parquet with a URL column")  # fmt: skip
    input_format: InputFormat = "auto"
    text_column: str = "caption"
    # Rows with no caption are skipped unless this is False (a .txt list has no captions).
    require_text: bool = True
    image_size: int = Field(default=512, ge=8, description="resize target in pixels")
    resize_mode: Literal["no", "keep_ratio", "keep_ratio_largest", "center_crop", "border"] = (
        "keep_ratio"
    )
    resize_only_if_bigger: bool = True
    encode_format: Literal["jpg", "png", "webp"] = "jpg"
    min_image_size: int = Field(default=0, ge=0)
    max_aspect_ratio: float | None = Field(default=None, gt=0)
    processes: int = Field(default=1, ge=1)
    threads: int = Field(default=16, ge=1)
    timeout: int = Field(default=10, ge=1, description="seconds per request")
    retries: int = Field(default=0, ge=0)
    samples_per_shard: int = Field(default=10_000, ge=1)
    distributor: Literal["multiprocessing", "ray", "pyspark"] = "multiprocessing"
    user_agent_token: str = Field(
        default="regionadapt",
        min_length=1,
        description="our crawler's name: sent in the User-Agent, matched in "
        "'X-Robots-Tag: <token>: noai'",
    )
    # Honouring opt-outs is not optional: the list can change, not become empty.
    opt_out_directives: list[str] = Field(
        default=["noai", "noimageai", "noindex", "noimageindex"], min_length=1
    )
    download_dir: str = Field(default="", description="default: <run>/downloads/url-list-<key>")
    source: str = ""


def _format_of(path: Path, declared: str) -> str:
    if declared != "auto":
        return declared
    suffixes = [s.lstrip(".") for s in path.suffixes]
    if suffixes and suffixes[-1] == "gz":
        suffixes = suffixes[:-1]
    fmt = suffixes[-1] if suffixes else ""
    if fmt not in FORMATS:
        raise StageError(
            f"url-list collector: {path}: cannot tell the list's format from its name; "
            f"set input_format to one of {', '.join(FORMATS)}"
        )
    return fmt


def _read_list(path: Path, fmt: str):
    """The list as a pyarrow Table, read as img2dataset reads it (so row i is its row i)."""
    import pyarrow as pa
    import pyarrow.csv as csv_pa
    import pyarrow.json as json_pa
    import pyarrow.parquet as pq

    if fmt == "parquet":
        return pq.read_table(path)
    compression = "gzip" if path.suffix == ".gz" else None
    with pa.input_stream(str(path), compression=compression) as fh:
        if fmt == "txt":
            return csv_pa.read_csv(fh, read_options=csv_pa.ReadOptions(column_names=["url"]))
        if fmt == "csv":
            return csv_pa.read_csv(fh)
        if fmt == "tsv":
            return csv_pa.read_csv(fh, parse_options=csv_pa.ParseOptions(delimiter="\t"))
        if fmt == "jsonl":
            return json_pa.read_json(fh)
        import pandas as pd

        return pa.Table.from_pandas(pd.read_json(fh), preserve_index=False)


def _content_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class UrlListCollector(Collector):
    name: ClassVar[str] = "url-list"
    description: ClassVar[str] = (
        "Downloads the images of a URL list (txt/csv/tsv/json/jsonl/parquet) with img2dataset, "
        "honouring opt-out headers (X-Robots-Tag: noai, noimageai, ...): each refused URL is a "
        "counted 'opt-out' skip listed in skipped.jsonl. Resumes a killed download by shard."
    )
    Params: ClassVar[type[UrlListParams]] = UrlListParams
    requires: ClassVar[dict[str, str]] = {"img2dataset": "img2dataset"}

    def collect(self, ctx: Context) -> Iterator[dict[str, Any] | Skip]:
        p: UrlListParams = self.params  # type: ignore[assignment]
        path = Path(p.urls).expanduser()
        if not path.is_file():
            raise StageError(f"url-list collector: URL list not found: {path}")
        fmt = _format_of(path, p.input_format)
        try:
            table = _read_list(path, fmt)
        except Exception as exc:  # malformed CSV/JSON: name the file and what the reader said
            raise StageError(f"url-list collector: cannot read {path} as {fmt}: {exc}") from exc
        url_col = "url" if fmt == "txt" else p.url_column
        if url_col not in table.column_names:
            raise StageError(
                f"url-list collector: {path}: no URL column {url_col!r} "
                f"(columns: {', '.join(table.column_names)}); set url_column"
            )
        out = self._download_dir(ctx, path, fmt)
        self._download(ctx, path, fmt, table, out)
        yield from self._read_shards(path, table, out)

    # -- download ---------------------------------------------------------------------------
    def _download_dir(self, ctx: Context, path: Path, fmt: str) -> Path:
        p: UrlListParams = self.params  # type: ignore[assignment]
        if p.download_dir:
            return Path(p.download_dir).expanduser()
        if ctx.run is None:
            raise StageError("url-list collector: no run directory; set download_dir")
        shaping = p.model_dump(exclude={"processes", "threads", "distributor", "source",
                                        "download_dir", "require_text", "lang", "country",
                                        "license", "embed"})  # fmt: skip
        key = hash_json([_content_hash(path), fmt, shaping])
        return ctx.run.root / "downloads" / f"url-list-{key}"

    def _download(self, ctx: Context, path: Path, fmt: str, table, out: Path) -> None:
        p: UrlListParams = self.params  # type: ignore[assignment]
        # img2dataset treats every .json in its output folder as a finished shard's stats: its
        # arguments and log live one level up.
        (out / "shards").mkdir(parents=True, exist_ok=True)
        n_shards = math.ceil(table.num_rows / p.samples_per_shard)
        if len(list((out / "shards").glob("*_stats.json"))) >= n_shards:
            ctx.log(f"url-list: {path.name}: already downloaded in {out}")
            return
        own = {p.url_column, p.text_column} if fmt != "txt" else set()
        extra = [c for c in table.column_names if fmt != "txt" and c not in own]
        text_col = p.text_column if fmt != "txt" and p.text_column in table.column_names else None
        kwargs = {
            "url_list": str(path.resolve()),
            "input_format": fmt + (".gz" if path.suffix == ".gz" else ""),
            "url_col": p.url_column if fmt != "txt" else "url",
            "caption_col": text_col,
            "save_additional_columns": extra or None,
            "output_folder": str((out / "shards").resolve()),
            "output_format": "parquet",
            "image_size": p.image_size,
            "resize_mode": p.resize_mode,
            "resize_only_if_bigger": p.resize_only_if_bigger,
            "encode_format": p.encode_format,
            "min_image_size": p.min_image_size,
            "max_aspect_ratio": p.max_aspect_ratio or float("inf"),
            "processes_count": p.processes,
            "thread_count": p.threads,
            "timeout": p.timeout,
            "retries": p.retries,
            "number_sample_per_shard": p.samples_per_shard,
            "distributor": p.distributor,
            "user_agent_token": p.user_agent_token,
            "disallowed_header_directives": list(p.opt_out_directives),
            "extract_exif": False,  # EXIF may hold GPS positions of private people
            "compute_hash": "sha256",
            "incremental_mode": "incremental",
            "oom_shard_count": SHARD_DIGITS,
            "enable_wandb": False,
        }
        args = out / "img2dataset-args.json"
        args.write_text(json.dumps(kwargs, indent=1), encoding="utf-8")
        log_path = out / "img2dataset.log"
        ctx.log(f"url-list: downloading {table.num_rows} URLs from {path.name} (log: {log_path})")
        env = {**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1", "WANDB_MODE": "disabled"}
        with open(log_path, "a", encoding="utf-8") as log:
            proc = subprocess.run(
                [sys.executable, "-m", "regionadapt_plugins.collectors.img2dataset_job",
                 str(args)],
                stdout=log, stderr=subprocess.STDOUT, env=env, check=False,
            )  # fmt: skip
        if proc.returncode != 0:
            tail = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise StageError(
                f"url-list collector: img2dataset exited with {proc.returncode} on {path} "
                f"(log {log_path}):\n{tail}"
            )

    # -- reading the shards -----------------------------------------------------------------
    def _read_shards(self, path: Path, table, out: Path) -> Iterator[dict[str, Any] | Skip]:
        import pyarrow.parquet as pq

        p: UrlListParams = self.params  # type: ignore[assignment]
        source = p.source or f"url-list:{path.name}"
        n_shards = math.ceil(table.num_rows / p.samples_per_shard)
        url_col = p.url_column if p.url_column in table.column_names else "url"
        for shard in range(n_shards):
            name = f"{shard:0{SHARD_DIGITS}d}"
            if not (out / "shards" / f"{name}_stats.json").is_file():
                # img2dataset gave up on the whole shard: its URLs are counted, not lost.
                urls = table.column(url_col).slice(shard * p.samples_per_shard,
                                                   p.samples_per_shard).to_pylist()  # fmt: skip
                for url in urls:
                    yield Skip("not-downloaded", str(url), f"img2dataset did not finish shard "
                               f"{name}; see {out / 'img2dataset.log'}")  # fmt: skip
                continue
            rows = pq.read_table(out / "shards" / f"{name}.parquet").to_pylist()
            # Downloads finish in any order; the key is the row's place in the list.
            for row in sorted(rows, key=lambda r: r["key"]):
                yield self._sample(row, source)

    def _sample(self, row: dict[str, Any], source: str) -> dict[str, Any] | Skip:
        p: UrlListParams = self.params  # type: ignore[assignment]
        url = row.get("url") or ""
        status, error = row.get("status"), row.get("error_message") or ""
        if status != "success":
            if OPT_OUT_MESSAGE in error:
                return Skip("opt-out", url, error)
            reason = "unusable-image" if status == "failed_to_resize" else "download-failed"
            return Skip(reason, url, error or str(status))
        record = {k: v for k, v in row.items() if k not in ("key", "status", "error_message",
                                                            "exif", "txt", p.encode_format)}  # fmt: skip
        # img2dataset renames the list's URL and caption columns; give them their names back.
        record[p.url_column] = record.pop("url", url)
        record[p.text_column] = record.pop("caption", None)
        default_id = "url-" + hashlib.sha256(url.encode()).hexdigest()[:20]
        return row_to_sample(
            record, p, default_id=default_id, source=source, base_dir=None, where=url,
            url=url, image=row[p.encode_format],
        )  # fmt: skip
