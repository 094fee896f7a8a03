"""What the command line prints and writes: the results table, warnings, the JSON file.

The table is printed one row at a time, as each set completes, with a line
saying which direction is better for each column; the JSON file is rewritten
atomically after each set, so it always holds exactly what has completed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from jaxmetrics.audio.atomic import write_text_atomic

__all__ = ["BETTER", "COLUMNS", "ResultsTable", "report_skipped", "warn", "write_json"]

# Result keys per metric, in table order, and which direction is better.
COLUMNS = {
    "fad": ("fad",),
    "kd": ("kernel_distance_mean", "kernel_distance_std"),
    "prdc": ("precision", "recall", "density", "coverage"),
    "apa": ("apa",),
}
BETTER = {
    "fad": "lower",
    "kernel_distance_mean": "lower",
    "kernel_distance_std": "",
    "precision": "higher",
    "recall": "higher",
    "density": "higher",
    "coverage": "higher",
    "apa": "higher",
}
_SHORT = {"kernel_distance_mean": "kd_mean", "kernel_distance_std": "kd_std"}


def warn(message: str) -> None:
    """Print a one-line warning on stderr."""
    print(f"warning: {message}", file=sys.stderr, flush=True)


def report_skipped(label: str, files: Any) -> list[dict[str, str]]:
    """Warn about the files of a set that were left out; return them for the JSON file."""
    if files.skipped:
        warn(f"{label}: skipped {len(files.skipped)} of {files.total} files:")
        for skip in files.skipped:
            print(f"  {skip.path}: {skip.reason}", file=sys.stderr)
    return [{"path": s.path, "reason": s.reason} for s in files.skipped]


class ResultsTable:
    """A table of results printed row by row: set name, windows, one column per result."""

    def __init__(self, metrics: Sequence[str], names: Sequence[str], windows: bool) -> None:
        self.columns = [c for m in COLUMNS if m in metrics for c in COLUMNS[m]]
        self.width = max(len("better"), *(len(n) for n in names))
        self.windows = windows
        self._started = False

    def _line(self, first: str, count: str, cells: Sequence[str]) -> str:
        parts = [f"{first:<{self.width}}"]
        if self.windows:
            parts.append(f"{count:>8}")
        return " | ".join([*parts, *(f"{c:>11}" for c in cells)])

    def _header(self) -> None:
        print(self._line("set", "windows", [_SHORT.get(c, c) for c in self.columns]))
        print(self._line("better", "", [BETTER[c] for c in self.columns]))
        print(
            "-+-".join(
                [
                    "-" * self.width,
                    *(["-" * 8] if self.windows else []),
                    *("-" * 11 for _ in self.columns),
                ]
            )
        )
        self._started = True

    def row(self, name: str, values: dict[str, float], windows: int | None = None) -> None:
        """Print one set's row (the header first, once)."""
        if not self._started:
            self._header()
        cells = [f"{values[c]:.5g}" if c in values else "" for c in self.columns]
        print(self._line(name, "" if windows is None else str(windows), cells), flush=True)

    def failed(self, name: str) -> None:
        """Print a row for a set that failed."""
        if not self._started:
            self._header()
        print(self._line(name, "", ["failed"] + [""] * (len(self.columns) - 1)), flush=True)


def write_json(path: str | None, summary: dict[str, Any]) -> None:
    """Write the summary as JSON atomically (nothing if ``path`` is None)."""
    if path:
        write_text_atomic(path, json.dumps(summary, indent=2) + "\n")
