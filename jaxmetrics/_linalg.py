"""Dense linear algebra kernels behind the metrics (traced code only).

Matrix products use ``precision=HIGHEST`` so accelerators never silently drop
to TF32/bfloat16 passes.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
from jax import lax

HIGHEST = lax.Precision.HIGHEST
matmul = functools.partial(jnp.matmul, precision=HIGHEST)

# Width of the column blocks used to form a Gram matrix X^T X. Only blocks on
# and above the diagonal are computed (XLA has no SYRK), which saves up to half
# the flops for wide embeddings.
_GRAM_BLOCK = 256


def gram(x: jax.Array) -> jax.Array:
    """Return ``x.T @ x`` for an ``(n, d)`` array, computing only upper blocks.

    Args:
      x: an ``(n, d)`` array.

    Returns:
      The symmetric ``(d, d)`` Gram matrix.

    """
    d = x.shape[1]
    if d <= 2 * _GRAM_BLOCK:
        return matmul(x.T, x)
    starts = list(range(0, d, _GRAM_BLOCK))
    rows = []
    for i, start in enumerate(starts):
        stop = min(start + _GRAM_BLOCK, d)
        # Block row i: columns start..d (the diagonal block and those right of it).
        upper = matmul(x[:, start:stop].T, x[:, start:])
        left = [rows[j][1][:, start - starts[j] : stop - starts[j]].T for j in range(i)]
        rows.append((left, upper))
    return jnp.concatenate([jnp.concatenate([*left, upper], axis=1) for left, upper in rows])


def symmetric_eigvals(a: jax.Array) -> jax.Array:
    """Eigenvalues of a symmetric matrix, without eigenvectors where that is cheaper.

    On CPU the matrix is reduced to tridiagonal form (LAPACK ``sytrd``) and the
    eigenvalues of the tridiagonal matrix are found by bisection, which is about
    twice as fast as ``eigvalsh`` (that computes vectors too in XLA's CPU
    lowering) at the same accuracy. Other platforms use ``eigvalsh``.

    Args:
      a: a symmetric ``(d, d)`` array.

    Returns:
      The ``d`` eigenvalues (unsorted on CPU).

    """
    a = 0.5 * (a + a.T)
    if a.shape[0] < 3:
        return jnp.linalg.eigvalsh(a)

    def _tridiagonal_route(m: jax.Array) -> jax.Array:
        _, diag, off, _ = lax.linalg.tridiagonal(m)
        return jsl.eigh_tridiagonal(diag, off[: diag.shape[0] - 1], eigvals_only=True)

    return lax.platform_dependent(a, cpu=_tridiagonal_route, default=jnp.linalg.eigvalsh)


def trace_sqrt_product(sigma_x: jax.Array, sigma_y: jax.Array) -> jax.Array:
    r"""Trace of the matrix square root of ``sigma_x @ sigma_y`` for PSD inputs.

    .. math::
       \operatorname{tr}\sqrt{\Sigma_x\Sigma_y}
       = \sum_i \sqrt{\max(\lambda_i(F^\top \Sigma_y F), 0)},
       \qquad \Sigma_x = F F^\top .

    ``F^T Σy F`` is symmetric PSD and similar to ``Σx Σy``, so a symmetric
    eigen-solver gives real eigenvalues; clipping at zero removes round-off
    negatives. ``F`` is the Cholesky factor of ``Σx`` when it exists (cheap), and
    ``V diag(sqrt(max(λ, 0)))`` from ``eigh(Σx)`` when ``Σx`` is singular
    (fewer rows than dimensions, duplicated rows, zero-variance dimensions).
    This avoids ``scipy.linalg.sqrtm`` (Schur based: complex output and NaN on
    singular products) and non-symmetric ``eigvals`` (complex, unstable).

    Args:
      sigma_x: symmetric PSD ``(d, d)`` matrix.
      sigma_y: symmetric PSD ``(d, d)`` matrix.

    Returns:
      A non-negative scalar.

    """
    sigma_x = 0.5 * (sigma_x + sigma_x.T)
    return trace_sqrt_with_factor(psd_factor(sigma_x), sigma_y)


def trace_sqrt_with_factor(factor_x: jax.Array, sigma_y: jax.Array) -> jax.Array:
    """:func:`trace_sqrt_product` given a factor ``F`` of ``Σx = F F^T``.

    Batched evaluation factors the shared reference once and calls this for
    every candidate covariance.
    """
    sigma_y = 0.5 * (sigma_y + sigma_y.T)
    if sigma_y.dtype == jnp.float32:
        # In float32 the eigenvalues of F^T Σy F carry errors ~eps32·λmax, and
        # their square roots turn that into ~sqrt(eps32·λmax) per eigenvalue
        # near zero. Singular values of Fx^T Fy are the square roots
        # themselves, accurate to eps32·σmax: 10-100x smaller FAD errors for
        # about 2x the cost (benchmarks/precision_float32.py).
        return nuclear_norm(matmul(factor_x.T, psd_factor(sigma_y)))
    inner = matmul(factor_x.T, matmul(sigma_y, factor_x))
    eigvals = symmetric_eigvals(inner)
    return jnp.sqrt(jnp.clip(eigvals, 0.0)).sum()


def psd_factor(sigma: jax.Array) -> jax.Array:
    """A factor ``F`` with ``F @ F.T == sigma`` for a symmetric PSD matrix.

    The Cholesky factor when it exists; otherwise (singular ``sigma``: fewer
    rows than dimensions, duplicates, constant dimensions)
    ``V diag(sqrt(max(λ, 0)))`` from ``eigh``. On CPU only the branch taken runs.
    """
    chol = jnp.linalg.cholesky(sigma)

    def _eigh_factor(_: jax.Array) -> jax.Array:
        w, v = jnp.linalg.eigh(sigma)
        return v * jnp.sqrt(jnp.clip(w, 0.0))[None, :]

    return lax.cond(jnp.isfinite(chol).all(), lambda c: c, _eigh_factor, chol)


def nuclear_norm(c: jax.Array) -> jax.Array:
    """Sum of the singular values of ``c`` (values only, no vectors)."""
    return jnp.linalg.svd(c, compute_uv=False).sum()
