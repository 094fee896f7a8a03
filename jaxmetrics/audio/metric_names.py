"""The metric names the audio pipeline and the command line accept, parsed in one place."""

from __future__ import annotations

from typing import Any

__all__ = ["METRICS", "parse_metric_names"]

METRICS: tuple[str, ...] = ("fad", "kd", "prdc", "apa")


def parse_metric_names(metrics: Any, allowed: tuple[str, ...] = METRICS) -> list[str]:
    """Normalise ``metrics`` (a list of names or a comma-separated string) and check the names.

    Names are lower-cased and deduplicated in order; any name outside
    ``allowed`` (default: every metric AudioMetrics computes) is an error.
    """
    if isinstance(metrics, str):
        metrics = metrics.split(",")
    try:
        names = [str(m).strip().lower() for m in metrics]
    except TypeError as err:
        raise TypeError(f"metrics must be a list of names, got {type(metrics).__name__}") from err
    names = [m for m in names if m]
    unknown = [m for m in names if m not in allowed]
    if unknown or not names:
        raise ValueError(
            f"unknown metric(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(allowed)}"
        )
    return list(dict.fromkeys(names))
