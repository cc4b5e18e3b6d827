"""The url-list collector downloads through img2dataset from an HTTP server on loopback, which
answers some images with opt-out headers: refused URLs must be skipped, counted and listed."""

from __future__ import annotations

import csv
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import datasets
import pytest
from data_kit import image_bytes, make_ctx
from PIL import Image

from regionadapt.components import build
from regionadapt.data import run_collect
from regionadapt.errors import StageError
from regionadapt.rundir import RunDir

# path -> (status, content type, extra headers)
ROUTES = {
    "/plain.png": (200, "image/png", {}),
    "/noai.png": (200, "image/png", {"X-Robots-Tag": "noai"}),
    # addressed to our crawler by name: refused
    "/ours.jpg": (200, "image/jpeg", {"X-Robots-Tag": "regionadapt: noimageai"}),
    # addressed to another crawler only: allowed
    "/otherbot.png": (200, "image/png", {"X-Robots-Tag": "otherbot: noai, noimageai"}),
    "/page.html": (200, "text/html", {}),
}


@pytest.fixture()
def server():
    hits: list[tuple[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            hits.append((self.path, self.headers.get("User-Agent", "")))
            if self.path not in ROUTES:
                self.send_error(404)
                return
            status, ctype, headers = ROUTES[self.path]
            if ctype == "text/html":
                body = b"<html><body>not a picture</body></html>"
            else:
                fmt = "JPEG" if ctype == "image/jpeg" else "PNG"
                body = image_bytes(80, 60, fmt=fmt, pattern=len(self.path))
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # keep pytest's output clean
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", hits
    httpd.shutdown()


def _url_list(tmp_path, base):
    path = tmp_path / "urls.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["url", "caption", "country", "lang", "license", "photographer"])
        w.writerow([f"{base}/plain.png", "Pasar terapung di Banjarmasin", "ID", "ind",
                    "CC-BY-4.0", "ani"])  # fmt: skip
        w.writerow([f"{base}/noai.png", "ตลาดน้ำ", "TH", "tha", "CC-BY-4.0", "bee"])
        w.writerow([f"{base}/ours.jpg", "Chợ nổi Cái Răng", "VN", "vie", "CC0-1.0", "cam"])
        w.writerow([f"{base}/otherbot.png", "Phở bò", "VN", "vie", "CC0-1.0", "dan"])
        w.writerow([f"{base}/missing.png", "Adobo", "PH", "fil", "CC0-1.0", "eve"])
        w.writerow([f"{base}/page.html", "Laksa", "MY", "msa", "CC0-1.0", "fay"])
    return path


def _collect(tmp_path, params):
    ctx = make_ctx(tmp_path)
    ctx.run = RunDir(tmp_path / "run")
    out = tmp_path / "out"
    stats = run_collect([(build("collectors", "url-list", params), "web")], ctx, out)
    ds = datasets.load_from_disk(str(out / "dataset"))
    skipped = [json.loads(line) for line in (out / "skipped.jsonl").read_text().splitlines()]
    return stats["sources"]["web"], {r["url"]: r for r in ds}, skipped


def test_opt_outs_are_refused_counted_and_listed(tmp_path, server, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    base, hits = server
    params = {"urls": str(_url_list(tmp_path, base)), "timeout": 5, "threads": 4}
    s, rows, skipped = _collect(tmp_path, params)

    assert s["error"] is None, s["error"]
    assert s["read"] == 6 == s["written"] + s["skipped"]
    assert s["reasons"] == {"opt-out": 2, "download-failed": 1, "unusable-image": 1}
    assert set(rows) == {f"{base}/plain.png", f"{base}/otherbot.png"}
    refused = {r["item"] for r in skipped if r["reason"] == "opt-out"}
    assert refused == {f"{base}/noai.png", f"{base}/ours.jpg"}
    assert all("X-Robots-Tag" in r["detail"] for r in skipped if r["reason"] == "opt-out")
    assert {r["item"] for r in skipped if r["reason"] == "download-failed"} == {
        f"{base}/missing.png"
    }

    row = rows[f"{base}/plain.png"]
    assert row["text"] == "Pasar terapung di Banjarmasin"
    assert (row["country"], row["lang"], row["license"]) == ("ID", "ind", "CC-BY-4.0")
    assert row["id"].startswith("url-") and row["source"] == "url-list:urls.csv"
    meta = json.loads(row["meta"])
    assert meta["photographer"] == "ani" and meta["original_width"] == 80 and meta["sha256"]
    assert Image.open(io.BytesIO(row["image"])).size == (80, 60)
    # the crawler names itself, so that site owners can address it
    assert hits and all("regionadapt" in ua for _, ua in hits)

    # a second run reads the finished download: no request reaches the server again
    n = len(hits)
    s2, rows2, _ = _collect(tmp_path, params)
    assert len(hits) == n
    assert s2["reasons"] == s["reasons"] and set(rows2) == set(rows)


def test_bad_lists_are_refused_with_the_file_named(tmp_path):
    ctx = make_ctx(tmp_path)
    ctx.run = RunDir(tmp_path / "run")
    no_url = tmp_path / "list.csv"
    no_url.write_text("link,caption\nhttp://x/a.png,a\n", encoding="utf-8")
    with pytest.raises(StageError, match=r"list\.csv: no URL column 'url'.*link"):
        list(build("collectors", "url-list", {"urls": str(no_url)}).collect(ctx))
    odd = tmp_path / "list.xyz"
    odd.write_text("http://x/a.png\n", encoding="utf-8")
    with pytest.raises(StageError, match="set input_format"):
        list(build("collectors", "url-list", {"urls": str(odd)}).collect(ctx))
    with pytest.raises(StageError, match="not found"):
        list(build("collectors", "url-list", {"urls": str(tmp_path / "nope.txt")}).collect(ctx))


def test_opt_out_directives_cannot_be_emptied(tmp_path):
    from regionadapt.errors import ConfigError

    with pytest.raises(ConfigError, match="opt_out_directives"):
        build("collectors", "url-list", {"urls": "u.txt", "opt_out_directives": []})
