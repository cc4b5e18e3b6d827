"""The human-rating kit: a blind, shuffled sheet exported from a run's kept images, filled in a
real headless Chromium (the page's own JavaScript writes the answers CSV), imported back into
means and intervals per model and category."""

from __future__ import annotations

import csv
import html.parser
import io
import re
import shutil
import subprocess

import numpy as np
import pytest
from core_kit import missing
from regionadapt_plugins.t2i_eval.images import save_generated
from regionadapt_plugins.t2i_eval.rating import export_sheet, import_ratings

from regionadapt.errors import ConfigError

MODELS = ("base", "b=0.5", "tuned")


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.fixture
def run(tmp_path):
    from PIL import Image

    items = [
        {"id": f"p{i}", "text": f"a photo of thing {i}", "category": ("food", "clothing")[i % 2],
         "lang": "eng", "country": "TH", "concept": f"c{i}"}
        for i in range(4)
    ]  # fmt: skip
    rng = np.random.default_rng(0)
    for m in MODELS:
        images = [Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)) for _ in items]
        save_generated(tmp_path / "run", "test", "lexicon", m, items,
                       images, [0.3] * len(items))  # fmt: skip
    return tmp_path / "run"


class _Text(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.seen: list[str] = []

    def handle_data(self, data):
        self.seen.append(data)

    def handle_starttag(self, tag, attrs):
        self.seen.extend(v for k, v in attrs if v and k != "src")


def test_export_is_blind_and_shuffled(run, tmp_path):
    paths = export_sheet(run, tmp_path / "sheet", seed=3)
    page = _Text()
    page.feed(paths["html"].read_text())
    visible = " ".join(page.seen)
    for m in MODELS:
        assert m not in visible.split() and f"{m}/" not in visible
    assert "b=0.5" not in visible and "tuned" not in visible
    rows = list(csv.DictReader(open(paths["csv"], encoding="utf-8")))
    assert len(rows) == 12 and {r["correctness"] for r in rows} == {""}
    import json

    key = json.loads(paths["key"].read_text())
    assert set(key) == {r["id"] for r in rows}
    order = [key[r["id"]]["model"] for r in rows]
    assert order != sorted(order, key=MODELS.index)  # shuffled, not grouped by model
    again = export_sheet(run, tmp_path / "again", seed=3)
    assert again["csv"].read_text() == paths["csv"].read_text()  # the seed fixes the order


def test_the_page_round_trips_in_headless_chromium(run, tmp_path):
    browser = _chromium()
    if missing(browser is None):
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    assert browser is not None, "chromium is not installed (.ci/run installs it)"
    paths = export_sheet(run, tmp_path / "sheet", seed=1)
    url = paths["html"].resolve().as_uri() + "#selftest=2"
    out = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--user-data-dir=" + str(tmp_path / "profile"), "--dump-dom", url],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    m = re.search(r'<pre id="csv">(.*?)</pre>', out.stdout, re.S)
    assert m, out.stdout[-2000:]
    import html as h

    filled = tmp_path / "filled.csv"
    filled.write_text(h.unescape(m.group(1)), encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(filled.read_text())))
    blank = list(csv.DictReader(open(paths["csv"], encoding="utf-8")))
    assert [r["id"] for r in rows] == [r["id"] for r in blank]
    assert [r["prompt"] for r in rows] == [r["prompt"] for r in blank]
    # The self-test answered item i (page order) with correctness (i+2)%3, naturalness (2i)%3.
    assert [int(r["correctness"]) for r in rows] == [(i + 2) % 3 for i in range(len(rows))]
    assert "12 of 12 rated" in out.stdout
    res = import_ratings(paths["key"], [filled])
    import json

    key = json.loads(paths["key"].read_text())
    for model in MODELS:
        want = [(i + 2) % 3 for i, r in enumerate(blank) if key[r["id"]]["model"] == model]
        got = res["models"][model]["overall"]["correctness"]
        assert got["n"] == 4 and got["mean"] == pytest.approx(sum(want) / 4)
        assert got["ci"][0] <= got["mean"] <= got["ci"][1]
        assert set(res["models"][model]["categories"]) == {"food", "clothing"}


def test_import_counts_gaps_and_refuses_bad_values(run, tmp_path):
    paths = export_sheet(run, tmp_path / "sheet")
    rows = list(csv.DictReader(open(paths["csv"], encoding="utf-8")))
    sheet = tmp_path / "partial.csv"
    with open(sheet, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["id", "prompt", "correctness", "naturalness"])
        w.writeheader()
        w.writerow({**rows[0], "correctness": "2", "naturalness": "1"})
        w.writerow({**rows[1], "correctness": "", "naturalness": "0"})
        w.writerow({"id": "r-nobody", "prompt": "", "correctness": "1", "naturalness": "1"})
    res = import_ratings(paths["key"], [sheet])
    assert res["skipped"] == {"unanswered": 1, "unknown id": 1, "bad value": 0}
    total = sum(m["overall"].get("naturalness", {}).get("n", 0) for m in res["models"].values())
    assert total == 2
    bad = tmp_path / "bad.csv"
    bad.write_text(f"id,prompt,correctness,naturalness\n{rows[0]['id']},x,5,1\n")
    with pytest.raises(ConfigError, match="correctness='5'; expected 0, 1 or 2"):
        import_ratings(paths["key"], [bad])
    with pytest.raises(ConfigError, match="no generated images"):
        export_sheet(tmp_path / "empty-run", tmp_path / "x")


def test_cli_export_and_import(run, tmp_path):
    from typer.testing import CliRunner

    from regionadapt.cli import build_app

    app = build_app()

    res = CliRunner().invoke(app, ["t2i-rating", "export", str(run), "--out", str(tmp_path / "s")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "s" / "rating.html").is_file()
    rows = list(csv.DictReader(open(tmp_path / "s" / "rating.csv", encoding="utf-8")))
    sheet = tmp_path / "f.csv"
    with open(sheet, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["id", "prompt", "correctness", "naturalness"])
        w.writeheader()
        for r in rows:
            w.writerow({**r, "correctness": "2", "naturalness": "1"})
    res = CliRunner().invoke(
        app, ["t2i-rating", "import", str(tmp_path / "s" / "key.json"), str(sheet)]
    )
    assert res.exit_code == 0, res.output
    assert "correctness 2.000 [2.000, 2.000] (n=4)" in res.output
