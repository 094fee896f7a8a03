"""Embedding sets for the AudioMetrics pipeline: streaming statistics, stored rows, PCA, scores.

Torch-free: the command line's ``score`` uses :func:`score_embeddings` on
cached embeddings.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from jaxmetrics.metrics import apa as _apa
from jaxmetrics.metrics import frechet as _frechet
from jaxmetrics.metrics import kernel_distance as _kernel_distance
from jaxmetrics.metrics import prdc as _prdc
from jaxmetrics.metrics import stats as _stats
from jaxmetrics.metrics import subsets as _subsets
from jaxmetrics.metrics.stats import GaussianStats

__all__ = [
    "KD_NUM_SUBSETS",
    "KD_SEED",
    "KD_SUBSET_SIZE",
    "EmbeddingSet",
    "Projection",
    "prdc_k",
    "score_embeddings",
]

# Kernel-distance subsets as audio-metrics 1.0.4 draws them.
KD_NUM_SUBSETS = 100
KD_SUBSET_SIZE = 1000
KD_SEED = 1234
_CHUNK = 1024  # rows per streaming statistics update (one jit shape)


def _as_numpy_stats(stats: GaussianStats) -> GaussianStats:
    return GaussianStats(*(np.asarray(v, np.float64) for v in stats))


def stats_of(x: np.ndarray) -> GaussianStats:
    """Float64 statistics of ``(n, d)`` rows; one row gives a zero covariance (as audio-metrics)."""
    if x.shape[0] == 1:
        d = x.shape[1]
        return GaussianStats(np.float64(1.0), x[0].astype(np.float64), np.zeros((d, d)))
    return _as_numpy_stats(_stats.gaussian_stats(x))


def merge(a: GaussianStats | None, b: GaussianStats | None) -> GaussianStats | None:
    """Merge two (optional) statistics."""
    if a is None or b is None:
        return a if b is None else b
    return _as_numpy_stats(_stats.merge_stats(a, b))


class EmbeddingSet:
    """Rows of embeddings summarised as Gaussian statistics, optionally kept.

    With ``store=False`` only ``(count, mean, covariance)`` is kept, updated
    every 1024 rows with :func:`jaxmetrics.gaussian_stats` and
    :func:`jaxmetrics.merge_stats` (memory ``O(d^2)``); with ``store=True``
    the rows are kept as well (KD, PRDC and PCA need them) and the statistics
    are those of all rows at once.
    """

    def __init__(self, store: bool) -> None:
        self.store = store
        self._rows: list[np.ndarray] = []
        self._pending: list[np.ndarray] = []
        self._pending_rows = 0
        self._stats: GaussianStats | None = None
        self._cache: tuple[np.ndarray | None, GaussianStats | None] = (None, None)
        self.count = 0

    def add(self, rows: np.ndarray) -> None:
        """Add ``(n, d)`` embeddings."""
        rows = np.asarray(rows, np.float32)
        if rows.ndim != 2 or rows.shape[0] == 0:
            raise ValueError(f"embeddings must be a non-empty (n, d) array, got {rows.shape}")
        self.count += rows.shape[0]
        self._cache = (None, None)
        if self.store:
            self._rows.append(rows)
            return
        self._pending.append(rows)
        self._pending_rows += rows.shape[0]
        if self._pending_rows >= _CHUNK:
            self._fold(final=False)

    def _fold(self, final: bool) -> None:
        if not self._pending:
            return
        rows = np.concatenate(self._pending)
        whole = rows.shape[0] if final else rows.shape[0] // _CHUNK * _CHUNK
        for start in range(0, whole, _CHUNK):
            self._stats = merge(self._stats, stats_of(rows[start : min(start + _CHUNK, whole)]))
        rest = rows[whole:]
        self._pending = [rest] if rest.shape[0] else []
        self._pending_rows = rest.shape[0]

    def extend(self, other: EmbeddingSet) -> None:
        """Add all rows (or statistics) of another set."""
        if other.count == 0:
            return
        if self.store:
            if not other.store:
                raise ValueError("cannot add statistics-only embeddings to a stored set")
            self._rows.append(other.embeddings())
        else:
            self._fold(final=True)
            self._stats = merge(self._stats, other.stats())
        self.count += other.count
        self._cache = (None, None)

    def embeddings(self) -> np.ndarray:
        """All rows ``(n, d)`` float32 (only for a stored set)."""
        if not self.store:
            raise ValueError("this embedding set keeps statistics only")
        if len(self._rows) > 1:
            self._rows = [np.concatenate(self._rows)]
        if not self._rows:
            raise ValueError("no embeddings")
        return self._rows[0]

    def stats(self) -> GaussianStats:
        """Float64 :class:`GaussianStats` of all rows added so far."""
        if self.count == 0:
            raise ValueError("no embeddings")
        if self.store:
            cached_rows, cached = self._cache
            rows = self.embeddings()
            if cached is None or cached_rows is not rows:
                cached = stats_of(rows)
                self._cache = (rows, cached)
            return cached
        self._fold(final=True)
        assert self._stats is not None
        return self._stats

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """The set as named arrays for a state file."""
        if self.count == 0:
            return {}
        out = {f"{prefix}.{k}": np.asarray(v) for k, v in self.stats()._asdict().items()}
        if self.store:
            out[f"{prefix}.embeddings"] = self.embeddings()
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str, store: bool) -> EmbeddingSet:
        """Rebuild a set written by :meth:`to_arrays`."""
        out = cls(store)
        if f"{prefix}.count" not in arrays:
            return out
        if store:
            key = f"{prefix}.embeddings"
            if key not in arrays:
                raise ValueError(
                    f"the state file keeps statistics only for {prefix!r}, but the metrics "
                    "asked for (KD, PRDC or n_pca) need the embeddings"
                )
            out._rows = [np.asarray(arrays[key], np.float32)]
        stats = GaussianStats(
            *(np.asarray(arrays[f"{prefix}.{k}"], np.float64) for k in GaussianStats._fields)
        )
        out._stats = stats
        out.count = int(stats.count)
        if store:
            out._cache = (out._rows[0], stats)
        return out


class Projection:
    """PCA fitted on reference embeddings (float64 SVD), applied to rows or to statistics.

    Equivalent to scikit-learn's ``IncrementalPCA.partial_fit`` on the whole
    reference at once, as ``audio-metrics`` uses it, up to the sign of each
    component (which no metric here depends on). Statistics are projected
    exactly (``mean' = (mean - mu) V^T``, ``cov' = V cov V^T``), so candidate
    sets need no stored rows for FAD and APA.
    """

    def __init__(self, reference: np.ndarray, n_components: int) -> None:
        n, d = reference.shape
        if not 1 <= n_components <= min(n, d):
            raise ValueError(
                f"n_pca={n_components} must be between 1 and min(reference windows, embedding "
                f"dim) = min({n}, {d})"
            )
        x = reference.astype(np.float64)
        self.mean = x.mean(axis=0)
        _, _, vt = np.linalg.svd(x - self.mean, full_matrices=False)
        self.components = vt[:n_components]

    def rows(self, x: np.ndarray) -> np.ndarray:
        """Project ``(n, d)`` rows."""
        return (x.astype(np.float64) - self.mean) @ self.components.T

    def stats(self, s: GaussianStats) -> GaussianStats:
        """Project statistics."""
        v = self.components
        return GaussianStats(s.count, (s.mean - self.mean) @ v.T, v @ s.covariance @ v.T)


def prdc_k(n_reference: int, n_candidate: int) -> int:
    """Neighbourhood size of audio-metrics (``min(10, n_ref, n_cand)``), kept below both sizes."""
    return max(1, min(10, n_reference - 1, n_candidate - 1))


def kernel_distance_as_audio_metrics(candidate: np.ndarray, reference: np.ndarray) -> dict:
    """KD with the subsets audio-metrics 1.0.4 draws (100 subsets of up to 1000, seed 1234)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*subset_size.*", category=UserWarning)
        idx = _subsets.numpy_subset_indices(
            candidate.shape[0],
            reference.shape[0],
            num_subsets=KD_NUM_SUBSETS,
            subset_size=KD_SUBSET_SIZE,
            seed=KD_SEED,
        )
        kd = _kernel_distance.kernel_distance(candidate, reference, subset_indices=idx)
    return {"kernel_distance_mean": float(kd.mean), "kernel_distance_std": float(kd.std)}


def score_embeddings(
    metrics: Sequence[str],
    *,
    reference: np.ndarray | None = None,
    candidate: np.ndarray | None = None,
    reference_stats: GaussianStats | None = None,
    candidate_stats: GaussianStats | None = None,
) -> dict[str, float]:
    """FAD, KD and PRDC between stem embeddings, with audio-metrics' conventions and keys.

    FAD uses statistics when given (else computes them from the rows); KD and
    PRDC need rows. KD is the candidate against the reference over
    audio-metrics' subsets; PRDC is ``prdc(reference, candidate, k)`` with
    ``k = min(10, n_ref - 1, n_cand - 1)``.

    Returns:
        ``fad``, ``kernel_distance_mean``, ``kernel_distance_std``,
        ``precision``, ``recall``, ``density``, ``coverage`` (those asked for),
        as Python floats.

    """
    out: dict[str, float] = {}
    if "fad" in metrics:
        ref_s = reference_stats if reference_stats is not None else stats_of(reference)
        cand_s = candidate_stats if candidate_stats is not None else stats_of(candidate)
        out["fad"] = float(_frechet.frechet_distance_from_stats(cand_s, ref_s))
    if "kd" in metrics:
        out.update(kernel_distance_as_audio_metrics(candidate, reference))
    if "prdc" in metrics:
        k = prdc_k(reference.shape[0], candidate.shape[0])
        result = _prdc.prdc(reference, candidate, k=k)
        out.update({name: float(v) for name, v in result._asdict().items()})
    return out


def apa_score(candidate: GaussianStats, reference: GaussianStats, anti: GaussianStats) -> float:
    """APA from the statistics of candidate, reference and anti-reference mixes."""
    return float(_apa.apa(candidate, reference, anti).score)
