"""Benchmark results: one row per target, rendered as a text table and as Markdown."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    """The median; NaN for no values."""
    return statistics.median(values) if values else math.nan


@dataclass(frozen=True)
class Row:
    """One measured target.

    ``met`` is None for a figure reported without a target (context for another row).
    """

    name: str
    target: str
    median: float
    p95: float | None
    unit: str
    met: bool | None
    note: str = ""

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict (NaN becomes None)."""
        data = asdict(self)
        for key in ("median", "p95"):
            value = data[key]
            data[key] = None if value is None or (isinstance(value, float) and math.isnan(value)) else value
        return data


@dataclass
class Report:
    """Rows, the machine they were measured on, the settings used and notes on method."""

    title: str
    rows: list[Row] = field(default_factory=list)
    machine: dict[str, str] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)

    def add(self, row: Row) -> Row:
        """Append a row and return it."""
        self.rows.append(row)
        return row

    def to_json(self) -> dict[str, object]:
        """Everything as one JSON-ready object."""
        return {
            "title": self.title,
            "rows": [row.to_json() for row in self.rows],
            "machine": self.machine,
            "settings": self.settings,
            "notes": self.notes,
            "commands": self.commands,
        }


def _number(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _verdict(met: bool | None) -> str:
    return "-" if met is None else ("met" if met else "NOT MET")


def _cells(row: Row) -> list[str]:
    return [row.name, row.target, f"{_number(row.median)} {row.unit}".strip(),
            f"{_number(row.p95)} {row.unit}".strip() if row.p95 is not None else "-",
            _verdict(row.met), row.note]


HEADER = ["measurement", "target", "median", "p95", "verdict", "note"]


def render_text(report: Report) -> str:
    """A fixed-width table with the machine and settings below it."""
    lines = [[*HEADER], *(_cells(row) for row in report.rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    out = [report.title, ""]
    for n, line in enumerate(lines):
        out.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    out += ["", "Machine:"] + [f"  {k}: {v}" for k, v in report.machine.items()]
    out += ["Settings:"] + [f"  {k}: {v}" for k, v in report.settings.items()]
    if report.notes:
        out += ["Notes:"] + [f"  - {note}" for note in report.notes]
    return "\n".join(out) + "\n"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(report: Report) -> str:
    """The same content as Markdown (the body of docs/benchmarks.md)."""
    out = [f"# {report.title}", ""]
    if report.commands:
        out += ["Produced by:", "", "```", *report.commands, "```", ""]
    out += ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    out += ["| " + " | ".join(_md_escape(cell) for cell in _cells(row)) + " |" for row in report.rows]
    out += ["", "## Machine", ""] + [f"- {k}: {v}" for k, v in report.machine.items()]
    out += ["", "## Settings", ""] + [f"- {k}: `{v}`" for k, v in report.settings.items()]
    if report.notes:
        out += ["", "## Method and notes", ""] + [f"- {note}" for note in report.notes]
    return "\n".join(out) + "\n"
