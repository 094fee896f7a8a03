"""Nearest rows across two sets, and the realism ratio, from exact distances.

For every query row, one pass over the pool's tiles gives

- the index of the nearest pool row (the first one on ties) and its squared
  distance, optionally ignoring pool rows of the query row's own group
  (the windows of one file);
- the largest ratio ``r2_i / d2_i`` over the pool rows ``i`` marked
  eligible, ``r2_i`` being a squared k-NN radius: the square of the realism
  score of Kynkäänniemi et al. (2019).

Every distance is the difference-formula value of
:func:`jaxmetrics._src.distance_bounds.pair_sq_distances` (the one PRDC's
decisions use), computed for every pair: the pass costs ``N M d``
operations, a few query rows times one pool tile in memory at a time; no
``N x M`` matrix is formed.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from jaxmetrics._src import knn
from jaxmetrics._src.distance_bounds import pair_sq_distances

__all__ = ["QUERY_ROWS", "Nearest", "nearest_rows"]

QUERY_ROWS = 32  # query rows per step: memory is QUERY_ROWS x block x d values


class Nearest(NamedTuple):
    """Per query row (padding rows: index -1, distance inf, ratio 0)."""

    index: jax.Array  # int32 nearest pool row, -1 if none
    sq_distance: jax.Array  # its squared distance (scaled rows), inf if none
    ratio: jax.Array  # max r2_i / d2_i over eligible pool rows (inf when some d2_i = 0)


def nearest_rows(
    query: knn.RowSet,
    pool: knn.RowSet,
    block: int,
    *,
    pool_r2: jax.Array | None = None,
    eligible: jax.Array | None = None,
    query_groups: jax.Array | None = None,
    pool_groups: jax.Array | None = None,
) -> Nearest:
    """:class:`Nearest` of every query row against the pool.

    Args:
      query: the rows searched for (``(n, d)`` with ``count`` real rows).
      pool: the rows searched in, read ``block`` rows at a time.
      block: pool rows per tile.
      pool_r2: ``(pool rows,)`` squared radii for the ratio (default: no ratio, 0).
      eligible: ``(pool rows,)`` bool, the pool rows the ratio is taken over.
      query_groups: int group of each query row; with ``pool_groups``, a
        query row never meets a pool row of its own group (nor, so, itself).
      pool_groups: int group of each pool row.

    """
    n = query.rows.shape[0]
    steps = -(-n // QUERY_ROWS)
    num_pool = knn.num_tiles(pool, block)
    total = num_pool * block

    def padded(values, fill):
        return jnp.full((total,), fill, values.dtype).at[: values.shape[0]].set(values)

    r2 = padded(pool_r2, 0.0) if pool_r2 is not None else None
    ok_ratio = padded(eligible, False) if eligible is not None else None
    grouped = query_groups is not None and pool_groups is not None
    p_groups = padded(pool_groups, -1) if grouped else None

    def per_step(s):
        ids = s * QUERY_ROWS + jnp.arange(QUERY_ROWS, dtype=jnp.int32)
        rows = knn.read_rows(query, ids)
        live = ids < query.count
        q_groups = query_groups[jnp.clip(ids, 0, n - 1)] if grouped else None

        def per_tile(state, j):
            best_d2, best_i, best_ratio = state
            t = knn.read_tile(pool, block, j)
            cols = j * block + jnp.arange(block, dtype=jnp.int32)
            d2 = pair_sq_distances(rows[:, None, :], t.exact[None, :, :])
            ok = t.valid[None, :] & live[:, None]
            if grouped:
                ok = ok & (q_groups[:, None] != p_groups[cols][None, :])
            d2_ok = jnp.where(ok, d2, jnp.inf)
            low = d2_ok.min(axis=1)
            at = jnp.min(jnp.where(d2_ok == low[:, None], cols, total), axis=1)
            better = low < best_d2  # strict: the first tile's index wins ties
            best_i = jnp.where(better, at, best_i)
            best_d2 = jnp.where(better, low, best_d2)
            if r2 is not None:
                use = ok & ok_ratio[cols][None, :]
                r = r2[cols][None, :]
                # a zero distance to a non-empty ball: inf; to an empty one (r2 = 0): 0
                ratio = jnp.where(
                    d2 > 0, r / jnp.where(d2 > 0, d2, 1.0), jnp.where(r > 0, jnp.inf, 0.0)
                )
                best_ratio = jnp.maximum(best_ratio, jnp.where(use, ratio, 0.0).max(axis=1))
            return (best_d2, best_i, best_ratio), None

        dtype = rows.dtype
        init = (
            jnp.full((QUERY_ROWS,), jnp.inf, dtype),
            jnp.full((QUERY_ROWS,), -1, jnp.int32),
            jnp.zeros((QUERY_ROWS,), dtype),
        )
        (best_d2, best_i, best_ratio), _ = lax.scan(
            per_tile, init, jnp.arange(num_pool, dtype=jnp.int32)
        )
        return best_i, best_d2, best_ratio

    index, sq_distance, ratio = lax.map(per_step, jnp.arange(steps, dtype=jnp.int32))
    return Nearest(index.reshape(-1)[:n], sq_distance.reshape(-1)[:n], ratio.reshape(-1)[:n])
