"""Exact k-nearest-neighbour radii of a set, read tile by tile (the k-NN half of PRDC).

The radius of a row is the squared distance, by the difference formula of
:func:`jaxmetrics._src.distance_bounds.pair_sq_distances`, to its k-th
nearest *other* row (duplicates count, at distance 0, as in the ``prdc``
package). Tiles are screened with float32 lower bounds; each row keeps a
few candidates and a *floor* below every column it dropped, so a radius is
accepted only when nothing dropped can be nearer, and recomputed exactly
otherwise. A set is the caller's rows plus a power-of-two scaling: no copy
of a whole set is made.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxmetrics._src import distance_bounds as _distance_bounds
from jaxmetrics._src import linalg as _linalg
from jaxmetrics._src import routing
from jaxmetrics._src import sharding as _sharding
from jaxmetrics._src.distance_bounds import pair_sq_distances

__all__ = ["RowSet", "Tile", "knn_sq_radii", "num_tiles", "read_rows", "read_tile"]

_BIG = float(np.finfo(np.float32).max)  # "no candidate" in float32 lower bounds


class RowSet(NamedTuple):
    """One set of rows, read a tile at a time: no copy of the whole set is made.

    ``rows`` are the caller's rows as given (any float dtype, unscaled; rows
    from ``count`` on are padding). The difference formula sees
    ``scaled(rows)``; the screening sees those rows centred, in float32,
    built for each tile when the tile is visited.
    """

    rows: jax.Array  # (n, d)
    count: jax.Array  # () int32: real rows
    scaling: _distance_bounds.Scaling


class Tile(NamedTuple):
    exact: jax.Array  # (block, d) working dtype, scaled; padding rows are 0
    screen: _distance_bounds.Screen  # float32 centred rows and bound offsets
    valid: jax.Array  # (block,) bool: real rows


def num_tiles(s: RowSet, block: int) -> int:
    return -(-s.rows.shape[0] // block)


def read_rows(s: RowSet, ids: jax.Array) -> jax.Array:
    """Scaled rows ``ids`` of ``s`` (padding and ``-1`` give zero rows)."""
    n = s.rows.shape[0]
    real = (ids >= 0) & (ids < s.count)
    rows = _distance_bounds.scaled(s.rows[jnp.clip(ids, 0, n - 1)], s.scaling)
    return jnp.where(real[..., None], rows, 0.0)


def read_tile(s: RowSet, block: int, i: jax.Array) -> Tile:
    """Row tile ``i`` of ``s``: its scaled rows, their screen, and which are real."""
    at = i * block + jnp.arange(block, dtype=jnp.int32)
    exact = read_rows(s, at)
    return Tile(exact, _distance_bounds.screen(exact, s.scaling.mu), at < s.count)


# --------------------------------------------------------------------------
# Candidate selection: a sound superset of each row's nearest rows
# --------------------------------------------------------------------------


def _smallest(values: jax.Array, index: jax.Array, width: int):
    """The ``width`` smallest ``values`` of each row, their indices, and the rest's minimum.

    ``width`` rounds of (minimum, its first position, remove that one
    entry): ties are taken one entry at a time, so the result is right
    whatever the ties. Returns ``(values, index, rest)`` with ``rest <=``
    every entry not returned; once a row runs out of finite values, the
    slots left get ``(inf, -1)``. (Reductions and selects only: XLA:CPU
    runs argmin and scatters several times slower than min reductions.)
    """
    picked_v, picked_i = [], []
    width_in = values.shape[1]
    cols = jnp.arange(width_in, dtype=jnp.int32)[None, :]
    for _ in range(width):
        low = values.min(axis=1, keepdims=True)
        at = jnp.min(jnp.where(values == low, cols, width_in), axis=1, keepdims=True)
        hit = cols == at
        picked_v.append(low[:, 0])
        taken = jnp.max(jnp.where(hit, index, -1), axis=1)
        picked_i.append(jnp.where(low[:, 0] < jnp.inf, taken, -1))
        values = jnp.where(hit, jnp.inf, values)
    return jnp.stack(picked_v, 1), jnp.stack(picked_i, 1), values.min(axis=1)


def _merge_candidates(low, first, kept_v, kept_i, floor):
    """Fold a tile's lower bounds into each line's kept candidates.

    ``low`` is ``(lines, width)`` float32: lower bounds of the
    difference-formula distance from each line's row to the tile's columns
    (``_BIG`` for none). ``kept_v, kept_i`` are the line's ``W`` kept
    candidates (lower bounds and column indices, ``first`` being the tile's
    first column index), and ``floor`` a lower bound of every candidate not
    kept. Only ``W`` groups of 32 columns, those with the smallest minima,
    are read again; the other groups' minima go into ``floor``. So after
    every tile, each column of the set seen so far is either kept or has a
    lower bound ``>= floor``, exactly, whatever the ties.
    """
    lines, width = low.shape
    keep = kept_v.shape[1]
    groups = -(-width // routing.KNN_GROUP)
    columns = first + jnp.arange(width, dtype=jnp.int32)
    if groups <= keep:
        fresh_v, fresh_i = low, jnp.broadcast_to(columns, low.shape)
        rest = jnp.full((lines,), jnp.inf, kept_v.dtype)
    else:
        pad = groups * routing.KNN_GROUP - width
        grouped = jnp.pad(low, ((0, 0), (0, pad)), constant_values=_BIG)
        grouped = grouped.reshape(lines, groups, routing.KNN_GROUP)
        minima = grouped.min(axis=2)
        group_ids = jnp.broadcast_to(jnp.arange(groups, dtype=jnp.int32), minima.shape)
        _, picked, rest = _smallest(minima, group_ids, keep)
        chosen = jnp.take_along_axis(grouped, jnp.maximum(picked, 0)[:, :, None], axis=1)
        fresh_v = chosen.reshape(lines, keep * routing.KNN_GROUP)
        lanes = jnp.arange(routing.KNN_GROUP, dtype=jnp.int32)
        cols = first + picked[:, :, None] * routing.KNN_GROUP + lanes
        fresh_i = cols.reshape(lines, keep * routing.KNN_GROUP)
    none = fresh_v >= _BIG  # padding, the row itself: no candidate at all
    fresh_v = jnp.where(none, jnp.inf, fresh_v)
    fresh_i = jnp.where(none, -1, fresh_i)
    values = jnp.concatenate([kept_v, fresh_v], axis=1)
    index = jnp.concatenate([kept_i, fresh_i], axis=1)
    kept_v, kept_i, dropped = _smallest(values, index, keep)
    return kept_v, kept_i, jnp.minimum(floor, jnp.minimum(rest, dropped))


def _k_smallest(values: jax.Array, k: int) -> jax.Array:
    """The ``k`` smallest entries of each row, ascending, ties kept with multiplicity.

    ``k`` rounds of (minimum, count of entries equal to it, mask them).
    """
    lines = values.shape[0]
    slots = jnp.arange(k)[None, :]
    out = jnp.full((lines, k), jnp.inf, values.dtype)
    filled = jnp.zeros((lines, 1), jnp.int32)
    for _ in range(k):
        low = values.min(axis=1, keepdims=True)
        hit = values == low
        count = hit.sum(axis=1, dtype=jnp.int32).reshape(lines, 1)
        out = jnp.where((slots >= filled) & (slots < filled + count), low, out)
        filled = filled + count
        values = jnp.where(hit, jnp.inf, values)
    return out


# --------------------------------------------------------------------------
# k-NN radii
# --------------------------------------------------------------------------


def _candidates(s: RowSet, block: int, keep: int, devices):
    """Per row: ``keep`` candidate neighbours and a lower bound of all the others.

    Distances are symmetric, so only tiles on and above the diagonal are
    computed; each updates its rows (along rows) and its columns' rows
    (along columns). A row never has itself as a candidate.
    """
    num = num_tiles(s, block)
    rows_i, rows_j = np.triu_indices(num)
    pairs = jnp.asarray(np.stack([rows_i, rows_j], axis=1), jnp.int32)
    f32 = jnp.float32

    def per_pair(state, pair):
        i, j = pair[0], pair[1]
        live = i >= 0
        i, j = jnp.maximum(i, 0), jnp.maximum(j, 0)
        a, b = read_tile(s, block, i), read_tile(s, block, j)
        inner = _linalg.matmul(a.screen.rows, b.screen.rows.T)
        low = _distance_bounds.lower(inner, a.screen.low, b.screen.low)
        mask = a.valid[:, None] & b.valid[None, :]
        mask = mask & ((i != j) | ~jnp.eye(block, dtype=bool))  # never a row itself
        low = jnp.where(mask, low, _BIG)

        def update(state, at, tile, first):
            v, ix, fl = state
            new = _merge_candidates(tile, first, v[at], ix[at], fl[at])
            return v.at[at].set(new[0]), ix.at[at].set(new[1]), fl.at[at].set(new[2])

        new = update(state, i, low, j * block)
        new = lax.cond(i != j, lambda st: update(st, j, low.T, i * block), lambda st: st, new)
        return jax.tree_util.tree_map(lambda x, y: jnp.where(live, x, y), new, state), None

    def local(_, chunk):
        init = (
            jnp.full((num, block, keep), jnp.inf, f32),
            jnp.full((num, block, keep), -1, jnp.int32),
            jnp.full((num, block), jnp.inf, f32),
        )
        out, _ = lax.scan(per_pair, init, chunk)
        return jax.tree_util.tree_map(lambda x: x[None], out)

    kept_v, kept_i, floor = _sharding.map_over_shards(
        local, None, [pairs], _sharding.as_list(devices), fill=-1
    )
    total = num * block
    kept_v = jnp.moveaxis(kept_v, 0, 2).reshape(total, -1)
    kept_i = jnp.moveaxis(kept_i, 0, 2).reshape(total, -1)
    floor = floor.min(axis=0).reshape(total)
    if kept_v.shape[1] > keep:  # one list per device: keep the best of them
        kept_v, kept_i, dropped = _smallest(kept_v, kept_i, keep)
        floor = jnp.minimum(floor, dropped)
    return kept_i, floor


def _kept_distances(s: RowSet, index: jax.Array) -> jax.Array:
    """Difference-formula distances from each row of ``s`` to its rows ``index`` (-1: none)."""
    n, keep = index.shape
    chunk = 1024
    pad = -n % chunk
    rows = jnp.pad(jnp.arange(n, dtype=jnp.int32), (0, pad)).reshape(-1, chunk)
    cols = jnp.pad(index, ((0, pad), (0, 0)), constant_values=-1).reshape(-1, chunk, keep)

    def one(args):
        r, c = args
        d2 = pair_sq_distances(read_rows(s, r)[:, None, :], read_rows(s, c))
        return jnp.where(c >= 0, d2, jnp.inf)

    return lax.map(one, (rows, cols)).reshape(n + pad, keep)[:n]


def _chunks(flags: jax.Array, size: int) -> tuple[jax.Array, jax.Array]:
    """Indices of the set ``flags``, padded to whole chunks of ``size``, and their count."""
    total = -(-flags.shape[0] // size) * size
    (ids,) = jnp.nonzero(flags, size=total, fill_value=0)
    return ids.astype(jnp.int32), flags.sum(dtype=jnp.int32)


def _dense_radii(s: RowSet, block: int, ids: jax.Array, k: int) -> jax.Array:
    """The k-th smallest difference-formula distance of rows ``ids`` to the other rows."""
    rows = read_rows(s, ids)

    def per_tile(best, j):
        t = read_tile(s, block, j)
        d2 = pair_sq_distances(rows[:, None, :], t.exact[None, :, :])
        cols = j * block + jnp.arange(block)
        keep = t.valid[None, :] & (ids[:, None] != cols[None, :])
        d2 = jnp.where(keep, d2, jnp.inf)
        return _k_smallest(jnp.concatenate([best, d2], axis=1), k), None

    init = jnp.full((ids.shape[0], k), jnp.inf, rows.dtype)
    best, _ = lax.scan(per_tile, init, jnp.arange(num_tiles(s, block)))
    return best[:, k - 1]


def knn_sq_radii(s: RowSet, block: int, k: int, devices) -> jax.Array:
    """Squared distance from each row to its k-th nearest *other* row (padding: -inf).

    As in the prdc package, duplicates of a row count as neighbours at
    distance 0. Each row keeps ``k + routing.KNN_SPARE`` candidates from the screened
    tiles; the k-th smallest of their exact distances ``r`` is the row's
    radius when every candidate left out has a lower bound ``>= r`` (or
    ``r = 0``). Other rows are recomputed exactly against the whole set,
    ``routing.KNN_EXACT_ROWS`` at a time. Returns ``(tiles * block,)`` values.
    """
    index, floor = _candidates(s, block, k + routing.KNN_SPARE, devices)
    radii = _k_smallest(_kept_distances(s, index), k)[:, k - 1]
    total = index.shape[0]
    valid = jnp.arange(total) < s.count
    proven = (floor >= radii) | (radii == 0)
    ids, count = _chunks(~proven & valid, routing.KNN_EXACT_ROWS)

    def redo(state):
        c, radii = state
        chunk = lax.dynamic_slice(ids, (c * routing.KNN_EXACT_ROWS,), (routing.KNN_EXACT_ROWS,))
        live = c * routing.KNN_EXACT_ROWS + jnp.arange(routing.KNN_EXACT_ROWS) < count
        exact = _dense_radii(s, block, chunk, k)
        return c + 1, radii.at[jnp.where(live, chunk, total)].set(exact, mode="drop")

    def more(state):
        return state[0] * routing.KNN_EXACT_ROWS < count

    _, radii = lax.while_loop(more, redo, (jnp.int32(0), radii))
    return jnp.where(valid, radii, -jnp.inf)
