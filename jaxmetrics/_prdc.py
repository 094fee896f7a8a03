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
(:mod:`jaxmetrics._distance_bounds`) that encloses the difference-formula
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
import numpy as np
from jax import lax
from jax.typing import ArrayLike

from jaxmetrics import _distance_bounds, _linalg, _precision, _sharding, _validation
from jaxmetrics._distance_bounds import pair_sq_distances

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


_GROUP = 32  # columns per group, for candidate search and for settling open pairs
_SPARE = 3  # candidates kept per row beyond the k nearest
_SETTLE = 16  # groups of open pairs settled per step of the cross pass
_ROWS = 8  # rows per step of the exact fallback of the k-NN radii
_BIG = float(np.finfo(np.float32).max)  # "no candidate" in float32 lower bounds


class _Set(NamedTuple):
    """One set of rows, read a tile at a time: no copy of the whole set is made.

    ``rows`` are the caller's rows as given (any float dtype, unscaled; rows
    from ``count`` on are padding). The difference formula sees
    ``scaled(rows)``; the screening sees those rows centred, in float32,
    built for each tile when the tile is visited.
    """

    rows: jax.Array  # (n, d)
    count: jax.Array  # () int32: real rows
    scaling: _distance_bounds.Scaling


class _Tile(NamedTuple):
    exact: jax.Array  # (block, d) working dtype, scaled; padding rows are 0
    screen: _distance_bounds.Screen  # float32 centred rows and bound offsets
    valid: jax.Array  # (block,) bool: real rows


def _num_tiles(s: _Set, block: int) -> int:
    return -(-s.rows.shape[0] // block)


def _rows(s: _Set, ids: jax.Array) -> jax.Array:
    """Scaled rows ``ids`` of ``s`` (padding and ``-1`` give zero rows)."""
    n = s.rows.shape[0]
    real = (ids >= 0) & (ids < s.count)
    rows = _distance_bounds.scaled(s.rows[jnp.clip(ids, 0, n - 1)], s.scaling)
    return jnp.where(real[..., None], rows, 0.0)


def _tile(s: _Set, block: int, i: jax.Array) -> _Tile:
    """Row tile ``i`` of ``s``: its scaled rows, their screen, and which are real."""
    at = i * block + jnp.arange(block, dtype=jnp.int32)
    exact = _rows(s, at)
    return _Tile(exact, _distance_bounds.screen(exact, s.scaling.mu), at < s.count)


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
    groups = -(-width // _GROUP)
    columns = first + jnp.arange(width, dtype=jnp.int32)
    if groups <= keep:
        fresh_v, fresh_i = low, jnp.broadcast_to(columns, low.shape)
        rest = jnp.full((lines,), jnp.inf, kept_v.dtype)
    else:
        pad = groups * _GROUP - width
        grouped = jnp.pad(low, ((0, 0), (0, pad)), constant_values=_BIG)
        grouped = grouped.reshape(lines, groups, _GROUP)
        minima = grouped.min(axis=2)
        group_ids = jnp.broadcast_to(jnp.arange(groups, dtype=jnp.int32), minima.shape)
        _, picked, rest = _smallest(minima, group_ids, keep)
        chosen = jnp.take_along_axis(grouped, jnp.maximum(picked, 0)[:, :, None], axis=1)
        fresh_v = chosen.reshape(lines, keep * _GROUP)
        cols = first + picked[:, :, None] * _GROUP + jnp.arange(_GROUP, dtype=jnp.int32)
        fresh_i = cols.reshape(lines, keep * _GROUP)
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


def _candidates(s: _Set, block: int, keep: int, devices):
    """Per row: ``keep`` candidate neighbours and a lower bound of all the others.

    Distances are symmetric, so only tiles on and above the diagonal are
    computed; each updates its rows (along rows) and its columns' rows
    (along columns). A row never has itself as a candidate.
    """
    num = _num_tiles(s, block)
    rows_i, rows_j = np.triu_indices(num)
    pairs = jnp.asarray(np.stack([rows_i, rows_j], axis=1), jnp.int32)
    f32 = jnp.float32

    def per_pair(state, pair):
        i, j = pair[0], pair[1]
        live = i >= 0
        i, j = jnp.maximum(i, 0), jnp.maximum(j, 0)
        a, b = _tile(s, block, i), _tile(s, block, j)
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


def _kept_distances(s: _Set, index: jax.Array) -> jax.Array:
    """Difference-formula distances from each row of ``s`` to its rows ``index`` (-1: none)."""
    n, keep = index.shape
    chunk = 1024
    pad = -n % chunk
    rows = jnp.pad(jnp.arange(n, dtype=jnp.int32), (0, pad)).reshape(-1, chunk)
    cols = jnp.pad(index, ((0, pad), (0, 0)), constant_values=-1).reshape(-1, chunk, keep)

    def one(args):
        r, c = args
        d2 = pair_sq_distances(_rows(s, r)[:, None, :], _rows(s, c))
        return jnp.where(c >= 0, d2, jnp.inf)

    return lax.map(one, (rows, cols)).reshape(n + pad, keep)[:n]


def _chunks(flags: jax.Array, size: int) -> tuple[jax.Array, jax.Array]:
    """Indices of the set ``flags``, padded to whole chunks of ``size``, and their count."""
    total = -(-flags.shape[0] // size) * size
    (ids,) = jnp.nonzero(flags, size=total, fill_value=0)
    return ids.astype(jnp.int32), flags.sum(dtype=jnp.int32)


def _dense_radii(s: _Set, block: int, ids: jax.Array, k: int) -> jax.Array:
    """The k-th smallest difference-formula distance of rows ``ids`` to the other rows."""
    rows = _rows(s, ids)

    def per_tile(best, j):
        t = _tile(s, block, j)
        d2 = pair_sq_distances(rows[:, None, :], t.exact[None, :, :])
        cols = j * block + jnp.arange(block)
        keep = t.valid[None, :] & (ids[:, None] != cols[None, :])
        d2 = jnp.where(keep, d2, jnp.inf)
        return _k_smallest(jnp.concatenate([best, d2], axis=1), k), None

    init = jnp.full((ids.shape[0], k), jnp.inf, rows.dtype)
    best, _ = lax.scan(per_tile, init, jnp.arange(_num_tiles(s, block)))
    return best[:, k - 1]


def _knn_sq_radii(s: _Set, block: int, k: int, devices) -> jax.Array:
    """Squared distance from each row to its k-th nearest *other* row (padding: -inf).

    As in the prdc package, duplicates of a row count as neighbours at
    distance 0. Each row keeps ``k + _SPARE`` candidates from the screened
    tiles; the k-th smallest of their exact distances ``r`` is the row's
    radius when every candidate left out has a lower bound ``>= r`` (or
    ``r = 0``). Other rows are recomputed exactly against the whole set,
    ``_ROWS`` at a time. Returns ``(tiles * block,)`` values.
    """
    index, floor = _candidates(s, block, k + _SPARE, devices)
    radii = _k_smallest(_kept_distances(s, index), k)[:, k - 1]
    total = index.shape[0]
    valid = jnp.arange(total) < s.count
    proven = (floor >= radii) | (radii == 0)
    ids, count = _chunks(~proven & valid, _ROWS)

    def redo(state):
        c, radii = state
        chunk = lax.dynamic_slice(ids, (c * _ROWS,), (_ROWS,))
        live = c * _ROWS + jnp.arange(_ROWS) < count
        exact = _dense_radii(s, block, chunk, k)
        return c + 1, radii.at[jnp.where(live, chunk, total)].set(exact, mode="drop")

    _, radii = lax.while_loop(lambda st: st[0] * _ROWS < count, redo, (jnp.int32(0), radii))
    return jnp.where(valid, radii, -jnp.inf)


# --------------------------------------------------------------------------
# The cross pass: ball memberships between the sets
# --------------------------------------------------------------------------


def _open_groups(pending: jax.Array) -> jax.Array:
    """``(rows, groups)``: which groups of ``_GROUP`` columns hold an open pair."""
    rows, cols = pending.shape
    groups = -(-cols // _GROUP)
    padded = jnp.pad(pending, ((0, 0), (0, groups * _GROUP - cols)))
    return padded.reshape(rows, groups, _GROUP).any(axis=2)


def _cross_pass(shared, ids, *, block: int):
    """Reference row tiles ``ids`` (-1: skip) against every candidate tile.

    Returns the candidates' ball counts (leading axis 1, summed over
    devices; a candidate is in some reference ball iff its count is
    positive) and per-tile ``in a candidate ball`` / ``covered`` flags of
    the reference rows. Pairs the screen leaves open are settled with the
    difference formula, ``_SETTLE`` groups of ``_GROUP`` columns at a time.
    """
    ref, cand, r_rad, c_rad = shared
    r_brk, c_brk = _distance_bounds.brackets(r_rad), _distance_bounds.brackets(c_rad)
    lanes = jnp.arange(_GROUP, dtype=jnp.int32)

    def per_ref_tile(cand_count, i):
        live = i >= 0
        i = jnp.maximum(i, 0)
        a = _tile(ref, block, i)
        a_rad = jnp.where(live, r_rad[i], -jnp.inf)
        a_down = jnp.where(live, r_brk[0][i], -jnp.inf)
        a_up = jnp.where(live, r_brk[1][i], -jnp.inf)

        def per_cand_tile(state, j):
            in_cand_ball, covered, cand_count = state
            b = _tile(cand, block, j)
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
                (flat,) = jnp.nonzero(groups.reshape(-1), size=_SETTLE, fill_value=-1)
                real = flat >= 0
                flat = jnp.maximum(flat, 0)
                r, g = flat // groups.shape[1], flat % groups.shape[1]
                c = g[:, None] * _GROUP + lanes  # (_SETTLE, _GROUP) columns
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
            per_cand_tile, init, jnp.arange(_num_tiles(cand, block))
        )
        return cand_count, (in_cand_ball, covered)

    init = jnp.zeros((_num_tiles(cand, block), block), jnp.int32)
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


def _cross(ref: _Set, cand: _Set, ref_r2, cand_r2, sizes, block: int, devices) -> PRDC:
    num_r, num_c = _num_tiles(ref, block), _num_tiles(cand, block)
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
    :func:`jaxmetrics._distance_bounds.normalise`, shared by all sets);
    ``one_set(shared, y, m, sizes)`` gives the :class:`PRDC` of one
    candidate set ``y`` whose first ``m`` rows are real. Rows are used as
    given (unscaled, any float dtype) and read tile by tile.
    Used inside jit by :func:`prdc` and :func:`jaxmetrics.prdc_batch`.
    """

    def reference_part(ref, scaling):
        s = _Set(ref, jnp.asarray(ref.shape[0], jnp.int32), scaling)
        return s, _knn_sq_radii(s, block, k, devices)

    def one_set(shared, y, m, sizes):
        ref_s, ref_r2 = shared
        s = _Set(y, jnp.asarray(m, jnp.int32), ref_s.scaling)
        cand_r2 = _knn_sq_radii(s, block, k, devices)
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
    block_size: int = 1024,
    precision: str = "float64",
    devices: Sequence[jax.Device] | str | None = None,
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
    devices = _sharding.resolve_devices(devices)
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
            devices=None if devices is None else tuple(devices),
        )
