"""Precision, recall, density and coverage from k-NN balls (Naeem et al. 2020).

Everything is computed from squared Euclidean distances in ``(block, block)``
tiles: no ``N x M`` matrix is ever formed, so peak memory is
``O(block^2 + (N + M) k)``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike

from jaxmetrics import _kernels, _linalg, _precision, _sharding, _validation


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


def _tiles(
    x: jax.Array, block: int, n_valid: jax.Array | None = None
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Pad ``x`` to whole blocks; return tiles, squared norms and a validity mask.

    Rows from ``n_valid`` on (a traced count, for padded stacks of sets) are
    marked invalid like the padding.
    """
    n = x.shape[0]
    num = -(-n // block)
    padded = jnp.pad(x, ((0, num * block - n), (0, 0)))
    tiles = padded.reshape(num, block, x.shape[1])
    limit = n if n_valid is None else n_valid
    valid = (jnp.arange(num * block) < limit).reshape(num, block)
    return tiles, jnp.sum(tiles * tiles, axis=-1), valid


def _sq_distances(a, a_sq, b, b_sq):
    return _sq_from_inner(_linalg.matmul(a, b.T), a_sq, b_sq)


def _sq_from_inner(inner, a_sq, b_sq):
    return jnp.maximum(a_sq[:, None] + b_sq[None, :] - 2.0 * inner, 0.0)


def tile_weights(weights: jax.Array, block: int) -> jax.Array:
    """``(s, n)`` subset multiplicities laid out like the row tiles: ``(tiles, s, block)``."""
    s, n = weights.shape
    num = -(-n // block)
    padded = jnp.pad(weights, ((0, 0), (0, num * block - n)))
    return padded.reshape(s, num, block).transpose(1, 0, 2)


def _kernel_tile_sum(kernel, inner, i, j):
    """``w_a[k] @ K_tile @ w_b[k]`` for every subset ``k`` of a fused KD (see prdc_batch)."""
    spec, w_a, w_b = kernel
    k_tile = _kernels.kernel_block_from_inner(spec, inner)
    return jnp.sum(_linalg.matmul(w_a[i], k_tile) * w_b[j], axis=1)


def _zero_diagonal(tile: jax.Array) -> jax.Array:
    idx = jnp.arange(tile.shape[0])
    return tile.at[idx, idx].set(0.0)


def _k_smallest(values: jax.Array, k: int, axis: int = 1) -> jax.Array:
    """The ``k`` smallest entries along ``axis``, ascending, ties kept with multiplicity.

    ``k`` rounds of (minimum, count of entries equal to it, mask them):
    about 10x faster than ``lax.top_k`` on XLA:CPU for 2048-wide tiles (53 ms
    against 630 ms), and exact, duplicates included. Returns
    ``(values.shape[1 - axis], k)``.
    """
    lines = values.shape[1 - axis]
    slots = jnp.arange(k)[None, :]
    out = jnp.full((lines, k), jnp.inf, values.dtype)
    filled = jnp.zeros((lines, 1), jnp.int32)
    for _ in range(k):
        low = values.min(axis=axis, keepdims=True)
        hit = values == low
        count = hit.sum(axis=axis, dtype=jnp.int32).reshape(lines, 1)
        out = jnp.where((slots >= filled) & (slots < filled + count), low.reshape(lines, 1), out)
        filled = filled + count
        values = jnp.where(hit, jnp.inf, values)
    return out


_GROUP = 32  # columns per group in _tile_k_smallest


def _tile_k_smallest(values: jax.Array, k: int, axis: int = 1) -> jax.Array:
    """:func:`_k_smallest` of a wide tile, reading the tile only about twice.

    The lines are cut into groups of 32 and the ``k`` groups with the smallest
    minima are kept. They hold every entry below the k-th smallest value ``v``
    (at most ``k - 1`` entries, so at most ``k - 1`` groups, have a minimum
    below ``v``) and at least as many copies of ``v`` as the answer needs, so
    the ``k`` smallest of the kept ``32 k`` entries are exactly the ``k``
    smallest of the line, duplicates included. Along ``axis=0`` the groups
    are runs of 32 rows, so the tile is never transposed.
    """
    width = values.shape[axis]
    groups = -(-width // _GROUP)
    if groups <= k:
        return _k_smallest(values, k, axis=axis)
    pad = [(0, 0), (0, 0)]
    pad[axis] = (0, groups * _GROUP - width)
    values = jnp.pad(values, pad, constant_values=jnp.inf)
    if axis == 1:
        grouped = values.reshape(values.shape[0], groups, _GROUP)
        minima = grouped.min(axis=2)
    else:
        grouped = values.reshape(groups, _GROUP, values.shape[1])
        minima = grouped.min(axis=1).T
    picked = []
    for _ in range(k):
        first = jnp.argmin(minima, axis=1)
        picked.append(first)
        minima = jnp.where(jnp.arange(groups)[None, :] == first[:, None], jnp.inf, minima)
    picked = jnp.stack(picked, axis=1)  # (lines, k)
    if axis == 1:
        chosen = jnp.take_along_axis(grouped, picked[:, :, None], axis=1)
    else:
        chosen = jnp.take_along_axis(grouped, picked.T[:, None, :], axis=0)
        chosen = jnp.moveaxis(chosen, 2, 0)
    return _k_smallest(chosen.reshape(chosen.shape[0], k * _GROUP), k)


# --------------------------------------------------------------------------
# Float64 results at float32 speed: screen in float32, decide in float64
# --------------------------------------------------------------------------
#
# Every decision PRDC makes is a comparison of one squared distance with
# another (k-NN selection) or with a radius (ball membership). Float32 tiles
# settle almost all of them, given a rigorous bound on how far a float32
# value can be from the float64 one that the float64 path computes; the few
# within that bound of the threshold are recomputed in float64 with the
# float64 path's formula, ``max(|a|^2 + |b|^2 - 2 a.b, 0)``. Every decision is
# therefore the float64 path's.
#
# The bound. With a = x_a - mu, b = x_b - mu (mu: any common centre, so that
# the bound scales with the spread of the data, not its offset), s_a = |a|^2
# in float64, u = 2^-24, gamma_d = d u / (1 - d u), and float32 values a', b'
# of a, b (|a'_i - a_i| <= u |a_i|, plus 2^-126 when flushed to zero):
#
# * a float32 dot product of length d, in any summation order, FMA or not,
#   is within gamma_d |a'||b'| of a'.b' (Higham, Accuracy and Stability,
#   Sec. 3.1), and |a'.b' - a.b| <= (2u + u^2)|a||b|; with 2|a||b| <= S =
#   s_a + s_b, |2 fl(a'.b') - 2 a.b| <= (2u + gamma_d)(1 + 2u) S;
# * the row offsets P_a = s_a -/+ c S-terms are rounded to float32 once (u S
#   in all), added (u S), and the product subtracted (u |result| <= 2u S):
#   4u S more, whatever order XLA evaluates the two operations in;
# * the float64 value itself is within (2 gamma_d(2^-53) + 3 2^-53) of the
#   exact distance, relative to the *uncentred* |x_a|^2 + |x_b|^2 (this is the
#   c64 term), and centring in float64 moves it by ~10 2^-53 S (absorbed);
# * float32 underflow (products, sums, inputs flushed to zero) moves the
#   result by at most 2^-126 (4 sqrt(2 d S) + 4d + 8) <= 2^-83 + 2^-90 S for
#   d <= 2^20: the absolute _TINY = 2^-80 covers it, and the 2^-116 of slack
#   that keeps the packed values below (see _pack) normal numbers.
#
# So |w - v| < c S + c64 (|x_a|^2 + |x_b|^2) + _TINY with w the float32 and
# v the float64 value, where c = t / (1 - 4t), t = (d + 16) u, covers
# (6u + gamma_d)(1 + 2c) with about 10u to spare (screening is off for
# t > 1/8, i.e. d > 2 million). The measured error on Gaussian data is about
# 40x smaller (sqrt(d) rather than d): the bound is conservative, and still
# leaves ~0.03 undecided entries per row at d = 512.
#
# Squared norms above 2^100 could overflow float32; such data (or non-finite
# bounds) turn screening off through the ``ok`` flag, and every decision then
# goes the float64 way: exact, only slower.

_U32 = 2.0**-24
_U64 = 2.0**-53
_TINY = 2.0**-80
_HUGE = 2.0**100
_F32_MAX = float(np.finfo(np.float32).max)
_INDEX_BITS = 29  # a float32 widened to float64 leaves 29 low mantissa bits zero
# (extra k-NN candidates kept per row, rows per float64 re-computation; at
# least 4, see _gathered_sq). At d = 512, 3 spare candidates left no row
# unproven in 6,000 (benchmark data); a 1024-wide tile then has ~3 undecided
# rows on average, and more than 8 take another loop step.
_SCREEN = (3, 8)
_CROSS_BLOCK = 1024  # widest tile of the screened cross pass


def screen_for(dtype: Any, d: int) -> tuple[int, int] | None:
    """The screening capacities for float64 work at dimension ``d`` (``None``: none).

    Float32 work (``precision="float32"``) is computed directly, as before;
    screening only serves to make float64 results cheap.
    """
    if jnp.dtype(dtype) != jnp.float64 or (d + 16) * _U32 > 1 / 8:
        return None
    return _SCREEN


def _error_factors(d: int) -> tuple[float, float]:
    """``(c, c64)`` of the bound above for dimension ``d``."""
    t = (d + 16) * _U32
    return t / (1 - 4 * t), 2 * (d + 16) * _U64


class _Screened(NamedTuple):
    """Float32 view of a tiled set: centred rows and per-row bound offsets."""

    tiles: jax.Array  # (num, block, d) float32 of x - mu
    low: jax.Array  # (num, block) float32: s - c s - c64 |x|^2 - _TINY / 2
    high: jax.Array  # (num, block) float32: s + c s + c64 |x|^2 + _TINY / 2
    ok: jax.Array  # scalar bool: no float32 overflow possible


def _screened(tiles: jax.Array, sq: jax.Array, mu: jax.Array) -> _Screened:
    """Float32 tiles of ``tiles - mu`` and the row offsets of the error bound."""
    c, c64 = _error_factors(tiles.shape[-1])
    centred = tiles - mu
    s = jnp.sum(centred * centred, axis=-1)
    slack = c * s + c64 * sq + _TINY / 2
    ok = jnp.all((s <= _HUGE) & (sq <= _HUGE))
    return _Screened(
        centred.astype(jnp.float32),
        (s - slack).astype(jnp.float32),
        (s + slack).astype(jnp.float32),
        ok,
    )


def _bound_tiles(inner, a_low, b_low, a_high, b_high):
    """Float32 ``(low, high)`` with ``low <= d2 <= high`` for every float64 ``d2``."""
    twice = 2.0 * inner
    return (a_low[:, None] + b_low[None, :]) - twice, (a_high[:, None] + b_high[None, :]) - twice


def _pack(low: jax.Array, index: jax.Array) -> jax.Array:
    """Float32 lower bounds as float64 carrying ``index`` in their low 29 bits.

    Widened to float64, a float32 value has 29 trailing zero mantissa bits;
    writing the index there keeps the order of distinct values and makes all
    values of a line distinct, so the k smallest come with their indices
    from the plain min-based selection. Zeros become the smallest normal
    float32 (2^-126, within _TINY's slack): a zero with an index would be a
    subnormal float64, which flush-to-zero would compare equal to other ones.
    """
    wide = low.astype(jnp.float64)
    wide = jnp.where(wide == 0.0, 2.0**-126, wide)
    bits = lax.bitcast_convert_type(wide, jnp.int64) | jnp.asarray(index, jnp.int64)
    return lax.bitcast_convert_type(bits, jnp.float64)


_UNUSED = (1 << _INDEX_BITS) - 1  # index of padding and masked entries


def _smallest_distinct(values: jax.Array, k: int, filler: jax.Array) -> jax.Array:
    """The ``k`` smallest of each row of distinct packed values (``filler``: the largest).

    Packed values (:func:`_pack`) are distinct, apart from copies of
    ``filler`` for unused slots, so each round takes the row minimum and
    replaces it by ``filler`` (no counting of ties as in :func:`_k_smallest`).
    """
    out = []
    for _ in range(k):
        low = values.min(axis=1, keepdims=True)
        out.append(low)
        values = jnp.where(values == low, filler, values)
    return jnp.concatenate(out, axis=1)


def _tile_candidates(low: jax.Array, first: jax.Array, kept: jax.Array, axis: int) -> jax.Array:
    """Merge a float32 tile's smallest ``low`` per line into the packed list ``kept``.

    ``low`` is a float32 tile whose masked entries hold the largest float32;
    ``first`` is the global index of position 0 along ``axis``; ``kept`` is
    the ``(lines, width)`` packed list (:func:`_pack`) of the lines so far.
    As in :func:`_tile_k_smallest`, only ``width`` groups of 32 whose minima
    are the ``width`` smallest are read again, and only their entries are
    packed: widening and packing the whole tile would cost more than the
    float32 product that made it. The groups are those with a minimum at
    most the ``width``-th smallest one, the first ``width`` of them in
    order (ranks from a small product with a triangular matrix: no argmin
    rounds, which XLA:CPU does not vectorise). Whatever the ties, no entry
    left out lies below the largest one kept: the kept groups hold
    ``width`` minima, none above any left-out group's minimum.
    """
    width = kept.shape[1]
    filler = _pack(jnp.float32(_F32_MAX), jnp.int32(_UNUSED))
    n = low.shape[axis]
    groups = -(-n // _GROUP)
    lines = low.shape[1 - axis]
    if groups <= width:  # a narrow tile: pack it whole
        line = low if axis == 1 else low.T
        index = jnp.where(line == _F32_MAX, _UNUSED, first + jnp.arange(n, dtype=jnp.int32))
        fresh = _pack(line, index)
    else:
        pad = [(0, 0), (0, 0)]
        pad[axis] = (0, groups * _GROUP - n)
        low = jnp.pad(low, pad, constant_values=_F32_MAX)
        if axis == 1:
            grouped = low.reshape(lines, groups, _GROUP)
            minima = grouped.min(axis=2)
        else:  # runs of 32 rows: no transpose of the tile
            grouped = low.reshape(groups, _GROUP, lines)
            minima = grouped.min(axis=1).T
        cut = _k_smallest(minima, width)[:, width - 1 :]
        flag = (minima <= cut).astype(jnp.float32)
        upper = jnp.triu(jnp.ones((groups, groups), jnp.float32))
        rank = _linalg.matmul(flag, upper)  # 1-based rank among flagged groups (exact)
        slot = jnp.arange(1, width + 1, dtype=jnp.float32)[None, :, None]
        hit = (rank[:, None, :] == slot) & (flag[:, None, :] > 0)
        picked = jnp.sum(jnp.where(hit, jnp.arange(groups, dtype=jnp.int32), 0), axis=2)
        if axis == 1:
            chosen = jnp.take_along_axis(grouped, picked[:, :, None], axis=1)
        else:
            chosen = jnp.take_along_axis(grouped, picked.T[:, None, :], axis=0)
            chosen = jnp.transpose(chosen, (2, 0, 1))  # (lines, width, 32): small
        pos = picked[:, :, None] * _GROUP + jnp.arange(_GROUP, dtype=jnp.int32)
        index = jnp.where(chosen == _F32_MAX, _UNUSED, first + pos)
        fresh = _pack(chosen, index).reshape(lines, width * _GROUP)
    return _smallest_distinct(jnp.concatenate([kept, fresh], axis=1), width, filler)


def _unpack(packed: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(index, low)`` back from :func:`_pack`."""
    bits = lax.bitcast_convert_type(packed, jnp.int64)
    mask = (1 << _INDEX_BITS) - 1
    return (bits & mask).astype(jnp.int32), lax.bitcast_convert_type(bits & ~mask, jnp.float64)


def _f32_brackets(r2: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Float32 ``(down, up)`` with ``down <= r2 <= up`` (``-inf`` stays ``-inf``).

    Radii below 2^-100 get ``(-2^-100, 2^-100)``: normal numbers, which
    flush-to-zero cannot move, and harmless given the bound's _TINY slack.
    """
    near = r2.astype(jnp.float32)
    back = near.astype(r2.dtype)
    down = jnp.where(back > r2, jnp.nextafter(near, -jnp.inf), near)
    up = jnp.where(back < r2, jnp.nextafter(near, jnp.inf), near)
    small = (r2 < 2.0**-100) & (r2 > -jnp.inf)
    return jnp.where(small, -(2.0**-100), down), jnp.where(small, 2.0**-100, up)


_GATHER_ROWS = 4  # rows per float64 re-computation product (see _gathered_sq)
_GATHER_CHUNK = 64  # rows per loop step of _gathered_sq


def _gathered_sq(x, sq, cols):
    """Float64 squared distances ``d2[i, cols[i, j]]`` exactly as the float64 tiles hold them.

    Computed as ``(4, d) @ (d, 4 w)`` matrix products of which only the
    diagonal blocks are kept: XLA:CPU gives each entry of a matrix product
    of at least 4 rows the same bits as in the full tile product (checked
    in the tests), while matrix-vector products and elementwise dot
    products sum in other orders (1-ulp differences). The 4x redundant
    products cost about as much as the gather itself.
    """
    n, width = cols.shape
    group, chunk = _GATHER_ROWS, _GATHER_CHUNK
    pad = -n % chunk
    rows = jnp.pad(jnp.arange(n, dtype=jnp.int32), (0, pad)).reshape(-1, chunk)
    cols = jnp.pad(cols, ((0, pad), (0, 0))).reshape(-1, chunk, width)
    d = x.shape[1]

    def one(args):
        r, c = args
        a = x[r].reshape(-1, group, d)
        b = x[c.reshape(-1)].reshape(-1, group * width, d)
        inner = jnp.einsum("grd,gjd->grj", a, b, precision=_linalg.HIGHEST)
        inner = inner.reshape(-1, group, group, width)[:, jnp.arange(group), jnp.arange(group)]
        # The float64 tiles' formula and order of operations (_sq_from_inner).
        return jnp.maximum(sq[r][:, None] + sq[c] - 2.0 * inner.reshape(chunk, width), 0.0)

    return lax.map(one, (rows, cols)).reshape(n + pad, width)[:n]


def _exact_row_radii(ids, tiles, sq, valid, k):
    """Float64 (k+1)-th smallest squared distance of rows ``ids``, over all tiles."""
    block, d = tiles.shape[1], tiles.shape[2]
    flat, flat_sq = tiles.reshape(-1, d), sq.reshape(-1)
    rows, rows_sq = flat[ids], flat_sq[ids]

    def per_tile(best, j):
        d2 = _sq_from_inner(_linalg.matmul(rows, tiles[j].T), rows_sq, sq[j])
        cols = j * block + jnp.arange(block)
        d2 = jnp.where(ids[:, None] == cols[None, :], 0.0, d2)
        d2 = jnp.where(valid[j][None, :], d2, jnp.inf)
        fresh = _tile_k_smallest(d2, k + 1, axis=1)
        return _k_smallest(jnp.concatenate([best, fresh], axis=1), k + 1), None

    init = jnp.full((ids.shape[0], k + 1), jnp.inf, tiles.dtype)
    best, _ = lax.scan(per_tile, init, jnp.arange(tiles.shape[0]))
    return best.max(axis=1)


def _chunks(flags: jax.Array, size: int) -> tuple[jax.Array, jax.Array]:
    """Indices of the set ``flags``, padded to whole chunks of ``size``, and their count."""
    total = -(-flags.shape[0] // size) * size
    (ids,) = jnp.nonzero(flags, size=total, fill_value=0)
    return ids.astype(jnp.int32), flags.sum(dtype=jnp.int32)


def _knn_sq_radii_screened(x, k, block, n_valid, devices, screen, mu):
    """:func:`_knn_sq_radii` through float32 tiles; the float64 result exactly.

    The symmetric float32 tiles keep, per row, the ``k + 1 + slack`` entries
    with the smallest lower bounds (indices packed in, :func:`_pack`). Their
    float64 distances give a (k+1)-th smallest ``r``; it is the row's exact
    one when the largest kept lower bound exceeds ``r``, since every entry
    left out then has a float64 distance above ``r``. Rows where it does not
    (the kept ones do not provably hold the k+1 nearest) are recomputed
    against all rows in float64, ``rows`` at a time.
    """
    slack, rows = screen
    width = k + 1 + slack
    tiles, sq, valid = _tiles(x, block, n_valid)
    scr = _screened(tiles, sq, mu)
    num = tiles.shape[0]
    rows_i, rows_j = np.triu_indices(num)
    pairs = jnp.asarray(np.stack([rows_i, rows_j], axis=1), jnp.int32)

    def update(best, at, low, first, axis):
        return best.at[at].set(_tile_candidates(low, first, best[at], axis))

    def per_pair(best, pair):
        i, j = pair[0], pair[1]
        live = i >= 0
        i, j = jnp.maximum(i, 0), jnp.maximum(j, 0)
        inner = _linalg.matmul(scr.tiles[i], scr.tiles[j].T)
        low, _ = _bound_tiles(inner, scr.low[i], scr.low[j], scr.high[i], scr.high[j])
        low = jnp.where(valid[i][:, None] & valid[j][None, :], low, _F32_MAX)
        new = update(best, i, low, j * block, 1)
        new = lax.cond(i != j, lambda b: update(b, j, low, i * block, 0), lambda b: b, new)
        return jnp.where(live, new, best), None

    def local(_, chunk):
        empty = _pack(jnp.full((num, block, width), _F32_MAX, jnp.float32), jnp.int32(_UNUSED))
        best, _ = lax.scan(per_pair, empty, chunk)
        return best[None]

    best = _sharding.map_over_shards(local, None, [pairs], _sharding.as_list(devices), fill=-1)
    best = jnp.moveaxis(best, 0, 2).reshape(num * block, -1)
    if best.shape[1] > width:  # one candidate list per device: merge them
        best = _smallest_distinct(best, width, _pack(jnp.float32(_F32_MAX), jnp.int32(_UNUSED)))
    index, low = _unpack(best)
    total = num * block
    flat_valid = valid.reshape(-1)
    own = jnp.arange(total, dtype=jnp.int32)
    safe = jnp.minimum(index, total - 1)
    d2 = _gathered_sq(tiles.reshape(total, -1), sq.reshape(-1), safe)
    d2 = jnp.where(index == own[:, None], 0.0, d2)  # as in the float64 path
    d2 = jnp.where((index < total) & flat_valid[safe], d2, jnp.inf)
    radii = _k_smallest(d2, k + 1).max(axis=1)
    proven = (low.max(axis=1) > radii) & scr.ok
    ids, count = _chunks(~proven & flat_valid, rows)

    def redo(state):
        c, radii = state
        chunk = lax.dynamic_slice(ids, (c * rows,), (rows,))
        live = c * rows + jnp.arange(rows) < count
        exact = _exact_row_radii(chunk, tiles, sq, valid, k)
        return c + 1, radii.at[jnp.where(live, chunk, total)].set(exact, mode="drop")

    _, radii = lax.while_loop(lambda st: st[0] * rows < count, redo, (jnp.int32(0), radii))
    return radii[: x.shape[0]]


def _knn_sq_radii(
    x: jax.Array,
    k: int,
    block: int,
    n_valid: jax.Array | None = None,
    devices: tuple[jax.Device, ...] | None = None,
    kernel: tuple | None = None,
    screen: tuple[int, int] | None = None,
    mu: jax.Array | None = None,
) -> jax.Array | tuple[jax.Array, jax.Array]:
    """Squared distance from each row to its k-th nearest *other* row.

    As in the prdc package: the (k+1)-th smallest distance of the row, the
    row itself (distance exactly 0) included. Distances are symmetric, so
    only tiles on and above the diagonal are computed; each updates the
    running k+1 smallest of its rows (along rows) and of its columns' rows
    (along columns). With ``devices``, the tile pairs are spread over the
    devices and the per-device candidates merged exactly at the end.

    With ``kernel = (spec, w_tiles, w_tiles)`` the same inner products also
    give the kernel sums ``w[k] @ K(x, x) @ w[k]`` of every subset ``k``
    (diagonal included); they are returned beside the radii. Without a
    kernel and with ``screen`` (see :func:`screen_for`) the tiles are
    float32, centred on ``mu``, and the result is still the float64 one
    (:func:`_knn_sq_radii_screened`).
    """
    if screen is not None and kernel is None:
        return _knn_sq_radii_screened(x, k, block, n_valid, devices, screen, mu)
    tiles, sq, valid = _tiles(x, block, n_valid)
    num = tiles.shape[0]
    rows_i, rows_j = np.triu_indices(num)
    pairs = jnp.asarray(np.stack([rows_i, rows_j], axis=1), jnp.int32)

    def update(best, line, fresh):
        merged = _k_smallest(jnp.concatenate([best[line], fresh], axis=1), k + 1)
        return best.at[line].set(merged)

    def per_pair(carry, pair):
        best, sums = carry
        i, j = pair[0], pair[1]
        live = i >= 0
        i, j = jnp.maximum(i, 0), jnp.maximum(j, 0)
        inner = _linalg.matmul(tiles[i], tiles[j].T)
        if kernel is not None:
            twice = jnp.where(i == j, 1.0, 2.0) * live
            sums = sums + twice * _kernel_tile_sum(kernel, inner, i, j)
        d2 = _sq_from_inner(inner, sq[i], sq[j])
        # A point's distance to itself is exactly 0, as in the prdc package.
        d2 = lax.cond(i == j, _zero_diagonal, lambda t: t, d2)
        d2 = jnp.where(valid[j][None, :] & valid[i][:, None], d2, jnp.inf)
        new = update(best, i, _tile_k_smallest(d2, k + 1, axis=1))
        new = lax.cond(
            i != j, lambda b: update(b, j, _tile_k_smallest(d2, k + 1, axis=0)), lambda b: b, new
        )
        return (jnp.where(live, new, best), sums), None

    subsets = 0 if kernel is None else kernel[1].shape[1]

    def local(_, chunk):
        init = jnp.full((num, block, k + 1), jnp.inf, x.dtype)
        (best, sums), _ = lax.scan(per_pair, (init, jnp.zeros((subsets,), x.dtype)), chunk)
        return best[None], sums[None]

    best, sums = _sharding.map_over_shards(
        local, None, [pairs], _sharding.as_list(devices), fill=-1
    )
    if best.shape[0] > 1:  # one candidate list per device: merge them
        best = jnp.moveaxis(best, 0, 2).reshape(num * block, -1)
        best = _k_smallest(best, k + 1)
    radii = best.reshape(num * block, k + 1).max(axis=1)[: x.shape[0]]
    return radii if kernel is None else (radii, sums.sum(axis=0))


def _tile_radii(radii: jax.Array, valid: jax.Array) -> jax.Array:
    """Radii laid out like the tiles; padding rows get -inf (an empty ball)."""
    padded = jnp.pad(radii, (0, valid.size - radii.size)).reshape(valid.shape)
    return jnp.where(valid, padded, -jnp.inf)


def _cross_pass(shared, ids, kernel=None):
    """Reference row blocks ``ids`` (-1: skip) against every candidate block.

    Returns the candidate-side accumulators of these blocks (``in a reference
    ball`` flags, ball counts) with a leading axis of 1, to be combined over
    devices, and per-block ``in a candidate ball`` / ``covered`` flags. With
    ``kernel``, also the cross kernel sums of every subset (leading axis 1).
    """
    r_tiles, r_sq, r_rad, c_tiles, c_sq, c_rad, c_valid = shared

    def per_ref_block(carry, i):
        cand_in_ball, cand_count, sums = carry
        live = i >= 0
        i = jnp.maximum(i, 0)
        radius = jnp.where(live, r_rad[i], -jnp.inf)

        def per_cand_block(state, j):
            nearest, ref_in_ball, cand_in_ball, cand_count, sums = state
            inner = _linalg.matmul(r_tiles[i], c_tiles[j].T)
            if kernel is not None:
                sums = sums + live * _kernel_tile_sum(kernel, inner, i, j)
            d2 = _sq_from_inner(inner, r_sq[i], c_sq[j])
            in_ref_ball = d2 < radius[:, None]
            in_cand_ball = d2 < c_rad[j][None, :]
            cand_in_ball = cand_in_ball.at[j].set(cand_in_ball[j] | in_ref_ball.any(axis=0))
            cand_count = cand_count.at[j].add(in_ref_ball.sum(axis=0, dtype=jnp.int32))
            ref_in_ball = ref_in_ball | in_cand_ball.any(axis=1)
            d2 = jnp.where(c_valid[j][None, :], d2, jnp.inf)
            nearest = jnp.minimum(nearest, d2.min(axis=1))
            return (nearest, ref_in_ball, cand_in_ball, cand_count, sums), None

        block = r_tiles.shape[1]
        init = (
            jnp.full((block,), jnp.inf, r_tiles.dtype),
            jnp.zeros((block,), bool),
            cand_in_ball,
            cand_count,
            sums,
        )
        (nearest, ref_in_ball, cand_in_ball, cand_count, sums), _ = lax.scan(
            per_cand_block, init, jnp.arange(c_tiles.shape[0])
        )
        return (cand_in_ball, cand_count, sums), (ref_in_ball, nearest < radius)

    subsets = 0 if kernel is None else kernel[1].shape[1]
    init = (
        jnp.zeros(c_valid.shape, bool),
        jnp.zeros(c_valid.shape, jnp.int32),
        jnp.zeros((subsets,), r_tiles.dtype),
    )
    (cand_in_ball, cand_count, sums), per_block = lax.scan(per_ref_block, init, ids)
    return (cand_in_ball[None], cand_count[None], sums[None]), per_block


def _prdc_from_radii(
    ref,
    cand,
    ref_r2,
    cand_r2,
    block,
    sizes,
    cand_valid=None,
    devices=None,
    kernel=None,
    screen=None,
    mu=None,
):
    """The four metrics given squared k-NN radii.

    ``sizes`` holds ``(N, M, 1/k)`` as a traced array: dividing by a traced
    value keeps IEEE division, where XLA would turn a division by a constant
    into a multiplication by its reciprocal (1 ulp off the prdc package).
    ``cand_valid`` is the number of real candidate rows of a padded set. With
    ``devices``, reference row blocks are spread over the devices and the
    candidate-side flags and counts are combined afterwards (exactly: OR and
    integer sums). With ``kernel = (spec, w_ref_tiles, w_cand_tiles)`` the
    cross kernel sums of every subset are returned too, as ``(PRDC, sums)``.
    Without a kernel and with ``screen``, the tiles are float32 (centred on
    ``mu``) and every decision is still the float64 one.
    """
    if screen is not None and kernel is None:
        return _prdc_from_radii_screened(
            ref, cand, ref_r2, cand_r2, block, sizes, cand_valid, devices, screen, mu
        )
    r_tiles, r_sq, r_valid = _tiles(ref, block)
    c_tiles, c_sq, c_valid = _tiles(cand, block, cand_valid)
    r_rad, c_rad = _tile_radii(ref_r2, r_valid), _tile_radii(cand_r2, c_valid)
    shared = (r_tiles, r_sq, r_rad, c_tiles, c_sq, c_rad, c_valid)
    num_r = r_tiles.shape[0]
    (cand_in_ball, cand_count, sums), (ref_in_ball, covered) = _sharding.map_over_shards(
        functools.partial(_cross_pass, kernel=kernel),
        shared,
        [jnp.arange(num_r)],
        _sharding.as_list(devices),
        fill=-1,
    )
    cand_in_ball, cand_count = cand_in_ball.any(axis=0), cand_count.sum(axis=0)
    ref_in_ball, covered = ref_in_ball[:num_r], covered[:num_r]
    result = _metrics(
        cand_in_ball, cand_count, ref_in_ball, covered, r_valid, c_valid, sizes, ref.dtype
    )
    return result if kernel is None else (result, sums.sum(axis=0))


def _decisions(inner, a, b, b_valid, ok):
    """Float32 ball decisions of a tile: certain ones and undecided ones.

    ``a``, ``b``: ``(low, high, down, up)`` row offsets and radius brackets
    of the tile's rows and columns. Returns ``(in_a, open_a, in_b, open_b)``:
    entry certainly inside the row's (``a``) / column's (``b``) ball, or
    within the error bound of its radius (to be settled in float64).
    Without ``ok`` nothing is certain and everything is open.
    """
    low, high = _bound_tiles(inner, a[0], b[0], a[1], b[1])
    in_a = (high < a[2][:, None]) & b_valid[None, :] & ok
    open_a = ((low < a[3][:, None]) | ~ok) & ~in_a & b_valid[None, :]
    in_b = (high < b[2][None, :]) & ok
    open_b = ((low < b[3][None, :]) | ~ok) & ~in_b
    return in_a, open_a, in_b, open_b


def _cross_pass_screened(shared, ids, rows):
    """:func:`_cross_pass` from float32 tiles, undecided rows settled in float64.

    Returns the candidates' ball counts (leading axis 1, summed over
    devices; a candidate is in some reference ball iff its count is
    positive) and per-block ``in a candidate ball`` / ``covered`` flags.
    """
    ref, cand, c_valid, ok = shared
    r_tiles, r_sq, r_scr, r_brackets = ref
    c_tiles, c_sq, c_scr, c_brackets = cand
    block = r_tiles.shape[1]

    def per_ref_block(cand_count, i):
        live = i >= 0
        i = jnp.maximum(i, 0)
        a_r2 = jnp.where(live, r_brackets[0][i], -jnp.inf)
        a = (
            r_scr.low[i],
            r_scr.high[i],
            *(jnp.where(live, e[i], -jnp.inf) for e in r_brackets[1:]),
        )

        def per_cand_block(state, j):
            in_cand_ball, covered, cand_count = state
            b_r2 = c_brackets[0][j]
            b = (c_scr.low[j], c_scr.high[j], c_brackets[1][j], c_brackets[2][j])
            inner = _linalg.matmul(r_scr.tiles[i], c_scr.tiles[j].T)
            in_a, open_a, in_b, open_b = _decisions(inner, a, b, c_valid[j], ok)
            cand_count = cand_count.at[j].add(in_a.sum(axis=0, dtype=jnp.int32))
            in_cand_ball = in_cand_ball | in_b.any(axis=1)
            covered = covered | in_a.any(axis=1)
            todo, count = _chunks((open_a | open_b).any(axis=1), rows)

            def settle(st):
                c, in_cand_ball, covered, cand_count = st
                chunk = lax.dynamic_slice(todo, (c * rows,), (rows,))
                live_rows = (c * rows + jnp.arange(rows) < count)[:, None]
                part = tuple(e[chunk] for e in a)
                _, open_a, _, open_b = _decisions(inner[chunk], part, b, c_valid[j], ok)
                inner64 = _linalg.matmul(r_tiles[i][chunk], c_tiles[j].T)
                d2 = _sq_from_inner(inner64, r_sq[i][chunk], c_sq[j])
                in_a = open_a & live_rows & (d2 < a_r2[chunk][:, None])
                in_b = open_b & live_rows & (d2 < b_r2[None, :])
                at = jnp.where(live_rows[:, 0], chunk, block)
                return (
                    c + 1,
                    in_cand_ball.at[at].max(in_b.any(axis=1), mode="drop"),
                    covered.at[at].max(in_a.any(axis=1), mode="drop"),
                    cand_count.at[j].add(in_a.sum(axis=0, dtype=jnp.int32)),
                )

            _, in_cand_ball, covered, cand_count = lax.while_loop(
                lambda st: st[0] * rows < count,
                settle,
                (jnp.int32(0), in_cand_ball, covered, cand_count),
            )
            return (in_cand_ball, covered, cand_count), None

        init = (jnp.zeros((block,), bool), jnp.zeros((block,), bool), cand_count)
        (in_cand_ball, covered, cand_count), _ = lax.scan(
            per_cand_block, init, jnp.arange(c_tiles.shape[0])
        )
        return cand_count, (in_cand_ball, covered)

    init = jnp.zeros(c_valid.shape, jnp.int32)
    cand_count, per_block = lax.scan(per_ref_block, init, ids)
    return cand_count[None], per_block


def _prdc_from_radii_screened(
    ref, cand, ref_r2, cand_r2, block, sizes, cand_valid, devices, screen, mu
):
    """:func:`_prdc_from_radii` through float32 tiles, every decision the float64 one."""
    rows = screen[1]
    # Narrower tiles than the radii's: the decisions' passes over a tile
    # cost ~60% of its float32 product at 2048 wide, ~20% at 1024 (cache).
    block = min(block, _CROSS_BLOCK)
    r_tiles, r_sq, r_valid = _tiles(ref, block)
    c_tiles, c_sq, c_valid = _tiles(cand, block, cand_valid)
    r_rad, c_rad = _tile_radii(ref_r2, r_valid), _tile_radii(cand_r2, c_valid)
    r_scr, c_scr = _screened(r_tiles, r_sq, mu), _screened(c_tiles, c_sq, mu)
    shared = (
        (r_tiles, r_sq, r_scr, (r_rad, *_f32_brackets(r_rad))),
        (c_tiles, c_sq, c_scr, (c_rad, *_f32_brackets(c_rad))),
        c_valid,
        r_scr.ok & c_scr.ok,
    )
    num_r = r_tiles.shape[0]
    cand_count, (ref_in_ball, covered) = _sharding.map_over_shards(
        functools.partial(_cross_pass_screened, rows=rows),
        shared,
        [jnp.arange(num_r)],
        _sharding.as_list(devices),
        fill=-1,
    )
    cand_count = cand_count.sum(axis=0)
    ref_in_ball, covered = ref_in_ball[:num_r], covered[:num_r]
    return _metrics(
        cand_count > 0, cand_count, ref_in_ball, covered, r_valid, c_valid, sizes, ref.dtype
    )


def _metrics(cand_in_ball, cand_count, ref_in_ball, covered, r_valid, c_valid, sizes, dtype):
    """The four metrics from the per-point flags and counts (masked to real rows)."""
    n, m, inv_k = sizes[0], sizes[1], sizes[2]
    precision = jnp.sum(cand_in_ball & c_valid, dtype=dtype) / m
    # Same order of operations as the prdc package: (1/k) * mean(counts).
    density = inv_k * (jnp.sum(jnp.where(c_valid, cand_count, 0), dtype=dtype) / m)
    recall = jnp.sum(ref_in_ball & r_valid, dtype=dtype) / n
    coverage = jnp.sum(covered & r_valid, dtype=dtype) / n
    return PRDC(precision, recall, density, coverage)


@functools.partial(jax.jit, static_argnames=("k", "block", "dtype", "devices", "screen"))
def _prdc(
    ref: jax.Array,
    cand: jax.Array,
    sizes: jax.Array,
    *,
    k: int,
    block: int,
    dtype: Any,
    devices: tuple[jax.Device, ...] | None,
    screen: tuple[int, int] | None = None,
) -> PRDC:
    ref, cand = ref.astype(dtype), cand.astype(dtype)
    # Any common centre works for the float32 bound; the reference mean keeps
    # it proportional to the spread of the data rather than to its offset.
    mu = None if screen is None else jnp.mean(ref, axis=0)
    opts = {"devices": devices, "screen": screen, "mu": mu}
    ref_r2 = _knn_sq_radii(ref, k, block, **opts)
    cand_r2 = _knn_sq_radii(cand, k, block, **opts)
    return _prdc_from_radii(ref, cand, ref_r2, cand_r2, block, sizes.astype(dtype), **opts)


def _block_for(n: int, m: int, block_size: int) -> int:
    # Never tile wider than the data: small sets run as one tile.
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

    exactly as the ``prdc`` package defines them. Distances are compared
    squared (the same order, no square roots) and computed tile by tile, so
    ``N = M = 100,000`` at ``d = 512`` fits in a few hundred MiB. In float64
    the tiles are computed in float32 with a rigorous bound on their error;
    only the comparisons that the bound leaves open (a few per thousand
    rows) are recomputed in float64, so every decision, and the result, is
    the float64 one at close to float32 speed.

    Args:
      reference: ``(N, d)`` real embeddings.
      candidate: ``(M, d)`` generated embeddings.
      k: neighbourhood size, ``1 <= k < min(N, M)``; static.
      block_size: tile edge of the k-NN passes (the cross pass uses at most
        1024); memory is about ``3 block_size^2`` floats. The default 1024
        took 3.57 s at ``N = M = 10,000``, ``d = 512`` on the 2-core
        benchmark machine, against 3.73 s with 2048, 3.81 s with 1280 and
        3.94 s with 768 (medians of 5 interleaved calls,
        ``benchmarks/bench_choices.py --sections prdc-block``); the result
        does not depend on it.
      precision: ``"float64"`` (default) or ``"float32"`` (float32 distances
        can flip points that lie within ~1e-6 relative of a ball's boundary).
      devices: ``None`` (default device), ``"all"`` local devices or a list of
        devices: row blocks of both passes are spread over them
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
        return _prdc(
            jnp.asarray(reference),
            jnp.asarray(candidate),
            jnp.asarray([n, m, 1.0 / k], dtype),
            k=k,
            block=_block_for(n, m, block_size),
            dtype=dtype,
            devices=None if devices is None else tuple(devices),
            screen=screen_for(dtype, reference.shape[1]),
        )
