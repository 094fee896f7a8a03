r"""The Fréchet distance from its three terms, and the covariance-factor rule: written once.

.. math::
   d^2 = \lVert\mu_a - \mu_b\rVert^2 + \operatorname{tr}\Sigma_a + \operatorname{tr}\Sigma_b
         - 2 \operatorname{tr}\bigl(\Sigma_a^{1/2}\Sigma_b\Sigma_a^{1/2}\bigr)^{1/2}

(Dowson & Landau 1982; FAD, Kilgour et al. 2019, arXiv:1812.08466). Every
route (jitted, host LAPACK, cross-Gram, batched) computes the three terms
its own way and combines them here. The rule that decides how a
covariance is factored (Cholesky, or eigenvectors when it is singular) is
written here too, once, for the jitted factor and its host-LAPACK twin.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

__all__ = ["PIVOT_FLOOR", "cholesky_is_definite", "root_eigenvalues", "squared_frechet"]

# Cholesky pivots below PIVOT_FLOOR * d * eps * max(diag) mean "singular".
PIVOT_FLOOR = 64


def squared_frechet(mean_gap_sq: Any, traces: Any, cross: Any, xp: Any = jnp) -> Any:
    """``|mu_a - mu_b|^2 + (tr Sa + tr Sb) - 2 cross``, clamped at 0 (NaN stays NaN).

    The terms cancel when the Gaussians are close, so rounding can leave the
    sum slightly below zero; the distance is non-negative by definition.
    ``xp`` is ``jax.numpy`` or ``numpy`` (the host route).
    """
    return xp.maximum(mean_gap_sq + traces - 2.0 * cross, 0.0)


def cholesky_is_definite(sigma: Any, chol: Any, xp: Any = jnp) -> Any:
    """Whether the Cholesky factor ``chol`` of ``sigma`` shows a definite matrix.

    Every pivot ``L_ii^2`` must exceed ``64 d eps max_j sigma_jj``: a
    rank-deficient matrix (fewer rows than dimensions, duplicated rows,
    constant dimensions) can pass Cholesky with pivots at rounding level.
    The trailing pivots of a singular matrix are rounding errors amplified
    by the growth of the Schur complement (32 d eps was seen at d = 3),
    hence the margin. A definite matrix below the floor (condition number
    above ~1e10 at d = 2048) loses nothing by the eigenvector route: only
    speed. ``xp`` is ``jax.numpy`` or ``numpy`` (the host route).
    """
    d = sigma.shape[0]
    floor = PIVOT_FLOOR * d * xp.finfo(sigma.dtype).eps * xp.max(xp.diagonal(sigma))
    pivots = xp.square(xp.diagonal(chol))
    return xp.isfinite(chol).all() & (xp.min(pivots) > floor)


def root_eigenvalues(w: Any, xp: Any = jnp) -> Any:
    """``sqrt(w)`` of a PSD matrix's eigenvalues, those within rounding of zero set to 0.

    Eigenvalues with ``|w| <= d eps max |w|`` are the zero part of the
    spectrum: their square roots (``~sqrt(eps)`` times the scale) would
    otherwise add noise to every later singular value.
    """
    zero = xp.abs(w) <= w.shape[0] * xp.finfo(w.dtype).eps * xp.max(xp.abs(w))
    return xp.sqrt(xp.where(zero, 0.0, xp.clip(w, 0.0, None)))
