"""executor="ray" on a local Ray instance gives the same kept set as the local executor."""

from __future__ import annotations

import datasets
import pytest
from data_kit import ListCollector, image_bytes, make_ctx

from regionadapt.components import build
from regionadapt.data import run_collect, run_filters
from regionadapt.samples import new_sample

ray = pytest.importorskip("ray", reason="optional extra: pip install 'regionadapt[ray]'")


@pytest.fixture(scope="module")
def local_ray():
    import os

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # no auth token written under $HOME
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_executor_matches_local(tmp_path, local_ray):
    shared = image_bytes(48, 48, pattern=4)
    texts = ["Rendang daging sapi yang lezat sekali", "A plain bowl of soup on a table",
             "ฉันชอบกินต้มยำกุ้งมาก", "Tô phở bò ở Hà Nội"]  # fmt: skip
    items = [
        new_sample(id=f"s{i:03d}", text=texts[i % 4], country=["ID", "FR", "TH", "VN", ""][i % 5],
                   image=shared if i % 7 == 0 else image_bytes(48, 48, pattern=30 + i))
        for i in range(60)
    ]  # fmt: skip
    items.append(new_sample(id="broken", text=texts[0], country="ID", image=b"junk"))
    ctx = make_ctx(tmp_path)
    run_collect([(ListCollector(items), "pool")], ctx, tmp_path / "c")

    def chain():
        names = ["quality", "region", "language", "duplicates", "lexicon"]
        return [build("filters", n) for n in names] + [
            build("filters", "balance", {"max_per_country": 6})
        ]

    local = run_filters(tmp_path / "c" / "dataset", chain(), ctx, tmp_path / "fl", workers=2)
    distributed = run_filters(tmp_path / "c" / "dataset", chain(), ctx, tmp_path / "fr", workers=2,
                              executor="ray")  # fmt: skip
    kept_l = datasets.load_from_disk(str(tmp_path / "fl" / "kept"))["id"]
    kept_r = datasets.load_from_disk(str(tmp_path / "fr" / "kept"))["id"]
    assert kept_l == kept_r and 0 < len(kept_l) < 61
    assert local["filters"] == distributed["filters"]
    assert distributed["executor"] == "ray" and distributed["read"] == 61
    assert (
        local["filters"]["duplicates"]["dropped"] > 0 and local["filters"]["balance"]["dropped"] > 0
    )


def test_workers_read_pieces_of_the_files_and_results_keep_row_order(tmp_path, local_ray):
    """Several Arrow files, several record batches each, a scattered set of alive rows: each
    task reads its own piece, and the columns come back for exactly the alive rows, in order."""
    from regionadapt.data.ray_exec import _pieces, ray_map

    rows = [{"id": f"r{i:03d}", "text": f"text {i}"} for i in range(300)]
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "ds"), num_shards=3)
    ds = datasets.load_from_disk(str(tmp_path / "ds"))
    files = [f["filename"] for f in ds.cache_files]
    assert len(files) == 3
    alive = [i for i in range(300) if i % 7 and not 120 <= i < 200]
    pieces = _pieces(files, alive, target_rows=10)
    assert len(pieces) > 3 and {p["path"] for p in pieces} <= set(files)

    def shout(batch):
        return {"loud": [t.upper() for t in batch["text"]], "id": batch["id"]}

    out = ray_map(ds, alive, shout, workers=2, batch_size=4)
    assert out["id"] == [f"r{i:03d}" for i in alive]
    assert out["loud"] == [f"TEXT {i}" for i in alive]
