"""The report: tables with confidence intervals when results.json has them (and without when
not), why b was chosen, raw metrics beside normalised ones, and figures that explain the choice
(inspected as matplotlib drew them, before they are saved)."""

from __future__ import annotations

import re

import pytest
from report_kit import make_results

from regionadapt import report_plots
from regionadapt.report import render_report, text_report, why_chosen

CHOICE = {"b": 0.75, "runner_up": 0.5, "grp_margin": 0.078, "margin_ci": [0.05, 0.1],
          "significant": True, "split": "validation", "best_retaining_98": 0.25}  # fmt: skip


def test_without_optional_fields_the_report_still_renders(tmp_path):
    results = make_results(label=None)  # an older results.json: no label, ci, choice
    written = render_report(results, tmp_path)
    assert [p.name for p in written] == [
        "report.md", "report.html", "grp_curve.png", "tradeoff.png",
        "groups_demo-regional_lang.png",
    ]  # fmt: skip
    assert all(p.stat().st_size > 500 for p in written)
    md = (tmp_path / "report.md").read_text()
    assert "| model | regional | global | GRP |  |" in md and "CI" not in md.split("## Bench")[0]
    assert "| b=0.75 | 0.875 | 0.723 | 0.809 | <- chosen |" in md
    assert "whether this exceeds the noise is unknown" in md
    assert "DEMO WORLD" not in md


def test_confidence_intervals_raw_metrics_label_and_significance(tmp_path):
    results = make_results(ci=True, raw=True, label="SOME LABEL: read with care.", choice=CHOICE)
    render_report(results, tmp_path)
    md = (tmp_path / "report.md").read_text()
    m = results["models"]["b=0.75"]
    lo, hi = m["ci"]["grp"]
    assert (
        f"| b=0.75 | 0.875 [0.855, 0.895] | 0.723 [0.703, 0.743] | 0.809 [{lo:.3f}, {hi:.3f}] | <- chosen |"
        in md
    )
    assert "**SOME LABEL: read with care.**" in md and "DEMO WORLD" not in md
    assert "95% CI of the margin [0.050, 0.100] excludes 0: the margin exceeds the noise" in md
    assert "Best ratio keeping 98% of the base's global score: b = 0.25." in md
    # a non-accuracy metric: its raw value beside the normalised score, and how it maps
    g = results["models"]["base"]["benchmarks"]["demo-global"]
    assert "| model | score | 95% CI | CLIPScore | n | skipped |" in md
    assert (
        f"| base | {g['score']:.3f} | [{g['ci'][0]:.3f}, {g['ci'][1]:.3f}] | {g['raw']:.4g} | 240 | - |"
        in md
    )
    assert "CLIPScore normalised to [0, 1] (raw / 100)" in md
    assert text_report(results).splitlines()[2] == "SOME LABEL: read with care."


def test_within_noise_and_retention_explained():
    results = make_results(retention=0.98, choice=None)
    assert results["chosen_b"] == 0.25
    text = why_chosen(results)
    assert "b = 0.5, b = 0.75 scored higher but kept less" in text and "keeping 98%" in text
    results["choice"] = {**CHOICE, "b": 0.25, "runner_up": 0.5, "grp_margin": 0.01,
                         "margin_ci": [-0.02, 0.04], "significant": False}  # fmt: skip
    assert "includes 0: within the noise" in why_chosen(results)


@pytest.fixture
def figures(monkeypatch):
    drawn = {}

    def keep(fig, path):
        drawn[path.name] = fig

    monkeypatch.setattr(report_plots, "_save", keep)
    yield drawn
    import matplotlib.pyplot as plt

    plt.close("all")


def test_grp_curve_shows_grp_values_the_choice_and_the_retention_floor(tmp_path, figures):
    results = make_results(ci=True, retention=0.9)
    report_plots.grp_curve(results, tmp_path / "grp_curve.png")
    ax_grp, ax_rg = figures["grp_curve.png"].axes
    shown = sorted(report_plots.curve_points(results, "selection"), key=lambda p: p["b"])
    texts = [t.get_text() for t in ax_grp.texts]
    assert texts == [f"{p['grp']:.3f}" for p in shown]  # every GRP value, on its point
    chosen = results["chosen_b"]
    vlines = [ln.get_xdata()[0] for ln in ax_grp.lines if len(set(ln.get_xdata())) == 1]
    assert chosen in vlines
    floor = 0.9 * results["validation_curve"]["base"]["global"]
    hlines = [ln.get_ydata()[0] for ln in ax_rg.lines if len(set(ln.get_ydata())) == 1]
    assert any(abs(y - floor) < 1e-9 for y in hlines)
    labels = [t.get_text() for t in ax_rg.get_legend().get_texts()]
    assert {
        "regional (validation)",
        "global (validation)",
        "regional (test)",
        "global (test)",
    } <= set(labels)
    assert any(t.startswith("retention floor: 90%") for t in labels)
    assert any(
        t.startswith("keeps < 90%") for t in (x.get_text() for x in ax_grp.get_legend().get_texts())
    )
    for ax in (ax_grp, ax_rg):
        assert ax.get_ylim()[1] > 1.05  # room above 1.0
        assert (
            ax.get_legend().get_bbox_to_anchor().y0 >= ax.get_window_extent().y1 - 1
        )  # above the axes
    assert f"why b = {chosen:g}" in figures["grp_curve.png"]._suptitle.get_text()


def test_group_bars_have_headroom_visible_zeros_and_a_legend_off_the_bars(tmp_path, figures):
    results = make_results(label="DEMO WORLD: x")
    made = report_plots.group_bars(results, ["base", "tuned", "b=0.75"], tmp_path)
    assert made == [
        ("demo-regional", "lang", "groups_demo-regional_lang.png")
    ]  # one country: no chart
    ax = figures["groups_demo-regional_lang.png"].axes[0]
    assert ax.get_ylim()[1] > 1.05
    heights = [p.get_height() for p in ax.patches]
    assert 1.0 in heights and 0.0 in heights
    assert [t.get_text() for t in ax.texts] == ["0"]  # base scores 0 on tha: marked, not blank
    legend = ax.get_legend()
    assert legend.get_bbox_to_anchor().y0 >= ax.get_window_extent().y1 - 1
    assert ax.get_title().startswith("[DEMO WORLD] ")


def test_html_is_self_contained(tmp_path):
    render_report(make_results(ci=True), tmp_path)
    page = (tmp_path / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    srcs = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert (
        page.count("<img ") == 3 and page.count("<table>") == 1 + 2 + 2
    )  # results, benchmarks, groups
    assert "&lt;- chosen" in page


def test_images_evaluators_record_are_shown_once_from_the_run_folder(tmp_path):
    """An evaluator's ``images`` (paths inside the run folder) appear under "Images" in
    report.md (relative link) and report.html (embedded), once each however many models name
    them; a recorded file that is gone is listed, not fatal."""
    import base64

    from PIL import Image

    run = tmp_path / "runs" / "x-t2i"
    sheet = run / "t2i-images" / "test" / "demo-regional-contact.png"
    sheet.parent.mkdir(parents=True)
    Image.new("RGB", (40, 20), (200, 10, 10)).save(sheet)
    results = make_results()
    for m in results["models"].values():
        m["benchmarks"]["demo-regional"]["images"] = [
            {"path": "t2i-images/test/demo-regional-contact.png", "title": "contact sheet"}
        ]
    results["models"]["tuned"]["benchmarks"]["demo-global"]["images"] = [
        {"path": "t2i-images/test/gone.png", "title": "deleted since"}
    ]
    out = run / "evaluate"
    out.mkdir()
    render_report(results, out)
    md = (out / "report.md").read_text()
    images = md.split("## Images", 1)[1]
    assert images.count("![demo-regional: contact sheet](../t2i-images/test/demo-regional-contact.png)") == 1
    assert "not found in the run folder: `t2i-images/test/gone.png`" in images
    page = (out / "report.html").read_text()
    assert base64.b64encode(sheet.read_bytes()).decode() in page
    # the `regionadapt report` folder sits beside evaluate/: the same relative link works
    (run / "report").mkdir()
    render_report(results, run / "report")
    assert "](../t2i-images/test/demo-regional-contact.png)" in (run / "report" / "report.md").read_text()


def test_eval_result_images_must_stay_inside_the_run_folder():
    from regionadapt.components import EvalResult

    ok = EvalResult(score=0.5, n=1, images=[{"path": "t2i-images/a.png", "title": "t"}])
    ok.check("ev")
    assert ok.to_json()["images"] == [{"path": "t2i-images/a.png", "title": "t"}]
    assert "images" not in EvalResult(score=0.5, n=1).to_json()
    for bad in ("../a.png", "/abs/a.png", "", "a\\b.png"):
        with pytest.raises(ValueError, match="images entry"):
            EvalResult(score=0.5, n=1, images=[{"path": bad}]).check("ev")
