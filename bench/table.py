"""The results table: one row per target, the machine it ran on, and its Markdown form.

A row states the measured value, the target and whether it was met; rows that cannot be judged
(a skipped measurement, the paper estimate) say so instead of claiming "met".
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Row:
    what: str
    measured: str
    target: str
    met: bool | None  # None: not judged (skipped, or a paper estimate)
    notes: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        if self.met is None:
            return "—"
        return "met" if self.met else "MISSED"


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{cores} cores, {model}, Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.system()} {platform.release()}"
    )


def markdown(rows: list[Row], header: str) -> str:
    lines = [
        header,
        "",
        "| # | what | measured | target | verdict |",
        "|---|---|---|---|---|",
    ]
    for number, row in enumerate(rows, 1):
        cells = (str(number), row.what, row.measured, row.target, row.verdict)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    notes = [(n, note) for n, row in enumerate(rows, 1) for note in row.notes]
    if notes:
        lines.append("")
        lines.extend(f"- ({number}) {note}" for number, note in notes)
    return "\n".join(lines) + "\n"


def plain(rows: list[Row], header: str) -> str:
    headings = ("#", "what", "measured", "target", "verdict")
    table = [
        (str(n), row.what, row.measured, row.target, row.verdict) for n, row in enumerate(rows, 1)
    ]
    widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(headings)]
    lines = [header, ""]
    lines.append("  ".join(h.ljust(w) for h, w in zip(headings, widths, strict=True)))
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in table)
    notes = [(n, note) for n, row in enumerate(rows, 1) for note in row.notes]
    if notes:
        lines.append("")
        lines.extend(f"({number}) {note}" for number, note in notes)
    return "\n".join(lines) + "\n"
