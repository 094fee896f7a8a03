"""The CSV files of ``evaluate``: ``--per-file`` (one row per candidate file) and ``--csv``.

``--per-file`` is rewritten whole, atomically, after each set, with the
sets in command-line order and each set's files worst first. ``--csv``
grows by one row per set and metric, as fadtk's CSV output does; the file
is rewritten atomically with the old rows first, so a killed run never
leaves half a row.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from jaxmetrics.audio.atomic import write_text_atomic
from jaxmetrics.cli.errors import CliError

__all__ = [
    "PER_FILE_COLUMNS",
    "SET_COLUMNS",
    "append_set_rows",
    "check_set_csv",
    "write_per_file",
]

PER_FILE_COLUMNS = (
    "set",
    "path",
    "windows",
    "fad",
    "fad_note",
    "realism_mean",
    "realism_min",
    "in_manifold",
    "ball_count_mean",
    "likely_copies",
    "nearest_reference",
    "nearest_offset",
    "nearest_distance",
    "window_offset",
)
SET_COLUMNS = (
    "date",
    "set",
    "metric",
    "value",
    "low",
    "high",
    "level",
    "windows",
    "files",
    "embedder",
    "win_dur",
    "reference",
)


def _text(rows: list[dict[str, Any]], columns: tuple[str, ...], header: bool) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\n")
    if header:
        writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    return out.getvalue()


def write_per_file(path: str, diagnostics: dict[str, dict[str, Any]]) -> None:
    """Write every set's per-file rows (worst first within a set) to ``path``."""
    rows = [{"set": spec, **row} for spec, found in diagnostics.items() for row in found["files"]]
    write_text_atomic(path, _text(rows, PER_FILE_COLUMNS, header=True))


def check_set_csv(path: str) -> None:
    """Refuse an existing ``--csv`` file whose header is not ours (before any work)."""
    p = Path(path)
    if not p.exists() or p.stat().st_size == 0:
        return
    with p.open(newline="") as f:
        first = f.readline().strip()
    if first != ",".join(SET_COLUMNS):
        raise CliError(
            f"--csv {path}: exists and is not a jaxmetrics --csv file (its first line is not "
            f"{','.join(SET_COLUMNS)!r}); give a new file name"
        )


def append_set_rows(path: str, rows: list[dict[str, Any]]) -> None:
    """Append rows to the ``--csv`` file (with the header when the file is new)."""
    p = Path(path)
    old = p.read_text() if p.exists() else ""
    write_text_atomic(path, old + _text(rows, SET_COLUMNS, header=not old))
