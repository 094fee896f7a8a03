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

from jaxmetrics._src import distance_bounds as _distance_bounds
from jaxmetrics._src import knn, routing
from jaxmetrics._src import linalg as _linalg
from jaxmetrics._src import precision as _precision
from jaxmetrics._src import sharding as _sharding
from jaxmetrics._src import validation as _validation
from jaxmetrics._src.distance_bounds import pair_sq_distances
from jaxmetrics.metrics import sets as _sets

__all__ = ["PRDC", "prdc", "prdc_engine", "block_for"]


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


# --------------------------------------------------------------------------
# The cross pass: ball memberships between the sets
# --------------------------------------------------------------------------


def _open_groups(pending: jax.Array) -> jax.Array:
    """``(rows, groups)``: which groups of ``routing.KNN_GROUP`` columns hold an open pair."""
    rows, cols = pending.shape
    groups = -(-cols // routing.KNN_GROUP)
    padded = jnp.pad(pending, ((0, 0), (0, groups * routing.KNN_GROUP - cols)))
    return padded.reshape(rows, groups, routing.KNN_GROUP).any(axis=2)


def _cross_pass(shared, ids, *, block: int):
    """Reference row tiles ``ids`` (-1: skip) against every candidate tile.

    Returns the candidates' ball counts (leading axis 1, summed over
    devices; a candidate is in some reference ball iff its count is
    positive) and per-tile ``in a candidate ball`` / ``covered`` flags of
    the reference rows. Pairs the screen leaves open are settled with the
    difference formula, a few groups of columns at a time (:mod:`routing`).
    """
    ref, cand, r_rad, c_rad = shared
    r_brk, c_brk = _distance_bounds.brackets(r_rad), _distance_bounds.brackets(c_rad)
    lanes = jnp.arange(routing.KNN_GROUP, dtype=jnp.int32)

    def per_ref_tile(cand_count, i):
        live = i >= 0
        i = jnp.maximum(i, 0)
        a = knn.read_tile(ref, block, i)
        a_rad = jnp.where(live, r_rad[i], -jnp.inf)
        a_down = jnp.where(live, r_brk[0][i], -jnp.inf)
        a_up = jnp.where(live, r_brk[1][i], -jnp.inf)

        def per_cand_tile(state, j):
            in_cand_ball, covered, cand_count = state
            b = knn.read_tile(cand, block, j)
            inner = _linalg.matmul(a.screen.rows, b.screen.rows.T)
            low = _distance_bounds.lower(inner, a.screen.low, b.screen.low)
            high = _distance_bounds.upper(inner, a.screen.high, b.screen.high)
            c_ok = b.valid[None, :]
            # cand j in the ball of ref i: certain, or open (neither certain nor excluded)
            in_a = (high < a_down[:, None]) & c_ok
            open_a = ~in_a & (low < a_up[:, None]) & c_ok
            # ref i in the ball of cand j
            in_b = (high < c_brk[0][j][None, :]) & live
            open_b = ~in_b & (low < c_brk[1][j][None, :]) & live
            cand_count = cand_count.at[j].add(in_a.sum(axis=0, dtype=jnp.int32))
            covered = covered | in_a.any(axis=1)
            in_cand_ball = in_cand_ball | in_b.any(axis=1)
            groups = _open_groups(open_a | open_b)

            def settle(st):
                groups, in_cand_ball, covered, cand_count = st
                step = routing.PRDC_SETTLE_GROUPS
                (flat,) = jnp.nonzero(groups.reshape(-1), size=step, fill_value=-1)
                real = flat >= 0
                flat = jnp.maximum(flat, 0)
                r, g = flat // groups.shape[1], flat % groups.shape[1]
                c = g[:, None] * routing.KNN_GROUP + lanes  # (step, group) columns
                inside = real[:, None] & (c < block)
                c = jnp.minimum(c, block - 1)
                rr = jnp.broadcast_to(r[:, None], c.shape)
                d2 = pair_sq_distances(a.exact[r][:, None, :], b.exact[c])
                hit_a = inside & open_a[rr, c] & (d2 < a_rad[rr])
                hit_b = inside & open_b[rr, c] & (d2 < c_rad[j][c])
                return (
                    groups.at[jnp.where(real, r, block), g].set(False, mode="drop"),
                    in_cand_ball.at[rr.reshape(-1)].max(hit_b.reshape(-1)),
                    covered.at[rr.reshape(-1)].max(hit_a.reshape(-1)),
                    cand_count.at[j, c.reshape(-1)].add(hit_a.reshape(-1).astype(jnp.int32)),
                )

            _, in_cand_ball, covered, cand_count = lax.while_loop(
                lambda st: st[0].any(), settle, (groups, in_cand_ball, covered, cand_count)
            )
            return (in_cand_ball, covered, cand_count), None

        init = (jnp.zeros((block,), bool), jnp.zeros((block,), bool), cand_count)
        (in_cand_ball, covered, cand_count), _ = lax.scan(
            per_cand_tile, init, jnp.arange(knn.num_tiles(cand, block))
        )
        return cand_count, (in_cand_ball, covered)

    init = jnp.zeros((knn.num_tiles(cand, block), block), jnp.int32)
    cand_count, per_tile = lax.scan(per_ref_tile, init, ids)
    return cand_count[None], per_tile


def _metrics(cand_count, ref_in_ball, covered, r_valid, c_valid, sizes) -> PRDC:
    """The four metrics from the per-point flags and counts (masked to real rows).

    ``sizes`` holds ``(N, M, 1/k)`` as a traced array: dividing by a traced
    value keeps IEEE division, where XLA would turn a division by a constant
    into a multiplication by its reciprocal (1 ulp off the prdc package).
    """
    # A barrier: inside a caller's jit the sizes are constants, and XLA would
    # turn the divisions into multiplications by reciprocals (1 ulp off).
    n, m, inv_k = lax.optimization_barrier((sizes[0], sizes[1], sizes[2]))
    dtype = sizes.dtype
    cand_count = jnp.where(c_valid, cand_count, 0)
    precision = jnp.sum(cand_count > 0, dtype=dtype) / m
    # Same order of operations as the prdc package: (1/k) * mean(counts).
    density = inv_k * (jnp.sum(cand_count, dtype=dtype) / m)
    recall = jnp.sum(ref_in_ball & r_valid, dtype=dtype) / n
    coverage = jnp.sum(covered & r_valid, dtype=dtype) / n
    return PRDC(precision, recall, density, coverage)


def _cross(ref: knn.RowSet, cand: knn.RowSet, ref_r2, cand_r2, sizes, block: int, devices) -> PRDC:
    num_r, num_c = knn.num_tiles(ref, block), knn.num_tiles(cand, block)
    shared = (ref, cand, ref_r2.reshape(num_r, block), cand_r2.reshape(num_c, block))
    cand_count, (ref_in_ball, covered) = _sharding.map_over_shards(
        functools.partial(_cross_pass, block=block),
        shared,
        [jnp.arange(num_r)],
        _sharding.as_list(devices),
        fill=-1,
    )
    at_r = jnp.arange(num_r * block).reshape(num_r, block)
    at_c = jnp.arange(num_c * block).reshape(num_c, block)
    return _metrics(
        cand_count.sum(axis=0),
        ref_in_ball[:num_r],
        covered[:num_r],
        at_r < ref.count,
        at_c < cand.count,
        sizes,
    )


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
    k = _validation.check_positive_int(k, "k")
    block_size = _validation.check_positive_int(block_size, "block_size", minimum=8)
    reference = _validation.check_embeddings(
        reference, "reference", min_rows=k + 1, why=f"for k={k} nearest neighbours"
    )
    cands, counts = _sets.check_candidates(
        candidates, counts, name="candidates", min_rows=k + 1, why=f"for k={k} nearest neighbours"
    )
    _validation.check_same_dim(reference, cands, "reference", "candidates")
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
