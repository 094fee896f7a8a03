r"""Which windows are the problem: per-window diagnostics of a candidate set.

Set-level PRDC says how much of a candidate set lies on the reference
manifold; these are the per-window values it is made of, and two more:

- **ball count** of candidate window :math:`y_j`: the number of reference
  k-NN balls holding it, :math:`c_j = \sum_i 1[y_j \in B_k(x_i)]`. Then
  precision :math:`= \frac1M \sum_j 1[c_j > 0]` and density
  :math:`= \frac{1}{kM}\sum_j c_j` exactly;
- **covered** / **in candidate manifold** for each reference window: its
  ball holds some candidate (coverage is their mean), it lies in some
  candidate ball (recall is their mean);
- **realism score** (Kynkäänniemi et al. 2019, eq. 3):
  :math:`R(y) = \max_i r_k(x_i) / \lVert y - x_i\rVert` over the reference
  windows whose k-NN radius is at most the median radius (the paper drops
  the half with the largest balls, which are the outliers). ``R > 1`` iff
  ``y`` lies inside one of the kept balls;
- **nearest reference** window of each candidate window and its distance,
  and a **likely copy** flag: the distance is below the ``copy_quantile``
  quantile of the reference windows' own nearest-neighbour distances to
  windows of *other* reference files (``reference_groups``). A candidate
  drawn like the references is flagged with probability about
  ``copy_quantile``; a copy of a reference window sits far below.

The memberships come from PRDC's own tiled cross pass, so they are the same
exact decisions as :func:`jaxmetrics.prdc` and sum to its values. Nearest
rows and realism come from one more tiled pass with exact (difference
formula) distances (:mod:`jaxmetrics._src.nearest`): ``N M d`` operations,
no ``N x M`` matrix.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxmetrics._src import ball_membership, knn, routing
from jaxmetrics._src import distance_bounds as _distance_bounds
from jaxmetrics._src import precision as _precision
from jaxmetrics._src import validation as _validation
from jaxmetrics._src.nearest import nearest_rows
from jaxmetrics.metrics import sets as _sets
from jaxmetrics.metrics.prdc import block_for, check_batch_inputs

__all__ = ["WindowDiagnostics", "window_diagnostics", "window_diagnostics_batch"]


class WindowDiagnostics(NamedTuple):
    """Per-window diagnostics of one candidate set (NumPy arrays).

    Attributes:
      ball_count: ``(M,)`` reference k-NN balls holding each candidate window.
      in_manifold: ``(M,)`` ``ball_count > 0`` (precision is its mean).
      realism: ``(M,)`` realism score (``inf`` on a reference window itself).
      nearest: ``(M,)`` index of the nearest reference window.
      nearest_distance: ``(M,)`` its Euclidean distance.
      likely_copy: ``(M,)`` ``nearest_distance < copy_threshold``.
      covered: ``(N,)`` reference windows whose ball holds a candidate (coverage).
      in_candidate_manifold: ``(N,)`` reference windows in some candidate ball (recall).
      reference_nearest: ``(N,)`` nearest reference window of another group (-1: none).
      reference_nearest_distance: ``(N,)`` its distance (``inf``: none).
      copy_threshold: the ``copy_quantile`` of the finite ``reference_nearest_distance``.

    """

    ball_count: np.ndarray
    in_manifold: np.ndarray
    realism: np.ndarray
    nearest: np.ndarray
    nearest_distance: np.ndarray
    likely_copy: np.ndarray
    covered: np.ndarray
    in_candidate_manifold: np.ndarray
    reference_nearest: np.ndarray
    reference_nearest_distance: np.ndarray
    copy_threshold: float


def _median(values: jax.Array) -> jax.Array:
    ordered = jnp.sort(values)
    n = values.shape[0]
    return (ordered[(n - 1) // 2] + ordered[n // 2]) / 2


def _engine(k: int, block: int):
    def reference_part(ref, groups, scaling):
        n = ref.shape[0]
        s = knn.RowSet(ref, jnp.asarray(n, jnp.int32), scaling)
        r2 = knn.knn_sq_radii(s, block, k, None)
        radii = r2[:n]
        eligible = (radii <= _median(radii)) & (radii > 0)
        own = nearest_rows(s, s, block, query_groups=groups, pool_groups=groups)
        return (s, r2, eligible), own.index

    def one_set(shared, y, m):
        ref, r2, eligible = shared
        n, rows = ref.rows.shape[0], y.shape[0]
        cand = knn.RowSet(y, jnp.asarray(m, jnp.int32), ref.scaling)
        cand_r2 = knn.knn_sq_radii(cand, block, k, None)
        member = ball_membership.memberships(ref, cand, r2, cand_r2, block, None)
        near = nearest_rows(cand, ref, block, pool_r2=r2[:n], eligible=eligible)
        return (
            member.ball_count[:rows],
            member.covered[:n],
            member.in_candidate_ball[:n],
            near.index,
            jnp.sqrt(near.ratio),
        )

    return reference_part, one_set


@functools.partial(jax.jit, static_argnames=("k", "block", "dtype", "devices"))
def _diagnose(ref, groups, cands, counts, *, k, block, dtype, devices):
    scaling = _distance_bounds.normalise(ref, cands, counts, dtype)
    reference_part, one_set = _engine(k, block)
    shared, own = reference_part(ref, groups, scaling)
    return own, _sets.map_sets(one_set, shared, [cands, counts], devices)


def _distances(a: np.ndarray, b: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Euclidean distances from the rows of ``a`` to ``b[index]`` in float64 (inf for -1)."""
    found = index >= 0
    gap = a.astype(np.float64) - b[np.maximum(index, 0)].astype(np.float64)
    return np.where(found, np.sqrt(np.einsum("ij,ij->i", gap, gap)), np.inf)


def _check_groups(groups: ArrayLike | None, n: int) -> np.ndarray:
    if groups is None:
        return np.arange(n, dtype=np.int32)
    out = np.asarray(groups)
    if out.shape != (n,) or not np.issubdtype(out.dtype, np.integer):
        raise ValueError(
            f"reference_groups must be ({n},) integers (one group id per reference row), "
            f"got shape {out.shape} and dtype {out.dtype}"
        )
    return out.astype(np.int32)


def window_diagnostics_batch(
    reference: ArrayLike,
    candidates: ArrayLike | Sequence[ArrayLike],
    *,
    counts: ArrayLike | None = None,
    k: int = 5,
    reference_groups: ArrayLike | None = None,
    copy_quantile: float = 0.05,
    block_size: int = routing.PRDC_BLOCK,
    precision: str = "float64",
    devices: _sets.Devices = None,
) -> list[WindowDiagnostics]:
    """:func:`window_diagnostics` of many candidate sets against one reference.

    The reference's radii and own nearest neighbours are computed once.

    Args:
      reference: ``(N, d)`` reference embeddings.
      candidates: ``(s, M, d)`` stack, or a list of ``(M_i, d)`` arrays.
      counts: true row counts of a padded stack.
      k: neighbourhood size, smaller than every set's size.
      reference_groups: ``(N,)`` int file of each reference row (default:
        every row its own group).
      copy_quantile: quantile of the reference's own nearest-neighbour
        distances below which a candidate window is a likely copy.
      block_size: tile edge (the result does not depend on it).
      precision: ``"float64"`` (default) or ``"float32"``.
      devices: as in :func:`jaxmetrics.prdc_batch`.

    Returns:
      One :class:`WindowDiagnostics` per set, cut to its real rows.

    References:
      Naeem et al., arXiv:2002.09797; Kynkäänniemi et al., "Improved
      Precision and Recall Metric for Assessing Generative Models",
      NeurIPS 2019, arXiv:1904.06991.

    """
    k, block_size, reference, cands, counts = check_batch_inputs(
        reference, candidates, counts, k, block_size
    )
    groups = _check_groups(reference_groups, reference.shape[0])
    if not isinstance(copy_quantile, (float, int)) or not 0.0 <= copy_quantile <= 1.0:
        raise ValueError(f"copy_quantile must be a number in [0, 1], got {copy_quantile!r}")
    devices = _sets.resolve_devices(devices)
    ref_np = np.asarray(reference)
    with _precision.precision_scope(precision, False) as dtype:
        lifted_ref, lifted = _distance_bounds.lift_to_normal_range([reference, cands], dtype)
        own, per_set = _diagnose(
            jnp.asarray(lifted_ref),
            jnp.asarray(groups),
            jnp.asarray(lifted),
            jnp.asarray(counts),
            k=k,
            block=block_for(reference.shape[0], cands.shape[1], block_size),
            dtype=dtype,
            devices=devices,
        )
    own = np.asarray(own)
    own_distance = _distances(ref_np, ref_np, own)
    finite = own_distance[np.isfinite(own_distance)]
    threshold = float(np.quantile(finite, copy_quantile)) if finite.size else 0.0
    ball_count, covered, in_cand, nearest, realism = (np.asarray(v) for v in per_set)
    out = []
    for i, m in enumerate(np.asarray(counts).tolist()):
        rows = np.asarray(cands[i][:m])
        distance = _distances(rows, ref_np, nearest[i][:m])
        out.append(
            WindowDiagnostics(
                ball_count=ball_count[i][:m],
                in_manifold=ball_count[i][:m] > 0,
                realism=realism[i][:m],
                nearest=nearest[i][:m],
                nearest_distance=distance,
                likely_copy=distance < threshold,
                covered=covered[i],
                in_candidate_manifold=in_cand[i],
                reference_nearest=own,
                reference_nearest_distance=own_distance,
                copy_threshold=threshold,
            )
        )
    return out


def window_diagnostics(
    reference: ArrayLike,
    candidate: ArrayLike,
    *,
    k: int = 5,
    reference_groups: ArrayLike | None = None,
    copy_quantile: float = 0.05,
    block_size: int = routing.PRDC_BLOCK,
    precision: str = "float64",
) -> WindowDiagnostics:
    """Per-window PRDC memberships, realism score and nearest reference of a candidate set.

    See the module docstring for the definitions. ``ball_count``,
    ``covered`` and ``in_candidate_manifold`` are the exact decisions of
    :func:`jaxmetrics.prdc` with the same ``k``: ``mean(in_manifold)`` is its
    precision, ``mean(ball_count) / k`` its density, ``mean(covered)`` its
    coverage and ``mean(in_candidate_manifold)`` its recall.

    Args:
      reference: ``(N, d)`` reference embeddings.
      candidate: ``(M, d)`` candidate embeddings.
      k: neighbourhood size, ``1 <= k < min(N, M)``.
      reference_groups: ``(N,)`` int file of each reference row; the
        reference's own nearest neighbours (for the copy threshold) are
        taken in other groups. Default: every row its own group.
      copy_quantile: see the module docstring (default 0.05).
      block_size: tile edge (the result does not depend on it).
      precision: ``"float64"`` (default) or ``"float32"``.

    Returns:
      :class:`WindowDiagnostics`.

    Raises:
      TypeError: for non-numeric input.
      ValueError: for wrong shapes, NaN/inf rows, ``k`` too large or bad groups.

    References:
      Naeem et al., arXiv:2002.09797; Kynkäänniemi et al., arXiv:1904.06991.

    Examples:
      >>> import numpy as np
      >>> import jaxmetrics as jm
      >>> rng = np.random.default_rng(0)
      >>> x, y = rng.normal(size=(200, 4)), rng.normal(size=(100, 4))
      >>> d = jm.window_diagnostics(x, y, k=5)
      >>> bool(np.isclose(d.in_manifold.mean(), float(jm.prdc(x, y, k=5).precision)))
      True

    """
    candidate = _validation.check_embeddings(
        candidate, "candidate", min_rows=k + 1 if isinstance(k, int) else 2
    )
    return window_diagnostics_batch(
        reference,
        [candidate],
        k=k,
        reference_groups=reference_groups,
        copy_quantile=copy_quantile,
        block_size=block_size,
        precision=precision,
    )[0]
