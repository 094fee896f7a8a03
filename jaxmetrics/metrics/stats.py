"""Gaussian sufficient statistics of embedding sets, mergeable across shards."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxmetrics._src import linalg as _linalg
from jaxmetrics._src import precision as _precision
from jaxmetrics._src import validation as _validation


class GaussianStats(NamedTuple):
    """Count, mean and unbiased covariance of an embedding set.

    A pytree: it passes through ``jit``/``vmap``, can be saved with
    ``numpy.savez(**stats._asdict())`` and merged with :func:`merge_stats`.

    Attributes:
      count: number of rows the statistics summarise (scalar).
      mean: ``(d,)`` mean embedding.
      covariance: ``(d, d)`` covariance with the ``n - 1`` normaliser, as
        ``numpy.cov`` and ``torch.cov`` compute it.

    """

    count: jax.Array
    mean: jax.Array
    covariance: jax.Array


@functools.partial(jax.jit, static_argnames=("dtype",))
def compute_gaussian_stats(x: jax.Array, dtype: Any) -> GaussianStats:
    """Jitted :class:`GaussianStats` of validated rows ``x`` in ``dtype``."""
    n = x.shape[0]
    mean, scatter = _linalg.mean_and_scatter(x, dtype)
    return GaussianStats(jnp.asarray(n, dtype), mean, scatter / (n - 1))


def masked_stats(x: jax.Array, n_valid: jax.Array) -> GaussianStats:
    """Statistics of the first ``n_valid`` rows of ``x`` (a padded set; traced count).

    Padding rows get zero weight and are zero after centring, so they add
    nothing to the Gram product. Used by the batched metrics.
    """
    valid = (jnp.arange(x.shape[0]) < n_valid)[:, None]
    weights = valid.astype(x.dtype)
    x = jnp.where(valid, x, 0.0)  # whatever the padding holds (even NaN) is ignored
    n = n_valid.astype(x.dtype)
    mean = jnp.sum(x * weights, axis=0) / n
    centred = (x - mean) * weights
    return GaussianStats(n, mean, _linalg.gram(centred) / (n - 1))


def gaussian_stats(x: ArrayLike, *, precision: str = "float64") -> GaussianStats:
    r"""Fit a Gaussian to an embedding set: count, mean and covariance.

    .. math::
       \mu = \frac{1}{n}\sum_i x_i, \qquad
       \Sigma = \frac{1}{n-1}\sum_i (x_i-\mu)(x_i-\mu)^\top

    The data are centred before the Gram product (no ``E[xx^T] - μμ^T``
    cancellation).

    Args:
      x: ``(n, d)`` embeddings, ``n >= 2``; never modified.
      precision: ``"float64"`` (default, computed under a scoped x64 context)
        or ``"float32"``.

    Returns:
      :class:`GaussianStats`.

    Raises:
      TypeError: for a non-numeric dtype.
      ValueError: for a wrong shape, fewer than 2 rows or NaN/inf rows.

    References:
      Kilgour et al., "Fréchet Audio Distance", arXiv:1812.08466.

    Examples:
      >>> import numpy as np
      >>> import jaxmetrics as jm
      >>> stats = jm.gaussian_stats(np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 8.0]]))
      >>> int(stats.count), stats.mean.tolist()
      (3, [2.0, 4.0])

    """
    x = _validation.check_embeddings(x, "x", min_rows=2, why="to estimate a covariance")
    with _precision.precision_scope(precision, _validation.is_traced(x)) as dtype:
        return compute_gaussian_stats(jnp.asarray(x), dtype)


@jax.jit
def _merge_stats(a: GaussianStats, b: GaussianStats) -> GaussianStats:
    n = a.count + b.count
    delta = b.mean - a.mean
    mean = a.mean + delta * (b.count / n)
    scatter = (
        a.covariance * (a.count - 1)
        + b.covariance * (b.count - 1)
        + jnp.outer(delta, delta) * (a.count * b.count / n)
    )
    return GaussianStats(n, mean, scatter / (n - 1))


def merge_stats(a: GaussianStats, b: GaussianStats) -> GaussianStats:
    r"""Statistics of the union of two sets, from the statistics of each.

    Exact (up to round-off) and associative, so shards, streams and hosts can
    be reduced in any order (Chan, Golub & LeVeque's pairwise update):

    .. math::
       n = n_a + n_b,\quad \delta = \mu_b - \mu_a,\quad
       (n-1)\Sigma = (n_a-1)\Sigma_a + (n_b-1)\Sigma_b + \tfrac{n_a n_b}{n}\delta\delta^\top

    Args:
      a: statistics of the first set.
      b: statistics of the second set (same dimension).

    Returns:
      :class:`GaussianStats` of the concatenation.

    Examples:
      >>> import numpy as np
      >>> import jaxmetrics as jm
      >>> x = np.random.default_rng(0).normal(size=(10, 3))
      >>> merged = jm.merge_stats(jm.gaussian_stats(x[:4]), jm.gaussian_stats(x[4:]))
      >>> bool(np.allclose(merged.covariance, np.cov(x, rowvar=False)))
      True

    """
    a = check_stats(a, "a")
    b = check_stats(b, "b")
    _validation.check_same_dim(a.mean, b.mean, "a", "b")
    traced = _validation.is_traced(a, b)
    precision = "float64" if result_is_x64(a, b) else "float32"
    with _precision.precision_scope(precision, traced):
        return _merge_stats(stats_as_jax(a), stats_as_jax(b))


def result_is_x64(*stats: GaussianStats) -> bool:
    """Whether any of ``stats`` is float64 (a result then stays float64)."""
    return any(jnp.dtype(s.covariance.dtype) == jnp.float64 for s in stats)


def stats_as_jax(stats: GaussianStats) -> GaussianStats:
    """``stats`` with Python scalars as arrays (arrays pass unchanged)."""
    # Arrays go to jit as they are (its dispatch moves NumPy arrays to the
    # device; an eager jnp.asarray costs a dispatch of its own per leaf).
    return GaussianStats(
        *(v if isinstance(v, (np.ndarray, jax.Array)) else jnp.asarray(v) for v in stats)
    )


def as_stats(value: Any, name: str, precision: str) -> GaussianStats:
    """``value`` checked if it is statistics, else the statistics of its rows (embeddings)."""
    if isinstance(value, GaussianStats):
        return check_stats(value, name)
    value = _validation.check_embeddings(value, name, min_rows=2, why="to estimate a covariance")
    return gaussian_stats(value, precision=precision)


def check_stats(stats: Any, name: str) -> GaussianStats:
    """Validate a :class:`GaussianStats`-like triple and return it as one.

    Args:
      stats: a :class:`GaussianStats` or any ``(count, mean, covariance)`` triple.
      name: argument name for error messages.

    Returns:
      The statistics as :class:`GaussianStats`.

    """
    if not isinstance(stats, GaussianStats):
        if isinstance(stats, tuple) and len(stats) == 3:
            stats = GaussianStats(*stats)
        else:
            raise TypeError(
                f"{name} must be GaussianStats (count, mean, covariance), "
                f"got {type(stats).__name__}"
            )
    mean, cov = stats.mean, stats.covariance
    if getattr(mean, "ndim", None) != 1 or getattr(cov, "ndim", None) != 2:
        raise ValueError(f"{name}: mean must be 1-D and covariance 2-D")
    d = mean.shape[0]
    if cov.shape != (d, d):
        raise ValueError(
            f"{name}: covariance shape {tuple(cov.shape)} does not match mean shape ({d},)"
        )
    for field, value in (("mean", mean), ("covariance", cov)):
        if not _is_finite(value):
            raise ValueError(f"{name}.{field} has NaN or inf values; statistics must be finite")
    _check_count(stats.count, name)
    _check_covariance(cov, name)
    return stats


def _check_count(count: Any, name: str) -> None:
    if isinstance(count, jax.core.Tracer):
        return
    value = np.asarray(count)
    if value.ndim != 0 or not np.isfinite(value) or value < 1:
        raise ValueError(f"{name}.count must be a finite number >= 1 (rows seen), got {count!r}")


def _check_covariance(cov: Any, name: str) -> None:
    """Symmetric and positive semi-definite, to rounding (concrete arrays only).

    Symmetry to ``64 d eps max|Σ|`` (products ``X^T X`` can differ by a few
    ulps between ``(i, j)`` and ``(j, i)``); semi-definiteness by a Cholesky
    factorisation of ``Σ + 4 d eps max(diag Σ) I``, which succeeds for every
    PSD matrix (rounding errors of its eigenvalues are below the shift) and
    fails for any matrix with an eigenvalue below minus the shift.
    """
    if isinstance(cov, jax.core.Tracer):
        return
    dtype = np.asarray(cov).dtype
    c = np.asarray(cov, dtype=np.float64)
    d = c.shape[0]
    eps = float(np.finfo(dtype if dtype.kind == "f" else np.float64).eps)
    scale = float(np.max(np.abs(c))) if c.size else 0.0
    if scale == 0.0:
        return
    if np.max(np.abs(c - c.T)) > 64 * d * eps * scale:
        raise ValueError(f"{name}.covariance is not symmetric")
    if np.min(np.diagonal(c)) < -4 * d * eps * scale:
        raise ValueError(f"{name}.covariance has a negative variance on its diagonal")
    shift = 4 * d * eps * max(float(np.max(np.diagonal(c))), 0.0) + np.finfo(np.float64).tiny
    try:
        np.linalg.cholesky(c / scale + (shift / scale) * np.eye(d))
    except np.linalg.LinAlgError:
        raise ValueError(
            f"{name}.covariance is not positive semi-definite (it has a negative eigenvalue)"
        ) from None


def _is_finite(value: Any) -> bool:
    """Whether a concrete array has only finite values (tracers: not checkable, True).

    Read on the host (also inside a surrounding trace, where a closed-over
    concrete array is still concrete); statistics are small.
    """
    if isinstance(value, jax.core.Tracer):
        return True
    array = np.asarray(value)
    return not np.issubdtype(array.dtype, np.inexact) or bool(np.isfinite(array).all())
