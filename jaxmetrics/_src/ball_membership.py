"""Ball memberships between two sets: the cross pass of PRDC, per point.

For a reference and a candidate set with their exact k-NN squared radii
(:func:`jaxmetrics._src.knn.knn_sq_radii`), one tiled pass gives, exactly,

- for each candidate row, the number of reference balls holding it
  (precision counts the rows with a positive count, density sums them);
- for each reference row, whether it lies in some candidate ball (recall)
  and whether its own ball holds some candidate (coverage).

Ball membership is strict (``d2 < r2``) on the difference-formula distance
of :func:`jaxmetrics._src.distance_bounds.pair_sq_distances`. Tiles are
screened with float32 inner products and a rigorous bound; only the pairs
the bound leaves open are settled with the difference formula, a few
groups of columns at a time (:mod:`jaxmetrics._src.routing`). No ``N x M``
matrix is formed.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from jaxmetrics._src import distance_bounds as _distance_bounds
from jaxmetrics._src import knn, routing
from jaxmetrics._src import linalg as _linalg
from jaxmetrics._src import sharding as _sharding
from jaxmetrics._src.distance_bounds import pair_sq_distances

__all__ = ["Memberships", "memberships"]


class Memberships(NamedTuple):
    """Per-point ball memberships (padding rows: 0 / False).

    Attributes:
      ball_count: ``(tiles * block,)`` int32, reference balls holding each candidate row.
      in_candidate_ball: ``(tiles * block,)`` bool, reference rows inside some candidate ball.
      covered: ``(tiles * block,)`` bool, reference rows whose ball holds some candidate.

    """

    ball_count: jax.Array
    in_candidate_ball: jax.Array
    covered: jax.Array


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


def memberships(
    ref: knn.RowSet, cand: knn.RowSet, ref_r2: jax.Array, cand_r2: jax.Array, block: int, devices
) -> Memberships:
    """The :class:`Memberships` of ``cand`` against ``ref`` (radii from ``knn_sq_radii``).

    Reference row tiles are spread over ``devices`` (``jax.shard_map``);
    the counts are summed over them, so the result does not depend on it.
    """
    num_r, num_c = knn.num_tiles(ref, block), knn.num_tiles(cand, block)
    shared = (ref, cand, ref_r2.reshape(num_r, block), cand_r2.reshape(num_c, block))
    cand_count, (ref_in_ball, covered) = _sharding.map_over_shards(
        functools.partial(_cross_pass, block=block),
        shared,
        [jnp.arange(num_r)],
        _sharding.as_list(devices),
        fill=-1,
    )
    at_r = jnp.arange(num_r * block)
    at_c = jnp.arange(num_c * block)
    real_r = at_r < ref.count
    return Memberships(
        jnp.where(at_c < cand.count, cand_count.sum(axis=0).reshape(-1), 0),
        ref_in_ball[:num_r].reshape(-1) & real_r,
        covered[:num_r].reshape(-1) & real_r,
    )
