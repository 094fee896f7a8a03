r"""Confidence intervals for set metrics, resampling the candidate set by file.

The windows of one song are not independent draws: resampling windows
would make intervals too narrow. Here each bootstrap resample draws the
candidate set's ``F`` *files* with replacement and takes all their windows
(Davison & Hinkley 1997, §3.8, the cluster bootstrap). The reference is
held fixed: the interval is the spread due to which candidate files were
generated, the noise that matters when candidate sets are compared against
one reference. The percentile interval of the resampled values is returned:

.. math::
   [q_{\alpha/2},\ q_{1-\alpha/2}] \text{ of } \{m(Y^{*b})\}_{b=1}^B,\qquad
   \alpha = 1 - \text{level}.

Resamples differ in size; they are padded to one length and evaluated with
the batched metrics (:func:`jaxmetrics.frechet_distance_batch`,
:func:`jaxmetrics.kernel_distance_batch`, :func:`jaxmetrics.prdc_batch`)
in chunks, so each metric compiles once. Duplicated windows in a resample
shrink the candidate k-NN radii, so recall's interval is biased low, and
they add ``k(y, y)`` terms to KD's within-set sums; precision, density,
coverage and FAD are not affected this way.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import NamedTuple

import jax
import numpy as np
from jax.typing import ArrayLike

from jaxmetrics._src import validation as _validation
from jaxmetrics.metrics.frechet import frechet_distance_batch
from jaxmetrics.metrics.kernel_distance import kernel_distance_batch
from jaxmetrics.metrics.prdc import prdc_batch
from jaxmetrics.metrics.stats import GaussianStats
from jaxmetrics.metrics.subsets import effective_subset_size

__all__ = ["FileIntervals", "file_bootstrap_intervals", "file_resamples"]

CHUNK = 16  # resamples per batched call: memory is CHUNK x (padded rows) x d


class FileIntervals(NamedTuple):
    """Per result key: the interval ends and the resampled values.

    Attributes:
      low, high: ``{key: float}`` ends of the percentile interval.
      values: ``{key: (num_resamples,)}`` the metric on each resample.
      level: the interval's coverage.

    """

    low: dict[str, float]
    high: dict[str, float]
    values: dict[str, np.ndarray]
    level: float


def file_resamples(
    files: ArrayLike, num_resamples: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of file-level bootstrap resamples, padded to one length.

    Args:
      files: ``(M,)`` file index ``0..F-1`` of each row.
      num_resamples: resamples to draw.
      seed: seed of ``numpy.random.default_rng``.

    Returns:
      ``(indices, counts)``: ``(num_resamples, L)`` int rows (padding: row
      0) and ``(num_resamples,)`` real rows of each resample.

    """
    ids = np.asarray(files)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer) or ids.min(initial=0) < 0:
        raise ValueError(f"files must be a 1-D array of file indices, got {ids.shape} {ids.dtype}")
    num_resamples = _validation.check_positive_int(num_resamples, "num_resamples", minimum=2)
    count = int(ids.max(initial=-1)) + 1
    rows_of = [np.flatnonzero(ids == f) for f in range(count)]
    rng = np.random.default_rng(seed)
    drawn = [
        np.concatenate([rows_of[f] for f in rng.integers(0, count, count)])
        for _ in range(num_resamples)
    ]
    counts = np.array([len(d) for d in drawn])
    width = -(-int(counts.max()) // 64) * 64
    indices = np.zeros((num_resamples, width), np.int64)
    for i, d in enumerate(drawn):
        indices[i, : len(d)] = d
    return indices, counts


def file_bootstrap_intervals(
    reference: ArrayLike,
    candidate: ArrayLike,
    candidate_files: ArrayLike,
    *,
    metrics: Sequence[str] = ("fad", "kd", "prdc"),
    level: float = 0.95,
    num_resamples: int = 200,
    seed: int = 0,
    reference_stats: GaussianStats | None = None,
    prdc_k: int = 5,
    kd_subsets: int = 100,
    kd_subset_size: int = 1000,
) -> FileIntervals:
    """File-level bootstrap intervals of FAD, KD and PRDC (see the module docstring).

    Args:
      reference: ``(N, d)`` reference embeddings (held fixed).
      candidate: ``(M, d)`` candidate embeddings.
      candidate_files: ``(M,)`` file index of each candidate row.
      metrics: any of ``"fad"``, ``"kd"``, ``"prdc"``.
      level: coverage of the interval, in ``(0, 1)``.
      num_resamples: bootstrap resamples.
      seed: seed of the resampling (and of KD's subsets).
      reference_stats: the reference's statistics for FAD (default: from ``reference``).
      prdc_k: PRDC's neighbourhood size.
      kd_subsets: KD's number of subsets.
      kd_subset_size: KD's subset size (reduced, once, for the smallest
        resample as :func:`jaxmetrics.effective_subset_size` rules).

    Returns:
      :class:`FileIntervals` keyed ``fad``, ``kernel_distance_mean``,
      ``precision``, ``recall``, ``density``, ``coverage`` (those asked for).

    Raises:
      ValueError: for an unknown metric, a level outside ``(0, 1)`` or bad files.

    References:
      Davison & Hinkley, "Bootstrap Methods and their Application", 1997,
      §3.8; Efron & Tibshirani 1993, ch. 13.

    """
    unknown = set(metrics) - {"fad", "kd", "prdc"}
    if unknown:
        raise ValueError(f"metrics: unknown {sorted(unknown)}; choose from fad, kd, prdc")
    if not isinstance(level, (float, int)) or not 0.0 < float(level) < 1.0:
        raise ValueError(f"level must be a number in (0, 1), got {level!r}")
    reference = np.asarray(_validation.check_embeddings(reference, "reference"))
    candidate = np.asarray(_validation.check_embeddings(candidate, "candidate"))
    ids = np.asarray(candidate_files)
    if ids.shape != (candidate.shape[0],):
        raise ValueError(
            f"candidate_files must have one file index per candidate row "
            f"({candidate.shape[0]}), got shape {ids.shape}"
        )
    indices, counts = file_resamples(ids, num_resamples, seed)
    subset = kd_subset_size
    if "kd" in metrics:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            subset = effective_subset_size(int(counts.min()), reference.shape[0], kd_subset_size)
    fad_reference = reference if reference_stats is None else reference_stats
    values: dict[str, list[float]] = {}
    for start in range(0, num_resamples, CHUNK):
        # every chunk has CHUNK resamples (the last one repeats its first), so each
        # metric compiles once; the repeats are dropped below
        part = np.minimum(np.arange(start, start + CHUNK), num_resamples - 1)
        real = min(CHUNK, num_resamples - start)
        stack, sizes = candidate[indices[part]], counts[part]
        found = {}
        if "fad" in metrics:
            found["fad"] = frechet_distance_batch(fad_reference, stack, counts=sizes)
        if "kd" in metrics:
            kd = kernel_distance_batch(
                reference,
                stack,
                counts=sizes,
                key=jax.random.fold_in(jax.random.key(seed), start),
                num_subsets=kd_subsets,
                subset_size=subset,
            )
            found["kernel_distance_mean"] = kd.mean
        if "prdc" in metrics:
            found.update(prdc_batch(reference, stack, counts=sizes, k=prdc_k)._asdict())
        for name, v in found.items():
            values.setdefault(name, []).extend(np.asarray(v, np.float64)[:real].tolist())
    alpha = 1.0 - float(level)
    arrays = {name: np.asarray(v) for name, v in values.items()}
    low = {name: float(np.quantile(v, alpha / 2)) for name, v in arrays.items()}
    high = {name: float(np.quantile(v, 1 - alpha / 2)) for name, v in arrays.items()}
    return FileIntervals(low, high, arrays, float(level))
