"""Synthetic embedding sets with a known, increasing degradation (demo and notebooks)."""

from __future__ import annotations

import numpy as np


def degraded_embedding_sets(
    *,
    num_rows: int = 2000,
    dim: int = 128,
    levels: tuple[float, ...] = (0.0, 0.1, 0.25, 0.5, 1.0),
    seed: int = 0,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A reference set and candidate sets drifting away from it by known amounts.

    The reference is drawn from a Gaussian with a decaying spectrum (like real
    audio embeddings). Candidate ``level`` is a fresh sample of the same
    distribution whose mean moves by ``level`` along the 8 leading directions
    and which collapses a fraction ``level / 2`` of its rows onto 4 modes: FAD
    and KD grow with ``level``; precision, recall, density and coverage fall
    overall (between close levels, sampling noise can reorder them).

    Args:
      num_rows: rows per set.
      dim: embedding dimension.
      levels: degradation levels; 0 is a clean sample of the reference distribution.
      seed: numpy seed.

    Returns:
      ``(reference, {"level=...": candidate, ...})``, float32 arrays.

    """
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    scales = np.sqrt(np.geomspace(1.0, 1e-2, dim))

    def sample(n: int) -> np.ndarray:
        return (rng.normal(size=(n, dim)) * scales) @ basis.T

    reference = sample(num_rows)
    candidates = {}
    for level in levels:
        z = sample(num_rows) + level * basis[:, :8].sum(axis=1)
        collapsed = int(num_rows * level / 2)
        if collapsed:
            modes = z[rng.integers(0, 4, size=collapsed)]
            z[:collapsed] = modes + 0.01 * sample(collapsed)
        candidates[f"level={level:g}"] = z.astype(np.float32)
    return reference.astype(np.float32), candidates
