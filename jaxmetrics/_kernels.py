"""Kernels for MMD: polynomial (KID) and Gaussian RBF (KAD), on blocks of rows.

A kernel is described by :class:`KernelSpec`: its kind and integer degree are
static (they change the traced program), its real parameters are arrays, so a
sweep over ``gamma``, ``coef0`` or ``bandwidth`` can be ``jax.vmap``-ed.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxmetrics import _linalg, _precision, _validation

KERNELS: tuple[str, ...] = ("polynomial", "rbf")


class KernelSpec(NamedTuple):
    """A kernel: ``kind`` and ``degree`` static, ``gamma``/``coef0`` traced.

    For ``kind="polynomial"``: ``k(a, b) = (gamma * a.b + coef0) ** degree``.
    For ``kind="rbf"``: ``k(a, b) = exp(-gamma * |a - b|^2)`` with
    ``gamma = 1 / (2 bandwidth^2)``; ``coef0`` and ``degree`` are unused.
    """

    kind: str
    degree: int
    gamma: jax.Array
    coef0: jax.Array


def _shifted_power(t: jax.Array, c: jax.Array, degree: int) -> jax.Array:
    """``(t + c)**degree - c**degree``, expanded so nothing cancels.

    Every MMD² estimator is invariant to adding a constant to the kernel
    (the within-set and cross terms carry it with weights 1 + 1 - 2), so the
    metrics use the polynomial kernel minus ``coef0**degree``. Typical
    embeddings give ``gamma * x.y`` of ~1e-3 beside ``coef0 = 1``: subtracting
    afterwards loses ~3 of float32's 7 digits, expanding
    ``sum_j C(p, j) c^(p-j) t^j`` in Horner form loses none.
    """
    acc = jnp.ones_like(t)
    for j in range(degree - 1, 0, -1):
        acc = acc * t + math.comb(degree, j) * c ** (degree - j)
    return acc * t


def kernel_block_from_inner(spec: KernelSpec, inner: jax.Array) -> jax.Array:
    """Polynomial kernel block (shifted by ``-coef0**degree``) from inner products."""
    if spec.kind != "polynomial":
        raise ValueError("only the polynomial kernel is a function of inner products alone")
    return _shifted_power(spec.gamma * inner, spec.coef0, spec.degree)


def kernel_block(spec: KernelSpec, a: jax.Array, b: jax.Array) -> jax.Array:
    """Kernel matrix between the rows of ``a`` ``(p, d)`` and ``b`` ``(q, d)``.

    The polynomial kernel is returned shifted by ``-coef0**degree`` (see
    :func:`_shifted_power`); MMD² values are unchanged by the shift.
    """
    inner = _linalg.matmul(a, b.T)
    if spec.kind == "polynomial":
        return _shifted_power(spec.gamma * inner, spec.coef0, spec.degree)
    sq = jnp.sum(a * a, axis=1)[:, None] + jnp.sum(b * b, axis=1)[None, :] - 2.0 * inner
    return jnp.exp(-spec.gamma * jnp.maximum(sq, 0.0))


def kernel_diagonal(spec: KernelSpec, a: jax.Array) -> jax.Array:
    """``k(a_i, a_i)`` for every row of ``a``, without forming a matrix."""
    if spec.kind == "polynomial":
        return _shifted_power(spec.gamma * jnp.sum(a * a, axis=1), spec.coef0, spec.degree)
    return jnp.ones(a.shape[0], a.dtype)


def kernel_rowwise(spec: KernelSpec, a: jax.Array, b: jax.Array) -> jax.Array:
    """``k(a_i, b_i)`` for paired rows (the diagonal of ``K_ab``)."""
    if spec.kind == "polynomial":
        return _shifted_power(spec.gamma * jnp.sum(a * b, axis=1), spec.coef0, spec.degree)
    diff = a - b
    return jnp.exp(-spec.gamma * jnp.sum(diff * diff, axis=1))


def make_spec(
    kind: str,
    *,
    dim: int,
    degree: int,
    gamma: ArrayLike | None,
    coef0: ArrayLike,
    bandwidth: ArrayLike | None,
    dtype: jnp.dtype,
) -> KernelSpec:
    """Build a :class:`KernelSpec` from user arguments (host side, before tracing)."""
    if kind == "polynomial":
        degree = _validation.check_positive_int(degree, "degree")
        gamma_value = 1.0 / dim if gamma is None else gamma
        return KernelSpec(kind, degree, jnp.asarray(gamma_value, dtype), jnp.asarray(coef0, dtype))
    if bandwidth is None:
        raise ValueError("bandwidth must be given for the rbf kernel (or use the median heuristic)")
    bandwidth = jnp.asarray(bandwidth, dtype)
    return KernelSpec(kind, 1, 1.0 / (2.0 * bandwidth**2), jnp.asarray(0.0, dtype))


def check_median_bandwidth(bandwidth: jax.Array, name: str) -> None:
    """Raise when a median-heuristic bandwidth is 0 (concrete values only).

    A median pairwise distance of 0 means that at least half of the pairs of
    ``name`` are identical rows; the RBF kernel ``exp(-|a-b|^2 / 2 sigma^2)``
    is then undefined, and a bandwidth has to be given explicitly.
    """
    if _validation.is_traced(bandwidth):
        return
    if not float(bandwidth) > 0.0:
        raise ValueError(
            f"the median pairwise distance of {name} is 0 (at least half of its pairs of rows "
            "are identical), so the RBF bandwidth cannot default to it: pass bandwidth="
        )


_MEDIAN_MAX_ROWS = 4096


@functools.partial(jax.jit, static_argnames=("dtype",))
def _median_pairwise_distance(x: jax.Array, dtype: jnp.dtype) -> jax.Array:
    x = x.astype(dtype)
    if x.shape[0] > _MEDIAN_MAX_ROWS:
        rows = jax.random.choice(jax.random.key(0), x.shape[0], (_MEDIAN_MAX_ROWS,), replace=False)
        x = x[rows]
    n = x.shape[0]
    sq = jnp.sum(x * x, axis=1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * _linalg.matmul(x, x.T)
    upper = jnp.triu_indices(n, k=1)
    return jnp.median(jnp.sqrt(jnp.maximum(d2[upper], 0.0)))


def median_pairwise_distance(x: ArrayLike, *, precision: str = "float64") -> jax.Array:
    """Median Euclidean distance between distinct rows of ``x`` (RBF bandwidth heuristic).

    This is the bandwidth KAD uses by default. All ``n (n - 1) / 2`` pairs are
    used for ``n <= 4096``; larger sets use a fixed (seeded) subset of 4096 rows.

    Args:
      x: ``(n, d)`` embeddings, ``n >= 2``.
      precision: ``"float64"`` (default) or ``"float32"``.

    Returns:
      Scalar median distance.

    References:
      Chung et al., "KAD: No More FAD! An Effective and Efficient Evaluation
      Metric for Audio Generation", arXiv:2502.15602.

    Examples:
      >>> import numpy as np
      >>> import jaxmetrics as jm
      >>> float(jm.median_pairwise_distance(np.array([[0.0], [1.0], [3.0]])))
      2.0

    """
    x = _validation.check_embeddings(x, "x", min_rows=2, why="to form a pair")
    with _precision.precision_scope(precision, _validation.is_traced(x)) as dtype:
        return _median_pairwise_distance(jnp.asarray(x), dtype)
