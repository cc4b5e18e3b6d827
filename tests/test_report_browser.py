"""report.html opens in a real browser (headless Chromium): every figure decodes from its
embedded data, the tables are there, and nothing is fetched from elsewhere.

Skipped only when no Chromium is installed (`apt-get install -y chromium`)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from core_kit import missing
from report_kit import make_results

from regionadapt.report import render_report

BROWSER = next(
    (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
    None,
)

# Appended to a copy of the page: once loaded, it writes what the browser made of the page into
# the DOM, which --dump-dom prints. The report itself carries no script.
PROBE = """<script>
window.addEventListener("load", () => {
  const imgs = [...document.images];
  const out = {
    images: imgs.length,
    decoded: imgs.filter(i => i.complete && i.naturalWidth > 100 && i.naturalHeight > 100).length,
    tables: document.querySelectorAll("table").length,
    rows: document.querySelectorAll("tbody tr").length,
    title: document.title,
    h1: document.querySelector("h1").textContent,
    fetched: performance.getEntriesByType("resource").map(r => r.name),
  };
  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


@pytest.mark.skipif(
    missing(BROWSER is None), reason="no chromium installed (apt-get install -y chromium)"
)
def test_report_html_renders_in_headless_chromium(tmp_path):
    out = tmp_path / "report"
    out.mkdir()
    render_report(make_results(ci=True, label="DEMO WORLD: generated."), out)
    # the page alone, away from its figure files: it must not need them
    probe = tmp_path / "alone" / "page.html"
    probe.parent.mkdir()
    probe.write_text((out / "report.html").read_text().replace("</body>", PROBE + "</body>"))
    proc = subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000",
         "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    found = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S)
    assert found, f"no probe output; chromium said:\n{proc.stderr[-2000:]}"
    seen = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert seen["images"] == 3 and seen["decoded"] == 3, seen
    assert seen["tables"] == 5 and seen["rows"] >= 5 + 3 + 3
    assert seen["h1"] == "regionadapt: Southeast Asia (sea), embedding" == seen["title"]
    assert [u for u in seen["fetched"] if not u.startswith("data:")] == []
