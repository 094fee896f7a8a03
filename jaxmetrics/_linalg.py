"""Dense linear algebra kernels behind the metrics (traced code only).

Matrix products use ``precision=HIGHEST`` so accelerators never silently drop
to TF32/bfloat16 passes.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
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


def trace_sqrt_product(sigma_x: jax.Array, sigma_y: jax.Array) -> jax.Array:
    r"""Trace of the matrix square root of ``sigma_x @ sigma_y`` for PSD inputs.

    .. math::
       \operatorname{tr}\sqrt{\Sigma_x\Sigma_y} = \lVert F_x^\top F_y\rVert_*
       = \sum_i \sigma_i(F_x^\top F_y),
       \qquad \Sigma_x = F_x F_x^\top,\ \Sigma_y = F_y F_y^\top .

    The eigenvalues of ``Σx Σy`` are those of the symmetric PSD matrix
    ``Fx^T Σy Fx = (Fx^T Fy)(Fx^T Fy)^T``, i.e. the squared singular values
    of ``Fx^T Fy``. Taking the singular values directly (no eigenvectors)
    never squares: each is accurate to ``eps * σmax``, where square roots of
    computed eigenvalues carry ``sqrt(eps * λmax)`` errors for the small ones.
    Measured at d = 1024 (condition 5e4): 7.6e-15 relative error on FAD, against
    5.9e-10 for tridiagonal bisection of ``Fx^T Σy Fx`` and 1.7e-12 for
    ``scipy.linalg.sqrtm``. The result is real and non-negative by
    construction: never complex (``sqrtm``, non-symmetric ``eigvals``), never NaN.

    Args:
      sigma_x: symmetric PSD ``(d, d)`` matrix.
      sigma_y: symmetric PSD ``(d, d)`` matrix.

    Returns:
      A non-negative scalar.
    """
    return nuclear_norm(matmul(psd_factor(sigma_x).T, psd_factor(sigma_y)))


def psd_factor(sigma: jax.Array) -> jax.Array:
    """A factor ``F`` with ``F @ F.T == sigma`` for a symmetric PSD matrix.

    The Cholesky factor when it exists; otherwise (singular ``sigma``: fewer
    rows than dimensions, duplicates, constant dimensions)
    ``V diag(sqrt(max(λ, 0)))`` from ``eigh``. On CPU only the branch taken
    runs (under ``vmap`` both would: callers map sequentially instead).
    """
    sigma = 0.5 * (sigma + sigma.T)
    chol = jnp.linalg.cholesky(sigma)

    def _eigh_factor(_: jax.Array) -> jax.Array:
        w, v = jnp.linalg.eigh(sigma)
        return v * jnp.sqrt(jnp.clip(w, 0.0))[None, :]

    return lax.cond(jnp.isfinite(chol).all(), lambda c: c, _eigh_factor, chol)


def nuclear_norm(c: jax.Array) -> jax.Array:
    """Sum of the singular values of ``c`` (values only, no vectors)."""
    return jnp.linalg.svd(c, compute_uv=False).sum()
