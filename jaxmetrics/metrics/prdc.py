"""Precision, recall, density and coverage from k-NN balls (Naeem et al. 2020).

Every decision PRDC makes compares two squared distances: a distance with a
k-NN radius (ball membership), or distances with each other (which neighbour
is the k-th). Here each such distance has one definition, the *difference
formula* of :func:`pair_sq_distances`: the coordinate differences squared and
summed in a fixed pairwise order, on data scaled by a power of two. It is the
same bits for a pair whichever tile, block size, device or batch the pair is
met in, it is exact when the data lie on a grid (integer or coarse dyadic
data, duplicated rows, exactly shifted sets), it is invariant under exact
translations and power-of-two scalings, and it never overflows or
underflows for finite input.

Computing it for all ``N x M`` pairs would be slow, so the tiles are first
screened with float32 inner products of centred rows and a rigorous bound
(:mod:`jaxmetrics._src.distance_bounds`) that encloses the difference-formula
value. Only decisions that the bound leaves open are settled with the
difference formula, pair by pair. No ``N x M`` matrix is ever formed, and
no copy of a whole set either: each tile is read from the caller's rows,
scaled and centred when it is visited, so memory beyond the input is a
few tiles and a few numbers per row.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.typing import ArrayLike

from jaxmetrics._src import ball_membership as _ball_membership
from jaxmetrics._src import distance_bounds as _distance_bounds
from jaxmetrics._src import knn, routing
from jaxmetrics._src import precision as _precision
from jaxmetrics._src import validation as _validation
from jaxmetrics.metrics import sets as _sets

__all__ = ["PRDC", "block_for", "check_batch_inputs", "prdc", "prdc_engine"]


class PRDC(NamedTuple):
    """The four k-NN manifold metrics of Naeem et al. (2020).

    Attributes:
      precision: fraction of candidates inside some reference k-NN ball.
      recall: fraction of references inside some candidate k-NN ball.
      density: mean number of reference balls holding a candidate, over ``k``.
      coverage: fraction of reference balls that hold at least one candidate.

    """

    precision: jax.Array
    recall: jax.Array
    density: jax.Array
    coverage: jax.Array


def _metrics(cand_count, ref_in_ball, covered, sizes) -> PRDC:
    """The four metrics from the per-point counts and flags (zero/False on padding rows).

    ``sizes`` holds ``(N, M, 1/k)`` as a traced array: dividing by a traced
    value keeps IEEE division, where XLA would turn a division by a constant
    into a multiplication by its reciprocal (1 ulp off the prdc package).
    """
    # A barrier: inside a caller's jit the sizes are constants, and XLA would
    # turn the divisions into multiplications by reciprocals (1 ulp off).
    n, m, inv_k = lax.optimization_barrier((sizes[0], sizes[1], sizes[2]))
    dtype = sizes.dtype
    precision = jnp.sum(cand_count > 0, dtype=dtype) / m
    # Same order of operations as the prdc package: (1/k) * mean(counts).
    density = inv_k * (jnp.sum(cand_count, dtype=dtype) / m)
    recall = jnp.sum(ref_in_ball, dtype=dtype) / n
    coverage = jnp.sum(covered, dtype=dtype) / n
    return PRDC(precision, recall, density, coverage)


def _cross(ref: knn.RowSet, cand: knn.RowSet, ref_r2, cand_r2, sizes, block: int, devices) -> PRDC:
    m = _ball_membership.memberships(ref, cand, ref_r2, cand_r2, block, devices)
    return _metrics(m.ball_count, m.in_candidate_ball, m.covered, sizes)


# --------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------


def prdc_engine(k: int, block: int, devices):
    """The PRDC computation for one reference and any number of candidate sets.

    Returns ``(reference_part, one_set)``: ``reference_part(ref, scaling)``
    computes the reference radii once (``scaling`` from
    :func:`jaxmetrics._src.distance_bounds.normalise`, shared by all sets);
    ``one_set(shared, y, m, sizes)`` gives the :class:`PRDC` of one
    candidate set ``y`` whose first ``m`` rows are real. Rows are used as
    given (unscaled, any float dtype) and read tile by tile.
    Used inside jit by :func:`prdc` and :func:`jaxmetrics.prdc_batch`.
    """

    def reference_part(ref, scaling):
        s = knn.RowSet(ref, jnp.asarray(ref.shape[0], jnp.int32), scaling)
        return s, knn.knn_sq_radii(s, block, k, devices)

    def one_set(shared, y, m, sizes):
        ref_s, ref_r2 = shared
        s = knn.RowSet(y, jnp.asarray(m, jnp.int32), ref_s.scaling)
        cand_r2 = knn.knn_sq_radii(s, block, k, devices)
        return _cross(ref_s, s, ref_r2, cand_r2, sizes, block, devices)

    return reference_part, one_set


@functools.partial(jax.jit, static_argnames=("k", "block", "dtype", "devices"))
def _prdc(ref, cand, sizes, *, k, block, dtype, devices) -> PRDC:
    scaling = _distance_bounds.normalise(ref, cand[None], jnp.asarray([cand.shape[0]]), dtype)
    reference_part, one_set = prdc_engine(k, block, devices)
    return one_set(reference_part(ref, scaling), cand, cand.shape[0], sizes.astype(dtype))


def block_for(n: int, m: int, block_size: int) -> int:
    """The tile edge for sets of ``n`` and ``m`` rows: never wider than the data."""
    return max(8, min(block_size, max(n, m)))


def prdc(
    reference: ArrayLike,
    candidate: ArrayLike,
    *,
    k: int = 5,
    block_size: int = routing.PRDC_BLOCK,
    precision: str = "float64",
    devices: _sets.Devices = None,
) -> PRDC:
    r"""Precision, recall, density and coverage of a candidate set.

    With :math:`B_k(x)` the ball around ``x`` whose radius is the distance to
    its k-th nearest other point of the same set (strict ``<`` membership):

    .. math::
       \mathrm{precision} = \frac1M\sum_j 1[\exists i: y_j\in B_k(x_i)],\quad
       \mathrm{recall} = \frac1N\sum_i 1[\exists j: x_i\in B_k(y_j)],

       \mathrm{density} = \frac{1}{kM}\sum_j\sum_i 1[y_j\in B_k(x_i)],\quad
       \mathrm{coverage} = \frac1N\sum_i 1[\exists j: y_j\in B_k(x_i)]

    as the ``prdc`` package defines them. Every comparison is made on one
    definition of the squared distance, the differences of the coordinates
    squared and summed in a fixed pairwise order (after scaling both sets by
    the same power of two). That makes every decision exact on grid data
    (integers, coarse dyadic values), duplicated rows and exactly shifted
    sets, and otherwise exact up to a relative ``(log2(d) + 3) 2^-53`` near
    a radius; the result never depends on ``block_size``, padding, devices,
    the input dtype, a common exact translation or the row order.
    Distances are screened tile by tile with float32 products and a
    rigorous error bound, so no ``N x M`` matrix is formed and only the few
    comparisons the bound cannot decide are computed from differences.

    Args:
      reference: ``(N, d)`` real embeddings.
      candidate: ``(M, d)`` generated embeddings.
      k: neighbourhood size, ``1 <= k < min(N, M)``; static.
      block_size: tile edge (memory is a few ``block_size^2`` floats); the
        result does not depend on it. The default was chosen with
        ``benchmarks/bench_choices.py --sections prdc-block``.
      precision: ``"float64"`` (default) or ``"float32"`` (distances from
        float32 differences: decisions within ~1e-6 relative of a radius can
        differ from exact arithmetic).
      devices: ``None`` (default device), ``"all"`` local devices or a list of
        devices: row tiles of every pass are spread over them
        (``jax.shard_map``); the result is identical.

    Returns:
      :class:`PRDC` of four scalars.

    Raises:
      TypeError: for non-numeric input.
      ValueError: for wrong shapes, NaN/inf rows, or ``k >= `` a set's size.

    References:
      Naeem et al., "Reliable Fidelity and Diversity Metrics for Generative
      Models", ICML 2020, arXiv:2002.09797.

    Examples:
      >>> import numpy as np
      >>> import jaxmetrics as jm
      >>> x = np.random.default_rng(0).normal(size=(300, 8))
      >>> result = jm.prdc(x, x, k=5)
      >>> float(result.precision), float(result.recall), float(result.coverage)
      (1.0, 1.0, 1.0)

    """
    k = _validation.check_positive_int(k, "k")
    block_size = _validation.check_positive_int(block_size, "block_size", minimum=8)
    reference = _validation.check_embeddings(reference, "reference")
    candidate = _validation.check_embeddings(candidate, "candidate")
    _validation.check_same_dim(reference, candidate, "reference", "candidate")
    for name, arr in (("reference", reference), ("candidate", candidate)):
        if k >= arr.shape[0]:
            raise ValueError(
                f"k={k} must be smaller than the number of {name} rows ({arr.shape[0]}): "
                "each point needs k other points for its k-NN radius"
            )
    n, m = reference.shape[0], candidate.shape[0]
    devices = _sets.resolve_devices(devices)
    with _precision.precision_scope(
        precision, _validation.is_traced(reference, candidate)
    ) as dtype:
        reference, candidate = _distance_bounds.lift_to_normal_range([reference, candidate], dtype)
        return _prdc(
            jnp.asarray(reference),
            jnp.asarray(candidate),
            jnp.asarray([n, m, 1.0 / k], dtype),
            k=k,
            block=block_for(n, m, block_size),
            dtype=dtype,
            devices=devices,
        )


@functools.partial(jax.jit, static_argnames=("k", "block", "dtype", "devices"))
def _prdc_batch(ref, cands, counts, ref_sizes, *, k, block, dtype, devices):
    # ref_sizes = (N, 1/k) arrives as a traced argument so the final divisions
    # stay IEEE divisions, as in the single call. One power-of-two scale and
    # one centre serve the reference and every set, so each set's decisions
    # are those of the single call.
    scaling = _distance_bounds.normalise(ref, cands, counts, dtype)
    reference_part, one_set = prdc_engine(k, block, None)
    n, inv_k = ref_sizes[0].astype(dtype), ref_sizes[1].astype(dtype)

    def one(shared, y, m):
        return one_set(shared, y, m, jnp.stack([n, m.astype(dtype), inv_k]))

    return _sets.map_sets(one, reference_part(ref, scaling), [cands, counts], devices)


def check_batch_inputs(reference, candidates, counts, k, block_size):
    """The checks of the k-NN batched forms: ``(k, block_size, reference, stack, counts)``.

    Raises the ``TypeError``/``ValueError`` of :func:`prdc`, naming the
    argument, for a bad ``k`` or ``block_size``, sets with ``k`` rows or
    fewer, or different dimensions.
    """
    k = _validation.check_positive_int(k, "k")
    block_size = _validation.check_positive_int(block_size, "block_size", minimum=8)
    why = f"for k={k} nearest neighbours"
    reference = _validation.check_embeddings(reference, "reference", min_rows=k + 1, why=why)
    cands, counts = _sets.check_candidates(
        candidates, counts, name="candidates", min_rows=k + 1, why=why
    )
    _validation.check_same_dim(reference, cands, "reference", "candidates")
    return k, block_size, reference, cands, counts


def prdc_batch(
    reference: ArrayLike,
    candidates: ArrayLike | Sequence[ArrayLike],
    *,
    counts: ArrayLike | None = None,
    k: int = 5,
    block_size: int = routing.PRDC_BLOCK,
    precision: str = "float64",
    devices: _sets.Devices = None,
) -> PRDC:
    """Precision, recall, density and coverage of many candidate sets.

    The reference k-NN radii are computed once; each set then costs its own
    radii and one tiled pass against the reference (see :func:`prdc`).

    Args:
      reference: ``(N, d)`` reference embeddings.
      candidates: ``(s, M, d)`` stack, or a list of ``(M_i, d)`` arrays.
      counts: true row counts of a padded stack.
      k: neighbourhood size, smaller than every set's size.
      block_size: tile edge.
      precision: ``"float64"`` (default) or ``"float32"``.
      devices: as in :func:`jaxmetrics.frechet_distance_batch`.

    Returns:
      :class:`PRDC` whose fields are ``(s,)`` arrays.

    References:
      Naeem et al., arXiv:2002.09797.

    """
    k, block_size, reference, cands, counts = check_batch_inputs(
        reference, candidates, counts, k, block_size
    )
    devices = _sets.resolve_devices(devices)
    with _precision.precision_scope(precision, False) as dtype:
        reference, cands = _distance_bounds.lift_to_normal_range([reference, cands], dtype)
        return _prdc_batch(
            jnp.asarray(reference),
            jnp.asarray(cands),
            jnp.asarray(counts),
            jnp.asarray([reference.shape[0], 1.0 / k], dtype),
            k=k,
            block=block_for(reference.shape[0], cands.shape[1], block_size),
            dtype=dtype,
            devices=devices,
        )
