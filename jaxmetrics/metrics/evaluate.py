"""FD, KD and PRDC of many candidate sets in one call, every argument checked first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
from jax.typing import ArrayLike

from jaxmetrics._src import routing
from jaxmetrics._src import validation as _validation
from jaxmetrics.metrics import frechet as _frechet
from jaxmetrics.metrics import kernel_distance as _kernel_distance
from jaxmetrics.metrics import prdc as _prdc
from jaxmetrics.metrics import sets as _sets
from jaxmetrics.metrics import subsets as _subsets


def evaluate_batch(
    reference: ArrayLike,
    candidates: ArrayLike | Sequence[ArrayLike],
    *,
    counts: ArrayLike | None = None,
    key: jax.Array | None = None,
    k: int = 5,
    num_subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1.0,
    block_size: int = routing.PRDC_BLOCK,
    precision: str = "float64",
    devices: _sets.Devices = None,
) -> dict[str, Any]:
    """FD, KD (polynomial kernel) and PRDC of many candidate sets in one call.

    Exactly :func:`jaxmetrics.frechet_distance_batch`,
    :func:`jaxmetrics.kernel_distance_batch` and :func:`jaxmetrics.prdc_batch`
    with the same arguments, with every argument checked before any of them
    starts.

    Args:
      reference: ``(n, d)`` reference embeddings.
      candidates: ``(s, m, d)`` stack, or a list of ``(m_i, d)`` arrays.
      counts: true row counts of a padded stack.
      key: PRNG key for the KD subsets (default ``jax.random.key(0)``).
      k: PRDC neighbourhood size.
      num_subsets: KD subsets.
      subset_size: KD subset size (reduced as in :func:`jaxmetrics.kernel_distance_batch`).
      degree: polynomial degree.
      gamma: polynomial scale (default ``1 / d``).
      coef0: polynomial offset.
      block_size: PRDC tile edge.
      precision: ``"float64"`` (default) or ``"float32"``.
      devices: as in :func:`jaxmetrics.frechet_distance_batch`.

    Returns:
      ``{"fad": (s,) array, "kernel_distance": KernelDistance, "prdc": PRDC}``.

    References:
      Kilgour et al., arXiv:1812.08466; Bińkowski et al., arXiv:1801.01401;
      Naeem et al., arXiv:2002.09797.
    """
    k = _validation.check_positive_int(k, "k")
    num_subsets = _validation.check_positive_int(num_subsets, "num_subsets")
    subset_size = _validation.check_positive_int(subset_size, "subset_size", minimum=2)
    degree = _validation.check_positive_int(degree, "degree")
    block_size = _validation.check_positive_int(block_size, "block_size", minimum=8)
    need = max(k + 1, 4)
    why = f"for k={k} nearest neighbours and KD subsets"
    reference = _validation.check_embeddings(reference, "reference", min_rows=need, why=why)
    cands, counts = _sets.check_candidates(
        candidates, counts, name="candidates", min_rows=need, why=why
    )
    _validation.check_same_dim(reference, cands, "reference", "candidates")
    subset_size = _subsets.effective_subset_size(reference.shape[0], int(counts.min()), subset_size)
    common = {"counts": counts, "precision": precision, "devices": devices}
    fad = _frechet.frechet_distance_batch(reference, cands, **common)
    kd = _kernel_distance.kernel_distance_batch(
        reference,
        cands,
        key=key,
        num_subsets=num_subsets,
        subset_size=subset_size,
        degree=degree,
        gamma=gamma,
        coef0=coef0,
        **common,
    )
    result = _prdc.prdc_batch(reference, cands, k=k, block_size=block_size, **common)
    return {"fad": fad, "kernel_distance": kd, "prdc": result}
