"""The parts of an evaluate run around the results table: run facts, intervals, comparisons.

- :func:`header`: the facts every results JSON starts with (format,
  date, versions, which direction is better);
- :func:`print_extras`: the lines printed under a set's row (interval,
  FAD∞, worst files, likely copies);
- :func:`set_rows`: the ``--csv`` rows of a set;
- :func:`finish`: after the last set, the comparisons of every pair of sets
  whose intervals are known, and the ``--report`` file.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import os
import platform
from typing import Any

from jaxmetrics._src.version import VERSION
from jaxmetrics.cli.output import BETTER

__all__ = ["RESULTS_FORMAT", "comparisons", "finish", "header", "print_extras", "set_rows"]

RESULTS_FORMAT = "jaxmetrics-results/1"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def header() -> dict[str, Any]:
    """Format, date, versions and directions of a results JSON."""
    import jax
    import numpy

    return {
        "format": RESULTS_FORMAT,
        "date": _now(),
        "cwd": os.getcwd(),  # relative paths below start here (the report's audio links)
        "versions": {
            "jaxmetrics": VERSION,
            "jax": jax.__version__,
            "numpy": numpy.__version__,
            "python": platform.python_version(),
        },
        "better": {**BETTER, "fad_inf": "lower"},
    }


def _interval(values: list[float] | None) -> str:
    return "" if values is None else f" [{values[0]:.5g}, {values[1]:.5g}]"


def print_extras(
    result: dict[str, float], extras: dict[str, Any], args: argparse.Namespace
) -> None:
    """Print, under a set's row, what the diagnostics options found."""
    if "intervals" in extras:
        parts = [
            f"{name} {result[name]:.5g}{_interval(iv)}" for name, iv in extras["intervals"].items()
        ]
        print(f"  {args.ci:.0%} interval (files resampled): " + ", ".join(parts))
    if "inf" in extras:
        inf = extras["inf"]
        print(f"  FAD-inf {inf['fad_inf']:.5g} (slope {inf['slope']:.4g}, r2 {inf['r2']:.3f})")
    found = extras.get("diagnostics")
    if found:
        worst = ", ".join(
            f"{row['path']} (FAD {row['fad']:.4g})" if row["fad"] is not None else row["path"]
            for row in found["files"][:3]
        )
        print(f"  worst files: {worst}")
        if found["likely_copies"]:
            print(
                f"  {found['likely_copies']} window(s) closer to a reference window than "
                f"{found['copy_quantile']:.0%} of reference windows are to other reference files "
                "(likely copies; see the per-file table)"
            )


def set_rows(
    summary: dict[str, Any],
    spec: str,
    result: dict[str, float],
    extras: dict[str, Any],
    windows: int,
    files: int,
    args: argparse.Namespace,
) -> list[dict[str, Any]]:
    """The ``--csv`` rows of one set: one per metric value."""
    intervals = extras.get("intervals", {})
    values = dict(result)
    if "inf" in extras:
        values["fad_inf"] = extras["inf"]["fad_inf"]
    date = _now()
    return [
        {
            "date": date,
            "set": spec,
            "metric": name,
            "value": value,
            "low": intervals.get(name, [None, None])[0],
            "high": intervals.get(name, [None, None])[1],
            "level": args.ci if name in intervals else None,
            "windows": windows,
            "files": files,
            "embedder": summary["embedder"],
            "win_dur": summary["win_dur"],
            "reference": summary["reference"]["path"],
        }
        for name, value in values.items()
    ]


def comparisons(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """For every pair of sets and metric with intervals: do the intervals overlap?

    Two intervals that do not overlap mean a difference larger than the
    sampling noise of either set (a conservative test); overlapping ones
    mean it cannot be told apart at that level.
    """
    intervals = summary.get("intervals", {})
    level = summary.get("ci", {}).get("level", 0.95)
    out = []
    for a, b in itertools.combinations(list(intervals), 2):
        for name in intervals[a]:
            if name not in intervals[b]:
                continue
            (la, ha), (lb, hb) = intervals[a][name], intervals[b][name]
            va, vb = summary["results"][a][name], summary["results"][b][name]
            separated = ha < lb or hb < la
            relation = "lower" if va < vb else "higher" if va > vb else "equal"
            if separated:
                text = (
                    f"{a} is {relation} than {b} on {name}; the {level:.0%} intervals do "
                    "not overlap"
                )
            else:
                text = (
                    f"{a} and {b} differ on {name} by less than their {level:.0%} intervals "
                    "(they overlap): not distinguishable at this level"
                )
            out.append({"a": a, "b": b, "metric": name, "separated": separated, "text": text})
    return out


def finish(summary: dict[str, Any], args: argparse.Namespace) -> None:
    """After the last set: the comparisons (printed and recorded) and the report."""
    if summary.get("intervals") and len(summary["intervals"]) > 1:
        summary["comparisons"] = comparisons(summary)
        print("\ncomparisons (bootstrap intervals):")
        for c in summary["comparisons"]:
            print(f"  {c['text']}")
    if args.report:
        from jaxmetrics.report import write_report

        write_report(summary, args.report)
