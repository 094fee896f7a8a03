"""Fréchet distance between Gaussians fitted to embedding sets (FAD)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxmetrics._src import host_lapack as _host_lapack
from jaxmetrics._src import linalg as _linalg
from jaxmetrics._src import precision as _precision
from jaxmetrics._src import routing
from jaxmetrics._src import validation as _validation
from jaxmetrics._src.frechet_formula import squared_frechet
from jaxmetrics.metrics import sets as _sets
from jaxmetrics.metrics import stats as _stats
from jaxmetrics.metrics.stats import GaussianStats


def _times_power_of_two(v: Any, k: Any, xp: Any = jnp) -> Any:
    """``v * 2^k``, exact unless the result over- or underflows; differentiable in ``v``.

    The factor is applied as four powers of two of at most ``2^512`` each, so
    none of them is itself out of range (``ldexp`` of the data is not used:
    its derivative rule fails on some shapes).
    """
    if xp is np:
        return np.ldexp(v, k)
    one = jnp.ones((), v.dtype)
    step = k // 4
    for part in (step, step, step, k - 3 * step):
        v = v * jnp.ldexp(one, part)
    return v


def _unit_stats(a: GaussianStats, b: GaussianStats, xp: Any = jnp):
    """Statistics scaled exactly by powers of two so covariances are at most 1.

    Returns ``(mean_a, cov_a, mean_b, cov_b, e)``: means times ``2^-e``,
    covariances times ``4^-e``; the Fréchet distance of the scaled
    statistics times ``4^e`` is that of the originals, and no product of
    the trace term can overflow or underflow on the way (unscaled,
    embeddings around 1e77 have covariances around 1e154, whose products
    overflow to inf and make FAD NaN).
    """
    big = xp.maximum(xp.max(xp.abs(a.covariance)), xp.max(xp.abs(b.covariance)))
    e = (_linalg.binary_exponent(big, xp) + 1) // 2
    pairs = ((a.mean, 1), (a.covariance, 2), (b.mean, 1), (b.covariance, 2))
    scaled = [_times_power_of_two(v, -k * e, xp) for v, k in pairs]
    return (*scaled, e)


@functools.partial(jax.jit, static_argnames=("method",))
def frechet_of_stats(a: GaussianStats, b: GaussianStats, method: str = "qr") -> jax.Array:
    """The jitted Fréchet distance of two validated statistics (scaled by a power of two)."""
    mean_a, cov_a, mean_b, cov_b, e = _unit_stats(a, b)
    diff = mean_a - mean_b
    traces = jnp.trace(cov_a) + jnp.trace(cov_b)
    cross = _linalg.trace_sqrt_product(cov_a, cov_b, method)
    return _times_power_of_two(squared_frechet(diff @ diff, traces, cross), 2 * e)


def _unit_rows(x: jax.Array, y: jax.Array):
    """``x, y`` scaled exactly by ``2^-e`` so the largest ``|value|`` is below 1, and ``e``."""
    e = _linalg.binary_exponent(jnp.maximum(jnp.max(jnp.abs(x)), jnp.max(jnp.abs(y))))
    return _times_power_of_two(x, -e), _times_power_of_two(y, -e), e


def _check_method(method: str) -> None:
    if method not in _linalg.TRACE_METHODS:
        raise ValueError(
            f"method must be one of {_linalg.TRACE_METHODS} (the route to tr sqrt(Σa Σb)), "
            f"got {method!r}"
        )


def frechet_distance_from_stats(
    a: GaussianStats, b: GaussianStats, *, method: str = "qr"
) -> jax.Array:
    r"""Fréchet distance between two Gaussians given by their statistics.

    .. math::
       d^2 = \lVert\mu_a-\mu_b\rVert^2 + \operatorname{tr}\Sigma_a
             + \operatorname{tr}\Sigma_b - 2\operatorname{tr}\sqrt{\Sigma_a\Sigma_b}

    The trace of the square root is the sum of the singular values of
    ``C = Fb^T Fa`` for factors ``Σ = F F^T`` (Cholesky factors when the
    covariances are definite): by default the eigenvalues of ``R R^T`` for the
    ``R`` of ``C = QR``, so nothing is squared; singular values of ``C`` when a
    covariance is singular, so the zero part of the spectrum adds no noise
    (see :func:`jaxmetrics._src.linalg.trace_sqrt_of_factors`): never complex,
    never NaN, also for singular covariances. The computation runs in the
    dtype of the statistics (float64 for those made by :func:`gaussian_stats`
    with its default precision).

    Args:
      a: statistics of the first set (:class:`GaussianStats`).
      b: statistics of the second set, same dimension.
      method: the route to the trace term: ``"qr"`` (default; the accuracy of
        singular values), ``"eigh"`` (eigenvalues of ``C^T C``: faster, with
        errors 8-1000x larger on near-identical sets) or ``"svd"`` (singular
        values of ``C``); the README compares their times and errors.

    Returns:
      Scalar Fréchet distance (squared, as FAD is reported), ``>= 0``.

    Raises:
      TypeError: if ``a`` or ``b`` is not a ``(count, mean, covariance)`` triple.
      ValueError: for mismatched shapes or an unknown ``method``.

    References:
      Kilgour et al., "Fréchet Audio Distance", arXiv:1812.08466;
      Dowson & Landau (1982), the Fréchet distance between multivariate normals.

    Examples:
      >>> import numpy as np
      >>> import jaxmetrics as jm
      >>> x = np.random.default_rng(0).normal(size=(200, 4))
      >>> sx, sy = jm.gaussian_stats(x), jm.gaussian_stats(x + 1.0)
      >>> round(float(jm.frechet_distance_from_stats(sx, sy)), 6)
      4.0

    """
    _check_method(method)
    a = _stats.check_stats(a, "a")
    b = _stats.check_stats(b, "b")
    _validation.check_same_dim(a.mean, b.mean, "a", "b")
    precision = "float64" if _stats.result_is_x64(a, b) else "float32"
    if _on_cpu_host(a, b):
        host = (
            GaussianStats(*(np.asarray(v) for v in a)),
            GaussianStats(*(np.asarray(v) for v in b)),
        )
        *scaled, e = _unit_stats(*host, xp=np)
        value = np.ldexp(_host_lapack.frechet_from_stats(*scaled, method), 2 * int(e))
        with jax.enable_x64(True):
            return jnp.asarray(value, jnp.float64)
    with _precision.precision_scope(precision, _validation.is_traced(a, b)):
        return frechet_of_stats(_stats.stats_as_jax(a), _stats.stats_as_jax(b), method)


def _on_cpu_host(a: GaussianStats, b: GaussianStats) -> bool:
    """Whether two statistics take the host route of :func:`frechet_distance_from_stats`.

    From d = 160 (where the jitted code itself calls the host's LAPACK),
    concrete float64 arrays that live on the CPU (NumPy arrays where JAX's
    default backend is the CPU, or JAX arrays on CPU devices) are handed to
    SciPy's LAPACK directly (:func:`jaxmetrics._src.host_lapack.frechet_from_stats`):
    the same steps as the jitted code's host callback, without JAX's dispatch
    and the callback's transfers. Below d = 160 XLA is as fast or faster: the
    host's small multi-threaded OpenBLAS calls must wake sleeping threads,
    which costs more than they save (threshold chosen with
    ``benchmarks/bench_choices.py --sections fad-route``). Traced
    statistics, other dtypes and accelerator arrays take the jitted route.
    """
    if not routing.HOST_LAPACK or a.mean.shape[0] < routing.HOST_MIN_DIM:
        return False
    leaves = (a.mean, a.covariance, b.mean, b.covariance)
    for leaf in leaves:
        if isinstance(leaf, np.ndarray):
            if jax.default_backend() != "cpu":
                return False
        elif not isinstance(leaf, jax.Array) or isinstance(leaf, jax.core.Tracer):
            return False
        elif any(device.platform != "cpu" for device in leaf.devices()):
            return False
        if np.dtype(leaf.dtype) != np.float64:
            return False
    return True


@functools.partial(jax.jit, static_argnames=("dtype",))
def _frechet_cross_gram(x: jax.Array, y: jax.Array, dtype: Any) -> jax.Array:
    # When n, m < d the non-zero spectrum of Σx Σy is that of C C^T with
    # C = Xc Yc^T / sqrt((n-1)(m-1)), so tr sqrt(Σx Σy) = ||C||_* (nuclear
    # norm). Singular values are found to eps·||C|| each, without the squaring
    # of small eigenvalues that the d x d route suffers.
    x, y, e = _unit_rows(x.astype(dtype), y.astype(dtype))
    n, m = x.shape[0], y.shape[0]
    mx, my = x.mean(axis=0), y.mean(axis=0)
    xc, yc = x - mx, y - my
    traces = jnp.sum(xc * xc) / (n - 1) + jnp.sum(yc * yc) / (m - 1)
    cross = _linalg.matmul(xc, yc.T) / jnp.sqrt(jnp.asarray((n - 1) * (m - 1), dtype))
    diff = mx - my
    fd = squared_frechet(diff @ diff, traces, _linalg.nuclear_norm(cross))
    return _times_power_of_two(fd, 2 * e)


@functools.partial(jax.jit, static_argnames=("dtype", "method"))
def _frechet_via_stats(x: jax.Array, y: jax.Array, dtype: Any, method: str) -> jax.Array:
    x, y, e = _unit_rows(x.astype(dtype), y.astype(dtype))
    a, b = _stats.compute_gaussian_stats(x, dtype), _stats.compute_gaussian_stats(y, dtype)
    return _times_power_of_two(frechet_of_stats(a, b, method), 2 * e)


def _use_cross_gram(n: int, m: int, d: int) -> bool:
    """Whether to take the n x m cross-Gram route rather than two d x d covariances.

    When a set has at most ``d`` rows its covariance has rank below ``d``
    (one degree of freedom goes to the mean), and the covariance route must
    tell its zero eigenvalues from rounding noise, whose square roots
    (``sqrt(eps)`` relative) would enter the trace term: the cross-Gram
    route never forms the singular matrix. It is taken unless it costs more
    than four times the covariance route.
    """
    small = min(n, m)
    cross_flops = 2.0 * n * m * d + 12.0 * small**3
    stats_flops = 2.0 * (n + m) * d * d + 12.0 * d**3
    return small <= d and cross_flops < 4.0 * stats_flops


def frechet_distance(
    x: ArrayLike, y: ArrayLike, *, precision: str = "float64", method: str = "qr"
) -> jax.Array:
    r"""Fréchet (audio) distance between two embedding sets.

    Fits a Gaussian to each set and returns
    :math:`\lVert\mu_x-\mu_y\rVert^2 + \operatorname{tr}(\Sigma_x+\Sigma_y
    -2\sqrt{\Sigma_x\Sigma_y})`. When the sets have fewer rows than dimensions,
    the trace term is computed as the nuclear norm of the ``n x m`` cross-Gram
    matrix of the centred sets, which is both cheaper and more accurate; the
    result is the same quantity.

    Args:
      x: ``(n, d)`` embeddings, ``n >= 2``; never modified.
      y: ``(m, d)`` embeddings, ``m >= 2``.
      precision: ``"float64"`` (default; a scoped x64 context, the global flag
        is left alone) or ``"float32"`` (for accelerators without fast float64;
        see the README for its measured error).
      method: ``"qr"`` (default), ``"eigh"`` or ``"svd"``: the route to the
        trace term when the covariances are formed (see
        :func:`frechet_distance_from_stats`); the ``n x m`` route always
        takes singular values.

    Returns:
      Scalar FAD, ``>= 0``.

    Raises:
      TypeError: for non-numeric input.
      ValueError: for wrong shapes, mismatched dimensions, fewer than 2 rows,
        NaN/inf rows or an unknown ``method``.

    References:
      Kilgour et al., "Fréchet Audio Distance: A Metric for Evaluating Music
      Enhancement Algorithms", arXiv:1812.08466.

    Examples:
      >>> import numpy as np
      >>> import jaxmetrics as jm
      >>> rng = np.random.default_rng(0)
      >>> x = rng.normal(size=(500, 8))
      >>> abs(float(jm.frechet_distance(x, x))) < 1e-12
      True
      >>> round(float(jm.frechet_distance(x, x + 1.0)), 9)
      8.0

    """
    _check_method(method)
    x = _validation.check_embeddings(x, "x", min_rows=2, why="to estimate a covariance")
    y = _validation.check_embeddings(y, "y", min_rows=2, why="to estimate a covariance")
    _validation.check_same_dim(x, y, "x", "y")
    (n, d), m = x.shape, y.shape[0]
    with _precision.precision_scope(precision, _validation.is_traced(x, y)) as dtype:
        x, y = jnp.asarray(x), jnp.asarray(y)
        if _use_cross_gram(n, m, d):
            return _frechet_cross_gram(x, y, dtype)
        return _frechet_via_stats(x, y, dtype, method)


# Many candidate sets against one reference (see jaxmetrics.metrics.sets).


def _frechet_one(shared, x, n, method):
    factor, mean, trace = shared
    stats = _stats.masked_stats(x, n)
    diff = mean - stats.mean
    cross = _linalg.trace_sqrt_of_factors(
        factor, _linalg.covariance_factor(stats.covariance), method=method
    )
    return squared_frechet(diff @ diff, trace + jnp.trace(stats.covariance), cross)


@functools.partial(jax.jit, static_argnames=("dtype", "method", "devices"))
def _frechet_batch(ref: GaussianStats, cands, counts, *, dtype, method, devices):
    cov = ref.covariance.astype(dtype)
    shared = (_linalg.covariance_factor(cov), ref.mean.astype(dtype), jnp.trace(cov))

    # Sequential map: the Cholesky-or-eigh factor and the eigenvalue-or-SVD
    # route stay real branches (vmap would evaluate both for every set).
    return _sets.map_sets(
        lambda sh, x, n: _frechet_one(sh, x.astype(dtype), n, method),
        shared,
        [cands, counts],
        devices,
    )


def frechet_distance_batch(
    reference: GaussianStats | ArrayLike,
    candidates: ArrayLike | Sequence[ArrayLike],
    *,
    counts: ArrayLike | None = None,
    precision: str = "float64",
    method: str = "qr",
    devices: _sets.Devices = None,
) -> jax.Array:
    """Fréchet distance from one reference to each of many candidate sets.

    The reference covariance is factored once (Cholesky, or ``eigh`` when
    singular); each candidate then costs its covariance, its factor, a QR
    and one symmetric eigenvalue problem (the ``method="qr"`` route of
    :func:`frechet_distance_from_stats`, in XLA).

    Args:
      reference: ``(n, d)`` embeddings or their :class:`GaussianStats`.
      candidates: ``(s, m, d)`` stack, or a list of ``(m_i, d)`` arrays.
      counts: ``(s,)`` true row counts of a padded stack (default: all ``m``).
      precision: ``"float64"`` (default) or ``"float32"``.
      method: the route to the trace term, as in :func:`frechet_distance_from_stats`.
      devices: ``None`` (default device), ``"all"`` local devices, or a list of
        devices to spread the sets over (``jax.shard_map`` over a 1-D mesh).

    Returns:
      ``(s,)`` distances, each equal to ``frechet_distance(reference, set_i)``.

    References:
      Kilgour et al., arXiv:1812.08466.

    Examples:
      >>> import numpy as np
      >>> import jaxmetrics as jm
      >>> rng = np.random.default_rng(0)
      >>> ref = rng.normal(size=(500, 4))
      >>> [round(float(v), 6) for v in jm.frechet_distance_batch(ref, [ref, ref + 1.0])]
      [0.0, 4.0]

    """
    _check_method(method)
    _validation.check_choice(precision, "precision", _precision.PRECISIONS)
    cands, counts = _sets.check_candidates(
        candidates, counts, name="candidates", min_rows=2, why="to estimate a covariance"
    )
    ref = _stats.as_stats(reference, "reference", precision)
    _validation.check_same_dim(ref.mean, cands, "reference", "candidates")
    devices = _sets.resolve_devices(devices)
    with _precision.precision_scope(precision, False) as dtype:
        return _frechet_batch(
            _stats.stats_as_jax(ref),
            jnp.asarray(cands),
            jnp.asarray(counts),
            dtype=dtype,
            method=method,
            devices=devices,
        )
