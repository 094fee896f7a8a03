r"""Per-file diagnostics: the windows of each candidate file summed up, worst file first.

For candidate file :math:`f` with windows :math:`Y_f`:

- **FAD of the file**, as fadtk's ``score_individual`` defines it: the
  Fréchet distance between the Gaussian of the file's windows (mean and
  ``ddof=1`` covariance) and the reference statistics,
  :math:`\lVert\mu_f-\mu_r\rVert^2
  + \operatorname{tr}(\Sigma_f+\Sigma_r-2(\Sigma_f\Sigma_r)^{1/2})`.
  A file with fewer windows than dimensions has a singular covariance: the
  value is reproducible but measures degenerate Gaussians (``fad_note``
  says so); a file of one window has no covariance (``nan``);
- from :func:`jaxmetrics.window_diagnostics`: mean and minimum realism, the
  fraction of windows in the reference manifold, the mean ball count, the
  nearest reference window over all its windows and the number of windows
  flagged as likely copies.

Worst first means the largest file FAD (files without one last, by their
mean realism).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from jax.typing import ArrayLike

from jaxmetrics._src import validation as _validation
from jaxmetrics.metrics.diagnostics import WindowDiagnostics
from jaxmetrics.metrics.frechet import frechet_distance_batch
from jaxmetrics.metrics.stats import GaussianStats

__all__ = [
    "FileDiagnostics",
    "as_rows",
    "file_diagnostics",
    "file_frechet_distances",
    "worst_first",
]


class FileDiagnostics(NamedTuple):
    """One entry per candidate file (NumPy arrays of length ``F``, in file order).

    Attributes:
      windows: windows of the file.
      fad: the file's FAD against the reference (``nan`` for one window).
      realism_mean: mean over the file's windows of finite realism (a window
        equal to a reference window has realism ``inf``).
      realism_min: the smallest realism of its windows.
      in_manifold: fraction of its windows inside some reference ball.
      ball_count_mean: mean number of reference balls holding its windows.
      nearest: reference window nearest to any of its windows.
      nearest_window: which of the file's windows (0-based) that is.
      nearest_distance: that distance.
      likely_copies: windows flagged as likely copies.

    """

    windows: np.ndarray
    fad: np.ndarray
    realism_mean: np.ndarray
    realism_min: np.ndarray
    in_manifold: np.ndarray
    ball_count_mean: np.ndarray
    nearest: np.ndarray
    nearest_window: np.ndarray
    nearest_distance: np.ndarray
    likely_copies: np.ndarray


def _file_ids(files: ArrayLike, rows: int) -> tuple[np.ndarray, int]:
    ids = np.asarray(files)
    if ids.shape != (rows,) or not np.issubdtype(ids.dtype, np.integer) or ids.min(initial=0) < 0:
        raise ValueError(
            f"candidate_files must be ({rows},) non-negative integers (the file of each "
            f"candidate row), got shape {ids.shape} and dtype {ids.dtype}"
        )
    count = int(ids.max(initial=-1)) + 1
    missing = np.setdiff1d(np.arange(count), ids)
    if missing.size:
        raise ValueError(f"candidate_files: file {int(missing[0])} has no rows")
    return ids, count


def file_frechet_distances(
    reference: GaussianStats | ArrayLike,
    candidate: ArrayLike,
    candidate_files: ArrayLike,
    *,
    precision: str = "float64",
) -> np.ndarray:
    """FAD of each candidate file against the reference (fadtk's ``score_individual``).

    Args:
      reference: ``(N, d)`` reference embeddings or their :class:`GaussianStats`.
      candidate: ``(M, d)`` candidate embeddings.
      candidate_files: ``(M,)`` file index ``0..F-1`` of each row.
      precision: ``"float64"`` (default) or ``"float32"``.

    Returns:
      ``(F,)`` distances; ``nan`` for files of one window (no covariance).

    References:
      Kilgour et al., arXiv:1812.08466; Gui et al., arXiv:2311.01616 (fadtk).

    """
    candidate = _validation.check_embeddings(candidate, "candidate")
    ids, count = _file_ids(candidate_files, candidate.shape[0])
    out = np.full(count, np.nan)
    sizes = np.bincount(ids, minlength=count)
    scored = np.flatnonzero(sizes >= 2)
    if scored.size:
        rows = [np.asarray(candidate)[ids == f] for f in scored]
        out[scored] = np.asarray(frechet_distance_batch(reference, rows, precision=precision))
    return out


def file_diagnostics(
    windows: WindowDiagnostics,
    candidate_files: ArrayLike,
    fad: ArrayLike | None = None,
) -> FileDiagnostics:
    """Sum a set's :class:`WindowDiagnostics` up per file.

    Args:
      windows: :func:`jaxmetrics.window_diagnostics` of the candidate set.
      candidate_files: ``(M,)`` file index ``0..F-1`` of each candidate row.
      fad: ``(F,)`` :func:`file_frechet_distances` (default: all ``nan``).

    Returns:
      :class:`FileDiagnostics` in file order (see :func:`worst_first`).

    """
    ids, count = _file_ids(candidate_files, windows.realism.shape[0])
    fad = np.full(count, np.nan) if fad is None else np.asarray(fad, np.float64)
    if fad.shape != (count,):
        raise ValueError(f"fad must have one value per file ({count}), got shape {fad.shape}")
    sizes = np.bincount(ids, minlength=count)

    def mean(values: np.ndarray) -> np.ndarray:
        return np.bincount(ids, weights=values.astype(np.float64), minlength=count) / sizes

    realism_min = np.full(count, np.inf)
    np.minimum.at(realism_min, ids, windows.realism)
    order = np.lexsort((windows.nearest_distance, ids))  # by file, nearest window first
    first = order[np.searchsorted(ids[order], np.arange(count))]
    rank = np.empty(ids.shape[0], np.int64)  # each row's place in a stable sort by file
    rank[np.argsort(ids, kind="stable")] = np.arange(ids.shape[0])
    position = rank - np.searchsorted(np.sort(ids), ids)  # its window number in the file
    finite = np.isfinite(windows.realism)
    total = np.bincount(ids, weights=np.where(finite, windows.realism, 0.0), minlength=count)
    kept = np.bincount(ids, weights=finite, minlength=count)
    realism_mean = np.where(kept > 0, total / np.maximum(kept, 1), np.inf)
    return FileDiagnostics(
        windows=sizes,
        fad=fad,
        realism_mean=realism_mean,
        realism_min=realism_min,
        in_manifold=mean(windows.in_manifold),
        ball_count_mean=mean(windows.ball_count),
        nearest=windows.nearest[first],
        nearest_window=position[first],
        nearest_distance=windows.nearest_distance[first],
        likely_copies=np.bincount(ids, weights=windows.likely_copy, minlength=count).astype(int),
    )


def worst_first(files: FileDiagnostics) -> np.ndarray:
    """File indices ordered worst first: largest FAD, then (no FAD) lowest mean realism."""
    fad = np.where(np.isnan(files.fad), -np.inf, files.fad)
    return np.lexsort((files.realism_mean, -fad))


def as_rows(files: FileDiagnostics, order: Any = None) -> list[dict[str, Any]]:
    """The table as a list of dicts (JSON-ready floats and ints), in ``order``."""
    order = np.arange(files.windows.shape[0]) if order is None else order
    columns = files._asdict()
    return [{name: np.asarray(v)[i].item() for name, v in columns.items()} for i in order]
