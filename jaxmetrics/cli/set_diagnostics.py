"""What ``evaluate --per-file/--ci/--inf/--report`` add to a set's row.

For each candidate set: the per-window and per-file diagnostics
(:func:`jaxmetrics.window_diagnostics`, :mod:`jaxmetrics.analysis.per_file`),
the file-level bootstrap intervals (:mod:`jaxmetrics.analysis.file_bootstrap`),
FAD∞ (:func:`jaxmetrics.frechet_distance_inf`, fadtk's settings) and the
2-D PCA points of the report, all as JSON-ready values. They work on the
embeddings themselves (no ``--n-pca``) and need the rows of every set,
which this module keeps with the file and window of each row.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from jaxmetrics.analysis.extrapolation import frechet_distance_inf
from jaxmetrics.analysis.file_bootstrap import file_bootstrap_intervals
from jaxmetrics.analysis.per_file import (
    as_rows,
    file_diagnostics,
    file_frechet_distances,
    worst_first,
)
from jaxmetrics.audio.state import prdc_k, stats_of
from jaxmetrics.cli.errors import CliError
from jaxmetrics.metrics.diagnostics import window_diagnostics

__all__ = ["INF_MIN_N", "PROJECTION_POINTS", "SetDiagnostics", "SetRows", "wanted"]

INF_MIN_N = 500  # fadtk's smallest FAD∞ sample size (halved for smaller sets)
PROJECTION_POINTS = 1000  # points per set in the report's projection (a seeded subsample)


class SetRows(NamedTuple):
    """A set's embeddings with the file and window of each row."""

    rows: np.ndarray  # (windows, d)
    paths: list[str]  # the set's files, as the user would find them
    file_ids: np.ndarray  # (windows,) index into paths
    window: np.ndarray  # (windows,) window number within its file

    @classmethod
    def from_audio(cls, rows: np.ndarray, files: Any) -> SetRows:
        """Rows embedded from an :class:`~jaxmetrics.audio.files.AudioFiles` (``used`` order)."""
        sizes = np.asarray(files.windows_per_file, np.int64)
        ids = np.repeat(np.arange(len(sizes)), sizes)
        starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
        return cls(rows, list(files.used), ids, np.arange(len(ids)) - starts)

    @classmethod
    def from_store(cls, store: Any, spec: str) -> SetRows:
        """The rows of an embedding store given as an input (paths under ``spec``)."""
        read = store.read()
        names, ids = np.unique(read.paths, return_inverse=True)
        paths = [str(Path(spec) / str(name)) for name in names]
        return cls(read.embeddings, paths, ids.reshape(-1), np.asarray(read.windows))


def _asked(args: argparse.Namespace) -> list[str]:
    """The options given that this module computes (``--csv`` needs no rows: not one)."""
    given = (
        ("--per-file", args.per_file),
        ("--ci", args.ci),
        ("--inf", args.inf),
        ("--report", args.report),
    )
    return [flag for flag, value in given if value]


def wanted(args: argparse.Namespace) -> bool:
    """Whether the command line asks for anything this module computes (the rows are kept)."""
    return bool(_asked(args))


def check_options(args: argparse.Namespace) -> None:
    """Refuse combinations that cannot work, before any embedding (the level: the parser)."""
    asked = _asked(args)
    if not asked:
        return
    if "apa" in args.metrics:
        raise CliError(
            f"{', '.join(asked)}: work on stem embeddings; apa embeds mixes: score apa in a "
            "separate run"
        )
    if args.n_pca is not None:
        raise CliError(f"{', '.join(asked)}: work on the embeddings themselves; leave out --n-pca")


def _projection(reference: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PCA of the reference: its mean, two components, their explained variance ratios."""
    x = reference.astype(np.float64)
    mean = x.mean(axis=0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    var = s**2
    return mean, vt[:2], var[:2] / var.sum() if var.sum() > 0 else var[:2]


class SetDiagnostics:
    """The extras of an evaluate run: built with the reference, fed each candidate set."""

    def __init__(self, args: argparse.Namespace, reference: SetRows, summary: dict) -> None:
        self.args = args
        self.reference = reference
        self.summary = summary
        self.metrics = [m for m in args.metrics if m in ("fad", "kd", "prdc")]
        self.ref_stats = stats_of(reference.rows)
        self.rng = np.random.default_rng(args.seed)
        if args.report:
            mean, components, explained = _projection(reference.rows)
            self.pca = (mean, components)
            summary["projection"] = {
                "method": "PCA (2 components) fitted on the reference embeddings; at most "
                f"{PROJECTION_POINTS} windows per set are drawn (seed {args.seed})",
                "explained_variance_ratio": explained.tolist(),
                "points": {"reference": self._points(reference.rows)},
            }
        if args.ci:
            summary["ci"] = {
                "level": args.ci,
                "resamples": args.ci_resamples,
                "method": "percentile",
                "grouping": "file",
                "held_fixed": "reference",
                "seed": args.seed,
            }

    def _points(self, rows: np.ndarray) -> list[list[float]]:
        if rows.shape[0] > PROJECTION_POINTS:
            rows = rows[np.sort(self.rng.choice(rows.shape[0], PROJECTION_POINTS, replace=False))]
        mean, components = self.pca
        return np.round((rows.astype(np.float64) - mean) @ components.T, 6).tolist()

    def candidate(self, spec: str, cand: SetRows) -> dict[str, Any]:
        """Compute what the options ask for on one candidate set; record it in the summary."""
        args, ref = self.args, self.reference
        out: dict[str, Any] = {}
        if args.per_file or args.report:
            out["diagnostics"] = self._diagnostics(cand)
            self.summary.setdefault("diagnostics", {})[spec] = out["diagnostics"]
        if args.ci:
            iv = file_bootstrap_intervals(
                ref.rows,
                cand.rows,
                cand.file_ids,
                metrics=self.metrics,
                level=args.ci,
                num_resamples=args.ci_resamples,
                seed=args.seed,
                reference_stats=self.ref_stats,
                prdc_k=prdc_k(ref.rows.shape[0], cand.rows.shape[0]),
            )
            out["intervals"] = {name: [iv.low[name], iv.high[name]] for name in iv.low}
            self.summary.setdefault("intervals", {})[spec] = out["intervals"]
        if args.inf and "fad" in self.metrics:
            out["inf"] = self._inf(cand)
            self.summary.setdefault("inf", {})[spec] = out["inf"]
        if args.report:
            self.summary["projection"]["points"][spec] = self._points(cand.rows)
        return out

    def _diagnostics(self, cand: SetRows) -> dict[str, Any]:
        ref = self.reference
        k = prdc_k(ref.rows.shape[0], cand.rows.shape[0])
        windows = window_diagnostics(
            ref.rows, cand.rows, k=k, reference_groups=ref.file_ids.astype(np.int32)
        )
        fad = file_frechet_distances(self.ref_stats, cand.rows, cand.file_ids)
        files = file_diagnostics(windows, cand.file_ids, fad)
        dim = cand.rows.shape[1]
        rows = []
        order = worst_first(files)
        for row, f in zip(as_rows(files, order), order, strict=True):
            nearest = int(row.pop("nearest"))
            row["path"] = cand.paths[f]
            row["window_offset"] = int(row.pop("nearest_window")) * self.args.win_dur
            row["nearest_reference"] = ref.paths[int(ref.file_ids[nearest])]
            row["nearest_offset"] = float(ref.window[nearest]) * self.args.win_dur
            row["fad_note"] = (
                "one window: no covariance, no FAD"
                if row["windows"] < 2
                else f"{row['windows']} windows < {dim} dims: singular covariance"
                if row["windows"] < dim
                else ""
            )
            rows.append(_finite_or_none(row))
        return {
            "k": k,
            "dim": dim,
            "copy_quantile": 0.05,
            "copy_threshold": windows.copy_threshold,
            "likely_copies": int(windows.likely_copy.sum()),
            "files": rows,
            "realism": [_number(v) for v in np.round(windows.realism, 6).tolist()],
        }

    def _inf(self, cand: SetRows) -> dict[str, Any]:
        m = cand.rows.shape[0]
        min_n = min(INF_MIN_N, max(2, m // 2))
        fit = frechet_distance_inf(self.ref_stats, cand.rows, min_n=min_n)
        points = np.asarray(fit.points)
        return {
            "fad_inf": float(fit.score),
            "slope": float(fit.slope),
            "r2": float(fit.r2),
            "ns": points[:, 0].tolist(),
            "values": points[:, 1].tolist(),
            "min_n": min_n,
        }


def _number(value: float) -> float | None:
    """JSON has no inf/nan: ``None`` for them (the report shows a dash)."""
    return value if np.isfinite(value) else None


def _finite_or_none(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _number(v) if isinstance(v, float) else v for k, v in row.items()}
