"""Kernel-parameter sweeps of MMD² and the kernel distance, vmapped in one jitted call.

``gamma``, ``coef0`` and ``bandwidth`` are traced arguments of :func:`mmd2` and
:func:`kernel_distance`, so a grid of them runs as one ``jax.vmap`` in one
compiled program. The polynomial ``degree`` changes the traced program: a
sequence of degrees runs one compiled program per degree.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxmetrics._src import kernels as _kernels
from jaxmetrics._src import precision as _precision
from jaxmetrics._src import validation as _validation
from jaxmetrics.metrics import kernel_distance as _kernel_distance
from jaxmetrics.metrics import mmd as _mmd
from jaxmetrics.metrics import subsets as _subsets
from jaxmetrics.metrics.kernel_distance import KernelDistance


def _degrees(degree: int | Sequence[int]) -> tuple[tuple[int, ...], bool]:
    if isinstance(degree, (list, tuple)):
        if not degree:
            raise ValueError("degree must be an int or a non-empty sequence of ints")
        return tuple(_validation.check_positive_int(d, "degree") for d in degree), True
    return (_validation.check_positive_int(degree, "degree"),), False


def _grid(kernel, x, gamma, coef0, bandwidth, dtype) -> tuple[tuple[int, ...], jax.Array]:
    """Broadcast the swept parameters and flatten them to ``(K, 2)`` rows."""
    if kernel == "polynomial":
        gamma = _kernels.kernel_gamma(kernel, x.shape[1], gamma)
        first, second = (_finite(gamma, "gamma"), _finite(coef0, "coef0"))
        if (first <= 0).any():
            raise ValueError("gamma must be > 0")
    else:
        if bandwidth is None:
            raise ValueError(
                "bandwidth must be given for an rbf sweep, e.g. "
                "jm.median_pairwise_distance(y) * np.geomspace(0.25, 4, 9)"
            )
        first = _finite(bandwidth, "bandwidth")
        if (first <= 0).any():
            raise ValueError("bandwidth must be positive (> 0)")
        second = np.zeros_like(first)
    try:
        first, second = np.broadcast_arrays(first, second)
    except ValueError as err:
        raise ValueError(
            f"gamma and coef0 must broadcast together, got shapes {first.shape} and {second.shape}"
        ) from err
    shape = first.shape
    params = np.stack([first.reshape(-1), second.reshape(-1)], axis=1)
    return shape, jnp.asarray(params, dtype)


def _finite(value: Any, name: str) -> np.ndarray:
    if isinstance(value, jax.core.Tracer):
        raise TypeError(f"{name} must be concrete for a sweep (call the sweep outside jit)")
    _validation.check_parameter(value, name)
    return np.asarray(value, np.float64)


def _check_pair(x, y, min_rows, why):
    x = _validation.check_embeddings(x, "x", min_rows=min_rows, why=why)
    y = _validation.check_embeddings(y, "y", min_rows=min_rows, why=why)
    _validation.check_same_dim(x, y, "x", "y")
    return x, y


def _kernel_arguments(kernel: str, params: jax.Array) -> dict[str, Any]:
    if kernel == "polynomial":
        return {"gamma": params[0], "coef0": params[1]}
    return {"bandwidth": params[0]}


@functools.partial(jax.jit, static_argnames=("kernel", "estimator", "degree", "precision"))
def _mmd2_sweep(x, y, params, *, kernel, estimator, degree, precision):
    def one(p):
        return _mmd.mmd2(
            x,
            y,
            kernel=kernel,
            estimator=estimator,
            degree=degree,
            precision=precision,
            **_kernel_arguments(kernel, p),
        )

    return jax.vmap(one)(params)


def mmd2_sweep(
    x: ArrayLike,
    y: ArrayLike,
    *,
    kernel: str = "polynomial",
    estimator: str = "unbiased",
    degree: int | Sequence[int] = 3,
    gamma: ArrayLike | None = None,
    coef0: ArrayLike = 1.0,
    bandwidth: ArrayLike | None = None,
    precision: str = "float64",
) -> jax.Array:
    r""":func:`mmd2` over a grid of kernel parameters, vmapped in one jitted call.

    For the polynomial kernel :math:`k(a,b) = (\gamma\,a\cdot b + c_0)^p`,
    ``gamma`` and ``coef0`` are broadcast together and each pair is one
    point of the sweep; for the RBF kernel
    :math:`k(a,b)=\exp(-\lVert a-b\rVert^2/2\sigma^2)` each ``bandwidth``
    :math:`\sigma` is one point. A sequence of ``degree`` adds a leading axis
    (one compiled program per degree, since the degree is static).

    Args:
      x: ``(n, d)`` embeddings (the reference set by convention).
      y: ``(m, d)`` embeddings.
      kernel: ``"polynomial"`` or ``"rbf"``.
      estimator: as :func:`mmd2`.
      degree: polynomial degree, or a sequence of degrees.
      gamma: polynomial scales (any shape; default ``1 / d``).
      coef0: polynomial offsets, broadcast against ``gamma``.
      bandwidth: RBF bandwidths (any shape); required for ``kernel="rbf"``.
      precision: ``"float64"`` (default, scoped x64) or ``"float32"``.

    Returns:
      MMD² of shape ``broadcast(gamma, coef0).shape`` (polynomial) or
      ``bandwidth.shape`` (RBF), preceded by ``len(degree)`` when ``degree``
      is a sequence.

    Raises:
      TypeError: for non-numeric input or traced parameters.
      ValueError: for bad shapes, NaN/inf values, non-broadcastable
        parameters or a missing/non-positive RBF bandwidth.

    References:
      Gretton et al., "A Kernel Two-Sample Test", JMLR 2012; Bińkowski et al.,
      arXiv:1801.01401 (KID); Chung et al., arXiv:2502.15602 (KAD).

    Examples:
      >>> import numpy as np
      >>> import jaxmetrics as jm
      >>> rng = np.random.default_rng(0)
      >>> x, y = rng.normal(size=(200, 8)), rng.normal(0.3, size=(200, 8))
      >>> jm.mmd2_sweep(x, y, gamma=[0.05, 0.125, 0.5], coef0=[[0.0], [1.0]]).shape
      (2, 3)

    """
    x, y = _check_pair(x, y, 2, "for an unbiased MMD estimate")
    _validation.check_choice(kernel, "kernel", _kernels.KERNELS)
    _validation.check_choice(estimator, "estimator", _mmd.ESTIMATORS)
    if estimator == "u-statistic" and x.shape[0] != y.shape[0]:
        raise ValueError(
            "estimator='u-statistic' needs x and y of the same size, "
            f"got {x.shape[0]} and {y.shape[0]}"
        )
    degrees, many = _degrees(degree) if kernel == "polynomial" else ((1,), False)
    with _precision.precision_scope(precision, _validation.is_traced(x, y)) as dtype:
        shape, params = _grid(kernel, x, gamma, coef0, bandwidth, dtype)
        x, y = jnp.asarray(x), jnp.asarray(y)
        out = jnp.stack(
            [
                _mmd2_sweep(
                    x, y, params, kernel=kernel, estimator=estimator, degree=p, precision=precision
                ).reshape(shape)
                for p in degrees
            ]
        )
    return out if many else out[0]


@functools.partial(
    jax.jit, static_argnames=("kernel", "degree", "num_subsets", "subset_size", "precision")
)
def _kd_sweep(x, y, key, params, *, kernel, degree, num_subsets, subset_size, precision):
    def one(p):
        return _kernel_distance.kernel_distance(
            x,
            y,
            key=key,
            num_subsets=num_subsets,
            subset_size=subset_size,
            kernel=kernel,
            degree=degree,
            precision=precision,
            **_kernel_arguments(kernel, p),
        )

    return jax.vmap(one)(params)


def kernel_distance_sweep(
    x: ArrayLike,
    y: ArrayLike,
    *,
    key: jax.Array | None = None,
    num_subsets: int = 100,
    subset_size: int = 1000,
    kernel: str = "polynomial",
    degree: int | Sequence[int] = 3,
    gamma: ArrayLike | None = None,
    coef0: ArrayLike = 1.0,
    bandwidth: ArrayLike | None = None,
    precision: str = "float64",
) -> KernelDistance:
    """:func:`kernel_distance` over a grid of kernel parameters, vmapped in one jitted call.

    Every point of the sweep uses the same subsets (drawn from ``key``), so
    differences between kernel settings are not blurred by different subset
    draws (common random numbers), and ``std`` compares their variability
    across subsets on equal terms. Parameters broadcast as in
    :func:`mmd2_sweep`.

    Args:
      x: ``(n, d)`` reference embeddings.
      y: ``(m, d)`` candidate embeddings.
      key: PRNG key for the subsets; default ``jax.random.key(0)``.
      num_subsets: number of subset pairs.
      subset_size: rows per subset (reduced with a warning as in
        :func:`kernel_distance` when not smaller than both sets).
      kernel: ``"polynomial"`` or ``"rbf"``.
      degree: polynomial degree, or a sequence of degrees (leading axis).
      gamma: polynomial scales (default ``1 / d``).
      coef0: polynomial offsets, broadcast against ``gamma``.
      bandwidth: RBF bandwidths; required for ``kernel="rbf"``.
      precision: ``"float64"`` (default, scoped x64) or ``"float32"``.

    Returns:
      :class:`KernelDistance` whose ``mean`` and ``std`` have the sweep's shape.

    Raises:
      TypeError: for non-numeric input or traced parameters.
      ValueError: as :func:`mmd2_sweep`.

    References:
      Bińkowski et al., "Demystifying MMD GANs", arXiv:1801.01401.

    Examples:
      >>> import numpy as np
      >>> import jaxmetrics as jm
      >>> rng = np.random.default_rng(0)
      >>> x, y = rng.normal(size=(300, 8)), rng.normal(0.3, size=(300, 8))
      >>> kd = jm.kernel_distance_sweep(x, y, num_subsets=10, subset_size=100, degree=[2, 3],
      ...                               coef0=[0.5, 1.0, 2.0])
      >>> kd.mean.shape, kd.std.shape
      ((2, 3), (2, 3))

    """
    x, y = _check_pair(x, y, 4, "to draw subsets")
    _validation.check_choice(kernel, "kernel", _kernels.KERNELS)
    num_subsets = _validation.check_positive_int(num_subsets, "num_subsets")
    subset_size = _validation.check_positive_int(subset_size, "subset_size", minimum=2)
    subset_size = _subsets.effective_subset_size(x.shape[0], y.shape[0], subset_size)
    degrees, many = _degrees(degree) if kernel == "polynomial" else ((1,), False)
    key = _validation.as_key(key)
    with _precision.precision_scope(precision, _validation.is_traced(x, y)) as dtype:
        shape, params = _grid(kernel, x, gamma, coef0, bandwidth, dtype)
        x, y = jnp.asarray(x), jnp.asarray(y)
        results = [
            _kd_sweep(
                x,
                y,
                key,
                params,
                kernel=kernel,
                degree=p,
                num_subsets=num_subsets,
                subset_size=subset_size,
                precision=precision,
            )
            for p in degrees
        ]
    mean = jnp.stack([r.mean.reshape(shape) for r in results])
    std = jnp.stack([r.std.reshape(shape) for r in results])
    return KernelDistance(mean, std) if many else KernelDistance(mean[0], std[0])
