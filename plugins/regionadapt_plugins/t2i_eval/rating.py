"""The human-rating kit: a blind, shuffled rating sheet of generated images, and its import.

``export_sheet`` reads the images the evaluators kept in a run (``<run>/t2i-images/<split>/
<prompt set>/<model>/``) and writes three files:

- ``rating.html``: a static page (images embedded, no server, no network) with the paper's two
  3-level Likert questions per image, correctness and naturalness; the rater's answers are
  saved as a CSV from the page itself ("Download answers");
- ``rating.csv``: the same sheet for raters who prefer a spreadsheet (fill the two columns);
- ``key.json``: which model, b and prompt each blind item id stands for. Keep it from raters.

Items are shuffled with a seed and carry only a random-looking id: nothing on the sheet says
which model or ratio drew an image. ``import_ratings`` joins filled sheets with the key and
reports the mean and a bootstrap 95% interval per model and per (model, category).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import json
import random
from pathlib import Path
from typing import Any

from regionadapt.errors import ConfigError

LEVELS = (0, 1, 2)
QUESTIONS = {
    "correctness": (
        "Does the image correctly show what the prompt describes, as it is in the region?",
        ("0 - no", "1 - partly", "2 - yes"),
    ),
    "naturalness": (
        "Does the image look natural (plausible, without artefacts)?",
        ("0 - not natural", "1 - somewhat", "2 - natural"),
    ),
}
COLUMNS = ("id", "prompt", "correctness", "naturalness")


def collect_items(run_root: Path, split: str, prompt_sets: list[str] | None) -> list[dict]:
    from regionadapt_plugins.t2i_eval.images import ITEMS, ROOT, models_in

    base = Path(run_root) / ROOT / split
    if not base.is_dir():
        raise ConfigError(f"{base}: no generated images (run `regionadapt evaluate` first)")
    sets = sorted(p.name for p in base.iterdir() if p.is_dir())
    chosen = prompt_sets or sets
    missing = sorted(set(chosen) - set(sets))
    if missing:
        raise ConfigError(f"{base}: no prompt set {missing} (have {sets})")
    out = []
    for s in chosen:
        for model in models_in(base / s):
            for row in json.loads((base / s / model / ITEMS).read_text("utf-8")):
                out.append({**row, "set": s, "model": model, "path": str(base / s / model / row["image"])})  # fmt: skip
    if not out:
        raise ConfigError(f"{base}: no generated images in {chosen}")
    return out


def _blind_id(seed: int, n: int) -> str:
    return "r" + hashlib.sha256(f"{seed}:{n}".encode()).hexdigest()[:8]


def export_sheet(
    run_root: Path, out_dir: Path, split: str = "test", prompt_sets: list[str] | None = None,
    seed: int = 0,
) -> dict[str, Path]:  # fmt: skip
    """Write rating.html, rating.csv and key.json for every kept image of ``split``."""
    items = collect_items(run_root, split, prompt_sets)
    random.Random(seed).shuffle(items)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    key = {}
    for n, it in enumerate(items):
        it["rid"] = _blind_id(seed, n)
        key[it["rid"]] = {k: it.get(k, "") for k in
                          ("set", "model", "id", "text", "category", "lang", "country", "concept")}  # fmt: skip
    (out_dir / "key.json").write_text(json.dumps(key, ensure_ascii=False, indent=1), "utf-8")
    with open(out_dir / "rating.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for it in items:
            w.writerow([it["rid"], it["text"], "", ""])
    (out_dir / "rating.html").write_text(render_html(items), "utf-8")
    return {"html": out_dir / "rating.html", "csv": out_dir / "rating.csv",
            "key": out_dir / "key.json"}  # fmt: skip


def _data_uri(path: str) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode()


def _question(rid: str, name: str) -> str:
    text, labels = QUESTIONS[name]
    radios = "".join(
        f'<label><input type="radio" name="{rid}-{name}" value="{v}"> {html.escape(lab)}</label> '
        for v, lab in zip(LEVELS, labels, strict=True)
    )
    return f'<p class="q">{html.escape(text)}<br>{radios}</p>'


def render_html(items: list[dict]) -> str:
    cards = []
    for it in items:
        rid = html.escape(it["rid"])
        cards.append(
            f'<div class="item" data-id="{rid}" data-prompt="{html.escape(it["text"])}">'
            f'<img src="{_data_uri(it["path"])}" width="256" height="256" alt="image {rid}">'
            f'<div><p class="prompt">{html.escape(it["text"])}</p>'
            f"{_question(rid, 'correctness')}{_question(rid, 'naturalness')}</div></div>"
        )
    return PAGE.replace("{{N}}", str(len(items))).replace("{{ITEMS}}", "\n".join(cards))


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Image rating</title>
<style>
body{font-family:sans-serif;max-width:900px;margin:2em auto}
.item{display:flex;gap:1em;border-bottom:1px solid #ccc;padding:1em 0}
.item img{image-rendering:pixelated;border:1px solid #999}.prompt{font-weight:bold}
#status{position:sticky;top:0;background:#ffe;padding:.5em}
</style></head><body>
<h1>Rate {{N}} images</h1>
<p>For each image, read the prompt and answer both questions. The images are shuffled and do
not say which system drew them. When done, press <b>Download answers</b> and send the CSV file.</p>
<div id="status"></div>
<button id="download">Download answers</button>
{{ITEMS}}
<pre id="csv" hidden></pre>
<script>
function q(s){return '"'+String(s).replace(/"/g,'""')+'"';}
function answers(){
  const rows=[["id","prompt","correctness","naturalness"].join(",")];let done=0;
  document.querySelectorAll(".item").forEach(function(el){
    const id=el.dataset.id;const get=function(n){
      const c=el.querySelector('input[name="'+id+'-'+n+'"]:checked');return c?c.value:"";};
    const cor=get("correctness"),nat=get("naturalness");if(cor!==""&&nat!=="")done++;
    rows.push([q(id),q(el.dataset.prompt),cor,nat].join(","));});
  document.getElementById("status").textContent=done+" of "+(rows.length-1)+" rated";
  return rows.join("\\n")+"\\n";}
document.addEventListener("change",answers);
document.getElementById("download").onclick=function(){
  const blob=new Blob([answers()],{type:"text/csv"});const a=document.createElement("a");
  a.href=URL.createObjectURL(blob);a.download="ratings.csv";a.click();};
// #selftest=N: answer every item by a fixed rule (used by the browser test), show the CSV.
const m=location.hash.match(/selftest=(\\d+)/);
if(m){const k=parseInt(m[1]);document.querySelectorAll(".item").forEach(function(el,i){
  const id=el.dataset.id;
  el.querySelector('input[name="'+id+'-correctness"][value="'+((i+k)%3)+'"]').click();
  el.querySelector('input[name="'+id+'-naturalness"][value="'+((i*k)%3)+'"]').click();});
  const pre=document.getElementById("csv");pre.textContent=answers();pre.hidden=false;}
answers();
</script></body></html>
"""


def read_sheet(path: Path) -> list[dict[str, Any]]:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if rows and not {"id", "correctness", "naturalness"} <= set(rows[0]):
        raise ConfigError(f"{path}: expected columns {', '.join(COLUMNS)}")
    return rows


def import_ratings(key_path: Path, sheets: list[Path], seed: int = 0) -> dict[str, Any]:
    """Join filled sheets with the key: mean and 95% bootstrap interval of each question per
    model and per (model, category); unanswered or unknown rows are counted, not guessed."""
    from regionadapt import metrics

    key = json.loads(Path(key_path).read_text("utf-8"))
    scores: dict[tuple[str, str, str], list[float]] = {}
    skipped = {"unanswered": 0, "unknown id": 0, "bad value": 0}
    for sheet in sheets:
        for i, row in enumerate(read_sheet(Path(sheet))):
            info = key.get(row["id"])
            if info is None:
                skipped["unknown id"] += 1
                continue
            for qn in QUESTIONS:
                raw = (row.get(qn) or "").strip()
                if raw == "":
                    skipped["unanswered"] += 1
                    continue
                if raw not in {str(v) for v in LEVELS}:
                    raise ConfigError(f"{sheet} row {i + 2}: {qn}={raw!r}; expected 0, 1 or 2")
                for group in ("", info.get("category") or "?"):
                    scores.setdefault((info["model"], group, qn), []).append(float(raw))
    out: dict[str, Any] = {"models": {}, "skipped": skipped}
    for (model, group, qn), vals in sorted(scores.items()):
        ci = metrics.interval(metrics.replicate_means(vals, seed, f"{model}/{group}/{qn}"))
        entry = {"mean": sum(vals) / len(vals), "ci": ci, "n": len(vals)}
        m = out["models"].setdefault(model, {"overall": {}, "categories": {}})
        if group == "":
            m["overall"][qn] = entry
        else:
            m["categories"].setdefault(group, {})[qn] = entry
    return out
