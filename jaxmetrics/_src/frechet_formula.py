r"""The Fréchet distance between two Gaussians from its three terms, written once.

.. math::
   d^2 = \lVert\mu_a - \mu_b\rVert^2 + \operatorname{tr}\Sigma_a + \operatorname{tr}\Sigma_b
         - 2 \operatorname{tr}\bigl(\Sigma_a^{1/2}\Sigma_b\Sigma_a^{1/2}\bigr)^{1/2}

(Dowson & Landau 1982; FAD, Kilgour et al. 2019, arXiv:1812.08466). Every
route (jitted, host LAPACK, cross-Gram, batched) computes the three terms
its own way and combines them here.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

__all__ = ["squared_frechet"]


def squared_frechet(mean_gap_sq: Any, traces: Any, cross: Any, xp: Any = jnp) -> Any:
    """``|mu_a - mu_b|^2 + (tr Sa + tr Sb) - 2 cross``, clamped at 0 (NaN stays NaN).

    The terms cancel when the Gaussians are close, so rounding can leave the
    sum slightly below zero; the distance is non-negative by definition.
    ``xp`` is ``jax.numpy`` or ``numpy`` (the host route).
    """
    return xp.maximum(mean_gap_sq + traces - 2.0 * cross, 0.0)
