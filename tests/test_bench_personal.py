"""scripts/bench_personal.py runs (seqnn's engine; GenVarLoader is a bench-only install) and
``--max-windows`` ends each pass after the same first windows."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("msprime")
pytest.importorskip("cyvcf2")

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench_personal.py"


def test_a_tiny_cohort_prints_its_lines_and_caps_each_pass(tmp_path):
    command = [sys.executable, str(SCRIPT), "--samples", "6", "--regions", "8"]
    command += ["--region-length", "200", "--engines", "seqnn", "--workers", "0"]
    command += ["--repeats", "1", "--batch-size", "16", "--max-windows", "20"]
    out = subprocess.run(
        [*command, "--workdir", str(tmp_path)], capture_output=True, text=True, check=True
    )
    lines = {(d := json.loads(s))["bench"]: d for s in out.stdout.splitlines()}
    assert lines["personal_prepare_s"]["samples"] == 6
    rate = lines["personal_windows_per_s"]
    # 6 people x 8 regions x 2 haplotypes = 96 windows; the cap ends a pass after 2 batches
    assert rate["windows_per_pass"] == 32 and rate["value"] > 0 and rate["workers"] == 0
    assert lines["personal_peak_rss_mb"]["value"] > 0
    assert "genvarloader_windows_per_s" not in lines
