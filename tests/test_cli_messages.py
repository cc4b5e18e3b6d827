"""What the stage commands say is true: a report is pointed at only once it exists, an up-to-date
stage says "skipped" (not "0.1s"), --explain of an unknown id fails, a pattern lists ids, and
no third-party bar ("Saving the dataset", "Flattening the indices") reaches the terminal."""

from __future__ import annotations

import pytest
from core_kit import run_cli


@pytest.fixture(scope="module")
def filtered(tmp_path_factory):
    work = tmp_path_factory.mktemp("msgs")
    assert run_cli("init", "--region", "sea", cwd=work).returncode == 0
    collect = run_cli("collect", cwd=work, timeout=300)
    assert collect.returncode == 0, collect.stderr
    filt = run_cli("filter", cwd=work, timeout=300)
    assert filt.returncode == 0, filt.stderr
    return work, collect, filt


def test_stage_output_is_clean_and_points_only_at_what_exists(filtered):
    work, collect, filt = filtered
    for proc in (collect, filt):
        assert "Saving the dataset" not in proc.stderr and "Flattening" not in proc.stderr
        assert "%|" not in proc.stderr  # no tqdm bar from a library
        assert "report" not in proc.stdout  # evaluate has not run: there is no report yet
        assert "run directory: " in proc.stdout
    assert "stage timings: collect " in collect.stdout
    again = run_cli("collect", cwd=work, timeout=300)
    assert again.returncode == 0
    assert "collect: up to date, skipped" in again.stdout
    assert "stage timings" not in again.stdout


def test_explain_unknown_id_fails_and_a_pattern_lists_ids(filtered):
    work, _, _ = filtered
    bad = run_cli("filter", "--explain", "nonsense", cwd=work, timeout=120)
    assert bad.returncode != 0
    assert "'nonsense' is not among the" in bad.stderr and "--explain '*'" in bad.stderr
    listed = run_cli("filter", "--explain", "demo-sea-00000*", cwd=work, timeout=120)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].startswith("10 sample(s) match 'demo-sea-00000*': ")
    ids = [ln.split()[0] for ln in lines[1:]]
    assert ids == [f"demo-sea-00000{i}" for i in range(10)]
    one = run_cli("filter", "--explain", ids[0], cwd=work, timeout=120)
    assert one.returncode == 0 and one.stdout.startswith(f"{ids[0]}: ")
    near = run_cli("filter", "--explain", "demo-sea-0000001", cwd=work, timeout=120)
    assert near.returncode != 0 and "closest: demo-sea-000001" in near.stderr
