"""The report's figures: matplotlib on the Agg backend, rendered to PNG bytes.

Each function takes plain numbers (lists or arrays from the results JSON) and
returns the bytes of one PNG; :func:`png_data_uri` turns them into the
``data:`` URI the HTML embeds, so the report is one self-contained file.
matplotlib is imported on first use, never at import time, and a missing
matplotlib is an :class:`ImportError` that says what to install.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "INSTALL_HINT",
    "fad_inf_png",
    "png_data_uri",
    "projection_png",
    "realism_png",
    "require_matplotlib",
]

INSTALL_HINT = "the report needs matplotlib: pip install matplotlib (or pip install -e '.[audio]')"
DPI = 110
MAX_POINTS = 3000  # per set in the projection: enough to see the shape, a small PNG
REFERENCE_COLOUR = "0.6"


def require_matplotlib() -> Any:
    """``matplotlib.pyplot`` on the Agg backend.

    Raises:
        ImportError: if matplotlib is not installed, with the install command.

    """
    try:
        import matplotlib
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    # Agg draws to memory: no display, no GUI toolkit, the same PNG on any machine.
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def png_data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` for ``png``."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _png(fig: Any) -> bytes:
    plt = require_matplotlib()
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    finally:
        plt.close(fig)
    return buffer.getvalue()


def _points(value: Any) -> np.ndarray:
    """Rows ``(x, y)`` of ``value`` with finite coordinates; ``(0, 2)`` if it has none."""
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return np.zeros((0, 2))
    if array.ndim != 2 or array.shape[1] < 2:
        return np.zeros((0, 2))
    array = array[:, :2]
    return array[np.isfinite(array).all(axis=1)]


def _thin(points: np.ndarray) -> np.ndarray:
    # An even stride, not a random draw: the same figure on every run.
    if len(points) <= MAX_POINTS:
        return points
    return points[np.linspace(0, len(points) - 1, MAX_POINTS).astype(int)]


def projection_png(points: Mapping[str, Any], *, axis_labels: Sequence[str] = ()) -> bytes:
    """A scatter of 2-D points per set: ``"reference"`` in grey under the candidates.

    Args:
        points: set name to ``[[x, y], ...]``; the set ``"reference"`` is drawn first.
        axis_labels: labels of the two axes (e.g. with their explained variance).

    Returns:
        The PNG bytes.

    """
    plt = require_matplotlib()
    fig, ax = plt.subplots(figsize=(7.0, 5.2))
    names = sorted(points, key=lambda name: name != "reference")
    for name in names:
        xy = _thin(_points(points[name]))
        reference = name == "reference"
        ax.scatter(
            xy[:, 0],
            xy[:, 1],
            s=10 if reference else 8,
            alpha=0.35 if reference else 0.6,
            color=REFERENCE_COLOUR if reference else None,
            label=f"{name} ({len(_points(points[name]))})",
            linewidths=0,
        )
    for label, set_label in zip(axis_labels[:2], (ax.set_xlabel, ax.set_ylabel), strict=False):
        set_label(label)
    ax.legend(loc="best", fontsize="small", markerscale=2)
    ax.grid(alpha=0.3)
    return _png(fig)


def fad_inf_png(
    name: str,
    ns: Sequence[float],
    values: Sequence[float],
    *,
    fad_inf: float | None,
    slope: float | None,
    r2: float | None,
) -> bytes:
    """FAD against ``1/n`` with the fitted line ``FAD(n) = FAD∞ + slope / n``.

    Args:
        name: the candidate set (the title).
        ns: subset sizes.
        values: FAD at each size.
        fad_inf: the intercept (FAD∞); no line when it or ``slope`` is missing.
        slope: the slope against ``1/n``.
        r2: the fit's coefficient of determination (in the legend).

    Returns:
        The PNG bytes.

    """
    plt = require_matplotlib()
    n = np.asarray(ns, dtype=float)
    fad = np.asarray(values, dtype=float)
    keep = np.isfinite(n) & np.isfinite(fad) & (n > 0)
    x, y = 1.0 / n[keep], fad[keep]
    fig, ax = plt.subplots(figsize=(4.6, 3.3))
    ax.plot(x, y, "o", label="FAD on n windows")
    if fad_inf is not None and slope is not None:
        line_x = np.linspace(0.0, x.max() if len(x) else 1.0, 50)
        r2_text = f", r² {r2:.3f}" if r2 is not None else ""
        ax.plot(
            line_x,
            fad_inf + slope * line_x,
            "-",
            label=f"FAD∞ {fad_inf:.4g}, slope {slope:.4g}{r2_text}",
        )
        ax.plot([0.0], [fad_inf], "s", color="C1")
    ax.set_xlim(left=0.0)
    ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 0))
    ax.set_xlabel("1 / n (windows)")
    ax.set_ylabel("FAD")
    ax.set_title(name, fontsize="medium")
    ax.legend(loc="best", fontsize="small")
    ax.grid(alpha=0.3)
    return _png(fig)


def realism_png(name: str, scores: Sequence[float]) -> bytes:
    """A histogram of realism scores with a line at 1 (the edge of the reference manifold).

    Args:
        name: the candidate set (the title).
        scores: one realism score per candidate window.

    Returns:
        The PNG bytes.

    """
    plt = require_matplotlib()
    values = np.asarray(scores, dtype=float)
    values = values[np.isfinite(values)]
    fig, ax = plt.subplots(figsize=(4.6, 3.2))
    if len(values):
        ax.hist(values, bins=min(40, max(5, len(values) // 5)), color="C0", alpha=0.8)
    inside = float(np.mean(values > 1.0)) if len(values) else float("nan")
    ax.axvline(1.0, color="C3", linestyle="--", label=f"1.0 ({inside:.0%} of windows above)")
    ax.set_xlabel("realism score")
    ax.set_ylabel("windows")
    ax.set_title(name, fontsize="medium")
    ax.legend(loc="best", fontsize="small")
    ax.grid(alpha=0.3)
    return _png(fig)
