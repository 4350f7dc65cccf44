"""Figures, their budgets, and the table they are printed as."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Figure:
    """One measured figure; `ok` is None for a figure that has no budget (informative)."""

    key: str
    value: Any
    budget: str = ""
    ok: bool | None = None

    @property
    def verdict(self) -> str:
        """OK, OVER, or blank when there is no budget."""
        return "" if self.ok is None else ("OK" if self.ok else "OVER")


def at_most(key: str, value: float, limit: float, unit: str = "") -> Figure:
    """A figure whose budget is `value <= limit`."""
    return Figure(key, value, f"<= {_show(limit)}{unit}", value <= limit)


def must_be(key: str, value: bool, expected: bool) -> Figure:
    """A yes/no figure that must equal `expected`."""
    return Figure(key, value, f"{expected}", value is expected)


def info(key: str, value: Any) -> Figure:
    """A figure reported for context, with no budget."""
    return Figure(key, value)


def table(figures: list[Figure]) -> str:
    """The figures as a fixed-width table."""
    rows = [("figure", "measured", "budget", "verdict")]
    rows += [(f.key, _show(f.value), f.budget, f.verdict) for f in figures]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_json(figures: list[Figure], path: Path) -> None:
    """One key per figure, so two runs can be compared with a plain diff."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {f.key: f.value for f in figures}
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)
