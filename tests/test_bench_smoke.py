"""`python -m bench --smoke` runs end to end and prints the results table.

No figure is asserted (the machine is shared and noisy): only that every section ran, produced
its row with a verdict, and wrote the Markdown table.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.servers import postgres

ROWS = (
    "cold poll cycle",
    "warm poll cycle",
    "warm cycle, 20 page sources",
    "matching",
    "fan-out",
    "latency",
    "memory",
    "scale",
    "unchanged body without validators",
    "extraction",
    "full-text cycle",
    "memory: `vigil once` reading",
    "listing extraction",
    "archive search",
)
# Rows of issue 15 need a PostgreSQL server binary; without one "skipped" rows stand in.
PG_ROWS = (
    ("PostgreSQL vs SQLite", "two replicas", "archive search on PostgreSQL")
    if postgres.bindir()
    else ("PostgreSQL rows", "archive search on PostgreSQL")
)


@pytest.mark.slow
def test_bench_smoke_prints_table(tmp_path: Path) -> None:
    """The tiny-size bench completes and prints one row per target plus the machine line."""
    output = tmp_path / "latest.md"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "cores" in done.stdout and "Python" in done.stdout
    for row in ROWS + PG_ROWS:
        assert row in done.stdout, row
    markdown = output.read_text(encoding="utf-8")
    assert markdown.count("\n| ") == len(ROWS) + len(PG_ROWS) + 1  # heading, one per target
