"""The report's HTML tables: the summary of every set, the per-file diagnostics, skipped files.

Every function returns an HTML fragment (a string) and escapes every string
that comes from the results, so a file named ``<script>`` is shown as text.
Missing keys are left out, never an error: a results file written before a
field existed still renders.
"""

from __future__ import annotations

import math
import os
import urllib.parse
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

__all__ = [
    "METRIC_ORDER",
    "PER_FILE_ROWS",
    "audio_src",
    "fmt",
    "per_file_table",
    "skipped_list",
    "summary_table",
]

# Columns of the summary in this order; other metrics follow, sorted.
METRIC_ORDER = (
    "fad",
    "fad_inf",
    "kernel_distance_mean",
    "kernel_distance_std",
    "precision",
    "recall",
    "density",
    "coverage",
    "apa",
)
# Shorter headers than the results' keys (the key is the header's tooltip).
HEADERS = {"kernel_distance_mean": "kd mean", "kernel_distance_std": "kd std", "fad_inf": "FAD∞"}
PER_FILE_ROWS = 50  # the worst files shown per set; the per-file CSV has them all
SKIPPED_ROWS = 200


def fmt(value: Any) -> str:
    """A number in 4 significant digits (``—`` for missing or NaN), anything else escaped."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:.4g}"
    return escape(str(value))


def _interval(bounds: Any) -> str:
    if isinstance(bounds, Sequence) and not isinstance(bounds, str) and len(bounds) == 2:
        return f' <span class="ci">[{fmt(bounds[0])}, {fmt(bounds[1])}]</span>'
    return ""


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _columns(results: Mapping[str, Any], inf: Mapping[str, Any]) -> list[str]:
    present = {key for values in results.values() for key in _dict(values)}
    if any("fad_inf" in _dict(v) for v in inf.values()):
        present.add("fad_inf")
    ordered = [m for m in METRIC_ORDER if m in present]
    return ordered + sorted(present - set(ordered))


def summary_table(report: Mapping[str, Any]) -> str:
    """One row per candidate set: each metric (with its interval), windows, files; failed sets.

    Args:
        report: the results dict; reads ``results``, ``intervals``, ``inf``,
            ``better``, ``candidates`` and ``failed`` where present.

    Returns:
        A ``<table>`` in a horizontally scrolling ``<div>``.

    """
    results = _dict(report.get("results"))
    intervals = _dict(report.get("intervals"))
    inf = _dict(report.get("inf"))
    better = _dict(report.get("better"))
    sizes = _dict(report.get("candidates"))
    failed = _dict(report.get("failed"))
    columns = _columns(results, inf)
    head = "".join(
        f'<th title="{escape(c, quote=True)}">{escape(HEADERS.get(c, c))}</th>' for c in columns
    )
    rows = [f"<tr><th>set</th>{head}<th>windows</th><th>files</th><th>skipped</th></tr>"]
    if better:
        cells = "".join(f"<td>{fmt(better.get(c) or '')}</td>" for c in columns)
        rows.append(f'<tr class="better"><th>better</th>{cells}<td></td><td></td><td></td></tr>')
    for name, values in results.items():
        values, bounds = _dict(values), _dict(intervals.get(name))
        if "fad_inf" not in values and "fad_inf" in _dict(inf.get(name)):
            values = {**values, "fad_inf": _dict(inf.get(name))["fad_inf"]}
        cells = "".join(f"<td>{fmt(values.get(c))}{_interval(bounds.get(c))}</td>" for c in columns)
        size = _dict(sizes.get(name))
        skipped = size.get("skipped")
        counts = (size.get("windows"), size.get("files"))
        count_cells = "".join(f"<td>{fmt(v)}</td>" for v in counts)
        skipped_cell = fmt(len(skipped)) if isinstance(skipped, list) else "—"
        rows.append(
            f"<tr><th>{escape(str(name))}</th>{cells}{count_cells}<td>{skipped_cell}</td></tr>"
        )
    for name, reason in failed.items():
        rows.append(
            f'<tr class="failed"><th>{escape(str(name))}</th>'
            f'<td colspan="{len(columns) + 3}">failed: {escape(str(reason))}</td></tr>'
        )
    return '<div class="scroll"><table class="summary">' + "".join(rows) + "</table></div>"


def audio_src(path: str, base_dir: Path, origin: str | None = None) -> str:
    """``path`` relative to ``base_dir`` (the report's folder), URL-quoted for a ``src``.

    A relative ``path`` is taken relative to ``origin``, the folder the run
    that wrote the results ran in (its ``cwd``), or to the current folder
    when the results do not say.
    """
    where = os.path.join(origin, path) if origin else path
    relative = os.path.relpath(os.path.abspath(where), os.path.abspath(base_dir))
    return urllib.parse.quote(relative.replace(os.sep, "/"))


def _player(path: Any, base_dir: Path, origin: str | None) -> str:
    if not isinstance(path, str) or not path:
        return ""
    src = escape(audio_src(path, base_dir, origin), quote=True)
    return f'<audio controls preload="none" src="{src}"></audio>'


def _nearest(row: Mapping[str, Any], base_dir: Path, origin: str | None) -> str:
    path = row.get("nearest_reference")
    if path is None:
        return "—"
    offset = row.get("nearest_offset")
    at = f" at {fmt(offset)} s" if offset is not None else ""
    player = _player(path, base_dir, origin)
    return f'<span class="path">{escape(str(path))}</span>{at}<br>{player}'


def per_file_table(
    files: Sequence[Mapping[str, Any]],
    base_dir: Path,
    *,
    origin: str | None = None,
    limit: int = PER_FILE_ROWS,
) -> str:
    """The first ``limit`` files (the results list them worst first), with audio players.

    Args:
        files: rows of ``diagnostics[set]["files"]``, already sorted worst first.
        base_dir: the folder the report is written to; players link relative to it.
        origin: the folder relative file paths are taken from (the run's ``cwd``).
        limit: rows shown; a note counts the rest.

    Returns:
        A ``<table>`` in a horizontally scrolling ``<div>``, and the note if any.

    """
    head = (
        "<tr><th>#</th><th>file</th><th>windows</th><th>fad</th><th>realism mean</th>"
        "<th>realism min</th><th>in manifold</th><th>nearest reference</th>"
        "<th>distance</th><th>likely copies</th></tr>"
    )
    rows = [head]
    notes: dict[str, int] = {}  # each distinct FAD note once, under the table, by number
    for i, row in enumerate(files[:limit], start=1):
        row = _dict(row)
        note = row.get("fad_note")
        mark = notes.setdefault(str(note), len(notes) + 1) if note else None
        fad = fmt(row.get("fad")) + (f"<sup>[{mark}]</sup>" if mark else "")
        in_manifold = row.get("in_manifold")
        in_cell = f"{in_manifold:.0%}" if isinstance(in_manifold, (int, float)) else "—"
        copies = row.get("likely_copies")
        copy_class = ' class="copies"' if isinstance(copies, (int, float)) and copies > 0 else ""
        rows.append(
            f"<tr><td>{i}</td>"
            f'<td><span class="path">{fmt(row.get("path"))}</span><br>'
            f"{_player(row.get('path'), base_dir, origin)}</td>"
            f"<td>{fmt(row.get('windows'))}</td><td>{fad}</td>"
            f"<td>{fmt(row.get('realism_mean'))}</td><td>{fmt(row.get('realism_min'))}</td>"
            f"<td>{in_cell}</td><td>{_nearest(row, base_dir, origin)}</td>"
            f"<td>{fmt(row.get('nearest_distance'))}</td>"
            f"<td{copy_class}>{fmt(copies)}</td></tr>"
        )
    table = '<div class="scroll"><table class="per-file">' + "".join(rows) + "</table></div>"
    for note, mark in notes.items():
        table += f'<p class="note"><sup>[{mark}]</sup> {escape(note)}</p>'
    left = len(files) - limit
    if left > 0:
        table += (
            f'<p class="note">The {limit} worst of {len(files)} files; {left} more are left '
            "out here. The per-file CSV (--per-file) lists them all.</p>"
        )
    return table


def skipped_list(skipped: Sequence[Any], *, limit: int = SKIPPED_ROWS) -> str:
    """``path: reason`` per skipped file, as a ``<ul>``; a note counts any left out."""
    items = []
    for entry in skipped[:limit]:
        entry = _dict(entry)
        items.append(
            f'<li><span class="path">{fmt(entry.get("path"))}</span>: '
            f"{fmt(entry.get('reason'))}</li>"
        )
    text = "<ul>" + "".join(items) + "</ul>"
    if len(skipped) > limit:
        text += f'<p class="note">{len(skipped) - limit} more are left out here.</p>'
    return text
