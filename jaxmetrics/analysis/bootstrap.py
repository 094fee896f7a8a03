"""Bootstrap confidence intervals for any metric, reproducible from a PRNG key."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxmetrics._src import precision as _precision
from jaxmetrics._src import validation as _validation

METHODS: tuple[str, ...] = ("percentile", "basic")


class BootstrapCI(NamedTuple):
    """A metric with its bootstrap confidence interval.

    Every field has the structure of the metric's output (a scalar, or a
    NamedTuple such as :class:`PRDC`, leaf by leaf).

    Attributes:
      estimate: the metric on the full sets.
      low: lower end of the interval.
      high: upper end of the interval.
      std: bootstrap standard error (standard deviation of the resampled
        values, ``ddof=1``).
      values: the metric on each resample, with a leading ``num_resamples`` axis.

    """

    estimate: Any
    low: Any
    high: Any
    std: Any
    values: Any


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _draw(key, sizes, num_resamples, paired):
    if paired:
        idx = jax.random.randint(key, (num_resamples, sizes[0]), 0, sizes[0], jnp.int32)
        return tuple(idx for _ in sizes)
    keys = jax.random.split(key, len(sizes))
    return tuple(
        jax.random.randint(k, (num_resamples, n), 0, n, jnp.int32)
        for k, n in zip(keys, sizes, strict=True)
    )


def bootstrap_indices(
    key: jax.Array, sizes: tuple[int, ...], num_resamples: int, *, paired: bool = False
) -> tuple[jax.Array, ...]:
    """The resample indices :func:`bootstrap_ci` draws from ``key``.

    Args:
      key: PRNG key.
      sizes: rows of each sample.
      num_resamples: number of bootstrap resamples.
      paired: draw one index set shared by all samples (equal sizes).

    Returns:
      One ``(num_resamples, n_i)`` int32 array of row indices (drawn with
      replacement) per sample. Independent of the global x64 flag.

    Examples:
      >>> import jax
      >>> import jaxmetrics as jm
      >>> ix, iy = jm.bootstrap_indices(jax.random.key(0), (5, 3), 4)
      >>> ix.shape, iy.shape
      ((4, 5), (4, 3))

    """
    sizes = tuple(_validation.check_positive_int(n, "sizes") for n in sizes)
    num_resamples = _validation.check_positive_int(num_resamples, "num_resamples")
    if paired and len(set(sizes)) > 1:
        raise ValueError(f"paired=True needs samples of equal size, got sizes {sizes}")
    return _draw(key, sizes, num_resamples, bool(paired))


@functools.partial(jax.jit, static_argnames=("metric", "batch_size"))
def _resampled_values(samples, indices, *, metric, batch_size):
    def one(rows):
        return metric(*(s[r] for s, r in zip(samples, rows, strict=True)))

    return jax.lax.map(one, indices, batch_size=batch_size)


@functools.partial(jax.jit, static_argnames=("method",))
def _interval(estimate, values, confidence, *, method):
    alpha = 1.0 - confidence

    def per_leaf(est, vals):
        vals = vals.astype(jnp.result_type(est, vals))
        q_low = jnp.quantile(vals, alpha / 2, axis=0)
        q_high = jnp.quantile(vals, 1.0 - alpha / 2, axis=0)
        if method == "basic":
            q_low, q_high = 2.0 * est - q_high, 2.0 * est - q_low
        return q_low, q_high, jnp.std(vals, axis=0, ddof=1)

    parts = jax.tree.map(per_leaf, estimate, values)
    pick = [jax.tree.map(lambda _, p, i=i: p[i], estimate, parts) for i in range(3)]
    return pick[0], pick[1], pick[2]


def bootstrap_ci(
    metric: Callable[..., Any],
    *samples: ArrayLike,
    key: jax.Array | None = None,
    num_resamples: int = 1000,
    confidence: float = 0.95,
    method: str = "percentile",
    paired: bool = False,
    batch_size: int = 1,
    precision: str = "float64",
) -> BootstrapCI:
    r"""Bootstrap confidence interval of ``metric(*samples)``.

    Each sample's rows are resampled with replacement (independently, or with
    shared indices when ``paired``), the metric is evaluated on each of
    ``num_resamples`` resamples inside one jitted ``lax.map`` (in sequential
    batches of ``batch_size``), and the interval is read off the resampled
    values:

    .. math::
       \text{percentile: } [q_{\alpha/2},\ q_{1-\alpha/2}],\qquad
       \text{basic: } [2\hat\theta - q_{1-\alpha/2},\ 2\hat\theta - q_{\alpha/2}]

    with :math:`\alpha = 1 - \text{confidence}` and ``jnp.quantile``'s linear
    interpolation (as ``numpy.percentile``). Note that FAD is biased upwards
    at a fixed ``n``: the interval describes the spread of the ``n``-sample
    estimate, not a band around FAD∞ (see :func:`frechet_distance_inf`). For
    k-NN metrics (PRDC) the duplicated rows of a resample shrink the k-NN
    radii, so their resampled values are biased: read such intervals with care.

    Args:
      metric: a JAX-traceable function of the samples, returning a scalar or a
        pytree of scalars (e.g. ``jm.frechet_distance`` or ``jm.prdc`` with
        ``functools.partial`` for its keywords). It is a static argument of
        the jitted resampling loop: pass the same function object to reuse
        the compiled program.
      *samples: one or more ``(n_i, d_i)`` arrays whose rows are resampled.
      key: PRNG key for the resamples; default ``jax.random.key(0)``.
      num_resamples: number of bootstrap resamples.
      confidence: coverage of the interval, in ``(0, 1)``.
      method: ``"percentile"`` (default) or ``"basic"``.
      paired: resample all samples with the same row indices (equal sizes).
      batch_size: resamples evaluated together (vmapped) in each step of the
        sequential loop. Default 1: the Fréchet path is not vmap-friendly on
        CPU (its LAPACK steps run one problem at a time under ``vmap`` anyway,
        see :mod:`jaxmetrics._src.linalg`, so a batch saves little and holds
        several resamples' data at once); raise it for metrics that batch
        well, e.g. on an accelerator.
      precision: ``"float64"`` (default): the metric is traced under a scoped
        x64 context, so the core metrics' default float64 holds inside the
        loop. ``"float32"`` leaves the global flag alone: pass a metric set to
        ``precision="float32"`` as well.

    Returns:
      :class:`BootstrapCI` ``(estimate, low, high, std, values)``.

    Raises:
      TypeError: if ``metric`` is not callable or a sample is not numeric.
      ValueError: for bad shapes, NaN/inf rows, ``confidence`` out of range,
        an unknown ``method`` or unequal sizes with ``paired``.

    References:
      Efron & Tibshirani, "An Introduction to the Bootstrap", Chapman & Hall
      1993, ch. 13 (percentile) and Davison & Hinkley 1997, ch. 5 (basic).

    Examples:
      >>> import numpy as np
      >>> import jaxmetrics as jm
      >>> rng = np.random.default_rng(0)
      >>> x, y = rng.normal(size=(300, 4)), rng.normal(0.5, size=(300, 4))
      >>> ci = jm.bootstrap_ci(jm.frechet_distance, x, y, num_resamples=50)
      >>> float(ci.low) < float(ci.estimate) < float(ci.high), ci.values.shape
      (True, (50,))

    """
    if not callable(metric):
        raise TypeError(f"metric must be callable, got {type(metric).__name__}")
    if not samples:
        raise ValueError("bootstrap_ci needs at least one sample to resample")
    samples = tuple(
        _validation.check_embeddings(s, f"samples[{i}]", min_rows=2, why="to resample")
        for i, s in enumerate(samples)
    )
    num_resamples = _validation.check_positive_int(num_resamples, "num_resamples", minimum=2)
    if isinstance(confidence, bool) or not isinstance(confidence, (float, int, np.floating)):
        raise TypeError(f"confidence must be a float, got {type(confidence).__name__}")
    if not 0.0 < float(confidence) < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    _validation.check_choice(method, "method", METHODS)
    if not isinstance(paired, bool):
        raise TypeError(f"paired must be a bool, got {type(paired).__name__}")
    batch_size = _validation.check_positive_int(batch_size, "batch_size")
    key = _validation.as_key(key)
    indices = bootstrap_indices(
        key, tuple(s.shape[0] for s in samples), num_resamples, paired=paired
    )
    traced = _validation.is_traced(*samples)
    with _precision.precision_scope(precision, traced) as dtype:
        arrays = tuple(jnp.asarray(s) for s in samples)
        estimate = metric(*arrays)
        values = _resampled_values(arrays, indices, metric=metric, batch_size=batch_size)
        low, high, std = _interval(estimate, values, jnp.asarray(confidence, dtype), method=method)
    return BootstrapCI(estimate, low, high, std, values)
