"""Local collectors (image folder, JSONL, CSV, parquet), HF datasets offline and webdataset
shards, each through run_collect so that every bad item is seen to be counted."""

from __future__ import annotations

import csv
import io
import json
import tarfile

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
from data_kit import image_bytes, make_ctx

from regionadapt.components import build
from regionadapt.data import run_collect


def _run(tmp_path, name, **params):
    ctx = make_ctx(tmp_path)
    stats = run_collect([(build("collectors", name, params), "src")], ctx, tmp_path / "out")
    ds = datasets.load_from_disk(str(tmp_path / "out" / "dataset"))
    s = stats["sources"]["src"]
    assert s["read"] == s["written"] + s["skipped"] and len(ds) == s["written"]
    return s, {r["id"]: r for r in ds}


def _folder(tmp_path):
    root = tmp_path / "imgs"
    (root / "food").mkdir(parents=True)
    (root / "food" / "a.png").write_bytes(image_bytes(40, 40))
    (root / "food" / "a.txt").write_text("Rendang daging sapi", encoding="utf-8")
    (root / "b.jpg").write_bytes(image_bytes(40, 40, fmt="JPEG"))
    (root / "b.txt").write_bytes(b"\xff\xfe bad bytes")
    (root / "c.png").write_bytes(image_bytes(40, 40))  # no caption
    return root


def test_imagefolder_sidecars(tmp_path):
    s, rows = _run(
        tmp_path, "files", path=str(_folder(tmp_path)), license="CC-BY-4.0", country="ID"
    )
    assert s["reasons"] == {"undecodable-text": 1, "missing-field": 1}
    (row,) = rows.values()
    assert row["text"] == "Rendang daging sapi" and row["license"] == "CC-BY-4.0"
    assert (
        row["country"] == "ID"
        and row["url"].startswith("file://")
        and row["image"][:4] == b"\x89PNG"
    )
    assert json.loads(row["meta"]) == {"label": "food"}


def test_jsonl_manifest(tmp_path):
    root = tmp_path / "j"
    root.mkdir()
    (root / "x.png").write_bytes(image_bytes())
    lines = [
        json.dumps({"file_name": "x.png", "caption": "Phở bò", "lang": "vie", "country": "VN",
                    "url": "https://example.org/x", "license": "CC0", "lat": 21.0, "lon": 105.8}),
        json.dumps({"file_name": "missing.png", "caption": "gone"}),
        "{not json",
        json.dumps(["a", "list"]),
    ]  # fmt: skip
    (root / "m.jsonl").write_bytes(("\n".join(lines) + "\n").encode() + b'{"caption": "\xff"}\n')
    s, rows = _run(tmp_path, "files", path=str(root / "m.jsonl"), embed=False)
    assert s["reasons"] == {"image-missing": 1, "bad-row": 2, "undecodable-text": 1}
    (row,) = rows.values()
    assert row["image"] is None and row["image_path"].endswith("x.png")
    assert (row["lang"], row["country"], row["license"]) == ("vie", "VN", "CC0")
    assert json.loads(row["meta"]) == {"lat": 21.0, "lon": 105.8}


def test_csv_and_imagefolder_metadata(tmp_path):
    root = tmp_path / "hfimg"
    root.mkdir()
    for n in "ab":
        (root / f"{n}.png").write_bytes(image_bytes(30, 30, pattern=ord(n)))
    with open(root / "metadata.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["file_name", "text", "country"])
        w.writerow(["a.png", "ต้มยำกุ้ง", "TH"])
        w.writerow(["b.png", "", "TH"])  # empty caption
        w.writerow(["a.png", "extra", "TH", "surplus"])
    s, rows = _run(tmp_path, "files", path=str(root))
    assert s["reasons"] == {"missing-field": 1, "bad-row": 1}
    assert [r["text"] for r in rows.values()] == ["ต้มยำกุ้ง"]


def test_parquet_with_image_bytes(tmp_path):
    img = image_bytes()
    table = pa.table({"image": [{"bytes": img, "path": None}, {"bytes": None, "path": None}],
                      "caption": ["Sate ayam", "no image"], "id": ["p1", "p2"]})  # fmt: skip
    pq.write_table(table, tmp_path / "d.parquet")
    s, rows = _run(tmp_path, "files", path=str(tmp_path / "d.parquet"), image_column="image")
    assert s["reasons"] == {"missing-field": 1}
    assert rows["p1"]["image"] == img and rows["p1"]["text"] == "Sate ayam"


def test_hf_local_save_and_unreachable_hub(tmp_path):
    from PIL import Image

    pil = Image.open(io.BytesIO(image_bytes(20, 20)))
    ds = datasets.Dataset.from_dict(
        {"image": [pil, pil], "caption": ["Phở", "Bánh mì"], "country": ["VN", "VN"]},
        features=datasets.Features({"image": datasets.Image(), "caption": datasets.Value("string"),
                                    "country": datasets.Value("string")}),
    )  # fmt: skip
    datasets.DatasetDict({"train": ds}).save_to_disk(str(tmp_path / "saved"))
    s, rows = _run(tmp_path, "hf", path=str(tmp_path / "saved"), license="CC-BY-SA-4.0")
    assert s["written"] == 2 and {r["text"] for r in rows.values()} == {"Phở", "Bánh mì"}
    r = next(iter(rows.values()))
    assert r["image"][:4] == b"\x89PNG" and r["license"] == "CC-BY-SA-4.0" and r["country"] == "VN"
    # a hub id with hub access off: the source fails with its reason, the stage does not crash
    ctx = make_ctx(tmp_path)
    stats = run_collect(
        [(build("collectors", "hf", {"path": "nobody/not-a-dataset"}), "hub")],
        ctx,
        tmp_path / "o2",
        may_fail={"hub"},
    )
    assert stats["total"]["sources_failed"] == ["hub"]
    assert "nobody/not-a-dataset" in stats["sources"]["hub"]["error"]


def _tar(path, members):
    with tarfile.open(path, "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_webdataset_shards(tmp_path):
    img = image_bytes()
    _tar(tmp_path / "shard-000.tar", [
        ("k1.jpg", img), ("k1.txt", "ເຝີ".encode()),
        ("k1.json", b'{"country": "LA", "license": "CC0"}'),
        ("k2.png", img), ("k2.txt", b"\xff"),
        ("k3.txt", b"caption without image"),
    ])  # fmt: skip
    _tar(tmp_path / "shard-001.tar", [("k4.png", img), ("k4.txt", b"Sate")])
    (tmp_path / "shard-002.tar").write_bytes(b"this is not a tar file" * 40)
    s, rows = _run(tmp_path, "webdataset", shards=[str(tmp_path / "shard-{000..003}.tar")])
    assert s["reasons"] == {"undecodable-text": 1, "missing-field": 1, "shard-unreadable": 2}
    assert sorted(r["text"] for r in rows.values()) == ["Sate", "ເຝີ"]
    la = next(r for r in rows.values() if r["country"] == "LA")
    assert la["license"] == "CC0" and "#k1" in la["url"]
