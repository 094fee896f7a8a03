"""Squared Euclidean distances for exact k-NN decisions, and float32 bounds on them.

The *difference formula* :func:`pair_sq_distances` defines the squared
distance that every PRDC decision uses: ``t = (a - b)**2`` elementwise, then
the halves of ``t`` (zero-padded to a power-of-two length) added until one
value is left. Only IEEE elementwise operations in one fixed order are
involved, so a pair gets the same bits in any batch shape, tile or device.
With ``p = ceil(log2 d)`` its relative error is at most
``gamma_{p+3} = (p+3) u / (1 - (p+3) u)`` (one rounding for the difference,
counted twice by the square, one for the square, ``p`` for the additions of
non-negative terms); it is exact when every intermediate is representable,
as on integer or coarse dyadic data and for duplicated rows (distance 0).

Before any of this, :func:`normalise` finds one power of two for all sets
such that the scaled, centred data have a largest coordinate in
``[1/2, 1)``: squares of differences can then neither overflow nor (but for
coordinates far below the data's spread) underflow, and the scaling itself
is exact. Rows are scaled (:func:`scaled`) when they are read, tile by
tile; sets at the ends of the format, where XLA:CPU would flush subnormal
numbers to zero, are first brought into range on the host
(:func:`lift_to_normal_range`).

Screening. ``w = (s_a' + s_b') - 2 a'.b'`` in float32, with ``a'`` the
float32 rows centred on a common ``mu`` and ``s'`` their squared norms, is
within ``c (s_a + s_b) + tiny`` of the difference formula, where ``c`` sums:

* float32 products of length ``d`` in any order, FMA or not, and the
  rounding of the row offsets (Higham, *Accuracy and Stability*, Sec. 3.1):
  ``t / (1 - 4 t)`` with ``t = (d + 16) 2^-24``;
* centring in the working precision ``u_w``: ``5 u_w``; the working
  squared norms: ``gamma_d(u_w)``;
* the difference formula's own error, ``gamma_{p+3}(u_w)`` relative to a
  distance at most ``2 (s_a + s_b)``: ``3 gamma_{p+3}(u_w)``,

times 1.25 for margin, and ``tiny = 2^-80`` covers every float32 underflow
(inputs, products and sums flushed to zero) for ``d <= 2^20``. The bound is
applied through per-row offsets ``s -/+ (c s + tiny/2)``, so a tile of lower
and upper bounds costs one float32 matrix product and two additions.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxmetrics._src import linalg as _linalg
from jaxmetrics._src import routing

__all__ = [
    "Scaling",
    "Screen",
    "brackets",
    "lift_to_normal_range",
    "lower",
    "normalise",
    "pair_sq_distances",
    "scaled",
    "screen",
    "upper",
]

_TINY = 2.0**-80
_SMALL_RADIUS = 2.0**-100  # radii below this get brackets that flush-to-zero cannot move


def pair_sq_distances(a: jax.Array, b: jax.Array) -> jax.Array:
    """Squared distances between broadcast rows of ``a`` and ``b`` by the difference formula.

    Args:
      a: ``(..., d)`` rows.
      b: ``(..., d)`` rows, broadcastable against ``a``.

    Returns:
      ``sum((a - b)**2, axis=-1)`` summed pairwise in a fixed order.

    """
    t = a - b
    t = t * t
    d = t.shape[-1]
    width = 1 << max(d - 1, 0).bit_length()
    if width != d:
        t = jnp.concatenate([t, jnp.zeros((*t.shape[:-1], width - d), t.dtype)], axis=-1)
    while t.shape[-1] > 1:
        half = t.shape[-1] // 2
        t = t[..., :half] + t[..., half:]
    return t[..., 0]


def _gamma(n: int, u: float) -> float:
    return n * u / (1 - n * u)


def bound_factor(d: int, dtype) -> float:
    """The relative factor ``c`` of the screening bound at dimension ``d`` (module docstring)."""
    u32 = 2.0**-24
    uw = float(jnp.finfo(dtype).eps) / 2
    t = (d + 16) * u32
    levels = max(d - 1, 0).bit_length()
    c = t / (1 - 4 * t) + 5 * uw + _gamma(d, uw) + 3 * _gamma(levels + 3, uw)
    return 1.25 * c


class Scaling(NamedTuple):
    """How rows enter the difference formula: ``(x.astype(dtype) * f1) * f2`` and the centre ``mu``.

    ``f1 f2`` is a power of two, each factor representable in ``dtype``, so
    the scaling is exact wherever its result is a normal number.
    """

    f1: jax.Array
    f2: jax.Array
    mu: jax.Array  # (d,) mean of the scaled reference, in dtype


def scaled(rows: jax.Array, s: Scaling) -> jax.Array:
    """``rows`` (any float dtype) in the working dtype of ``s``, scaled by two exact products."""
    return (rows.astype(s.mu.dtype) * s.f1) * s.f2


def _power_of_two(shift: jax.Array, dtype) -> tuple[jax.Array, jax.Array]:
    """Two representable powers of two with product ``2^shift``, the first as large as can be."""
    info = jnp.finfo(dtype)
    first = jnp.clip(shift, info.minexp, info.maxexp - 1)
    one = jnp.ones((), dtype)
    return jnp.ldexp(one, first), jnp.ldexp(one, shift - first)


def _fold_rows(x: jax.Array, real, fn, reduce):
    """``reduce`` of ``fn(rows, mask)`` over chunks of rows of ``x`` (memory: one chunk).

    ``real(at)`` says which global row indices ``at`` are real rows.
    """
    n = x.shape[0]
    chunk = min(routing.NORMALISE_CHUNK, n)

    def one(i):
        at = i * chunk + jnp.arange(chunk)
        return fn(x[jnp.minimum(at, n - 1)], real(at) & (at < n))

    return reduce(lax.map(one, jnp.arange(-(-n // chunk))))


def normalise(ref: jax.Array, cands: jax.Array, counts: jax.Array, dtype) -> Scaling:
    """The power-of-two scaling shared by a reference and a stack of candidate sets.

    Args:
      ref: ``(n, d)`` reference rows (any float dtype; never copied whole).
      cands: ``(s, m, d)`` candidate sets, rows past ``counts`` being padding.
      counts: ``(s,)`` real rows per set.
      dtype: the working dtype.

    Returns:
      The :class:`Scaling` under which the largest ``|x - mu|`` over all
      real rows lies in ``[1/2, 1)`` (or, for sets whose spread is below
      ``2^-900`` of their magnitude, ``2^-100`` in float32, as close as the
      format allows), ``mu`` being the mean of the scaled reference.

    """
    s, m, d = cands.shape
    flat = cands.reshape(s * m, d)
    counts = jnp.asarray(counts)

    def every(at):
        return jnp.ones(at.shape, bool)

    def in_set(at):
        return (at % m) < counts[jnp.minimum(at // m, s - 1)]

    def largest(scaling: Scaling, centre) -> jax.Array:
        def fn(rows, mask):
            gap = jnp.abs(scaled(rows, scaling) - centre)
            return jnp.max(jnp.where(mask[:, None], gap, 0.0))

        return jnp.maximum(
            _fold_rows(ref, every, fn, jnp.max), _fold_rows(flat, in_set, fn, jnp.max)
        )

    one = jnp.ones((), dtype)
    e1 = _linalg.binary_exponent(largest(Scaling(one, one, one), 0.0))
    first = Scaling(*_power_of_two(-e1, dtype), one)

    def total(rows, mask):
        return jnp.sum(jnp.where(mask[:, None], scaled(rows, first), 0.0), axis=0)

    mu = _fold_rows(ref, every, total, lambda parts: parts.sum(axis=0)) / ref.shape[0]
    floor = -900 if jnp.finfo(dtype).maxexp > 128 else -100
    e2 = jnp.maximum(_linalg.binary_exponent(largest(first, mu)), floor)
    f1, f2 = _power_of_two(-e1 - e2, dtype)
    return Scaling(f1, f2, scaled(mu, Scaling(*_power_of_two(-e2, dtype), mu)))


def _largest_finite_magnitude(x) -> float:
    """``max |x|`` over finite entries, subnormals included (0 for integers and empty arrays)."""
    if not jnp.issubdtype(x.dtype, jnp.floating):
        return 1.0  # integers: never near the ends of a float format
    if isinstance(x, np.ndarray):
        return float(np.max(np.abs(x), where=np.isfinite(x), initial=0.0))
    # On the device by bit patterns: XLA:CPU arithmetic would flush subnormals to 0.
    width = jnp.dtype(x.dtype).itemsize * 8
    ints = {16: jnp.int16, 32: jnp.int32, 64: jnp.int64}[width]
    bits = lax.bitcast_convert_type(x, ints) & ((1 << (width - 1)) - 1)
    inf_bits = lax.bitcast_convert_type(jnp.asarray(jnp.inf, x.dtype), ints)
    top = jnp.max(jnp.where(bits < inf_bits, bits, 0))
    return float(np.asarray(top).view(np.dtype(x.dtype)))


def lift_to_normal_range(sets: list, dtype) -> list:
    """Scale concrete sets by one power of two on the host when they are near the ends of ``dtype``.

    XLA:CPU flushes subnormal numbers to zero, so sets whose largest
    magnitude is below ``2^-960`` (float64) or ``2^-60`` (float32) would lose
    their digits inside jit, and float64 sets beyond ``2^100`` would
    overflow when computed in float32. PRDC is invariant under a common
    power-of-two scaling, which :func:`numpy.ldexp` applies exactly; such
    sets come back as scaled copies (the caller's arrays are never
    modified), all others unchanged. Traced sets are returned as they are.
    """
    if any(isinstance(x, jax.core.Tracer) for x in sets):
        return sets
    big = max(_largest_finite_magnitude(x) for x in sets)
    low, high = (2.0**-960, np.inf) if jnp.finfo(dtype).maxexp > 128 else (2.0**-60, 2.0**100)
    if big == 0.0 or low <= big < high:
        return sets
    shift = -int(np.frexp(big)[1])
    lifted = []
    for x in sets:
        kind = np.result_type(x.dtype, np.float32)  # floats keep their dtype
        lifted.append(np.ldexp(np.asarray(x, np.float64), shift).astype(kind))
    return lifted


class Screen(NamedTuple):
    """Float32 view of rows for bounding their distances.

    Attributes:
      rows: ``(n, d)`` float32 rows centred on the common ``mu``.
      low: ``(n,)`` float32 ``s - (c s + tiny/2)``, ``s`` the squared centred norm.
      high: ``(n,)`` float32 ``s + (c s + tiny/2)``.

    """

    rows: jax.Array
    low: jax.Array
    high: jax.Array


def screen(x: jax.Array, mu: jax.Array) -> Screen:
    """The :class:`Screen` of rows ``x`` (working dtype, normalised) around ``mu``."""
    c = bound_factor(x.shape[-1], x.dtype)
    centred = x - mu
    s = jnp.sum(centred * centred, axis=-1)
    slack = c * s + _TINY / 2
    f32 = jnp.float32
    return Screen(centred.astype(f32), (s - slack).astype(f32), (s + slack).astype(f32))


def lower(inner: jax.Array, low_a: jax.Array, low_b: jax.Array) -> jax.Array:
    """Lower bounds of the difference-formula distances of a tile (``inner``: float32 ``a'.b'``)."""
    return (low_a[:, None] + low_b[None, :]) - 2.0 * inner


def upper(inner: jax.Array, high_a: jax.Array, high_b: jax.Array) -> jax.Array:
    """Upper bounds of the difference-formula distances of a tile."""
    return (high_a[:, None] + high_b[None, :]) - 2.0 * inner


def brackets(r2: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Float32 ``(down, up)`` around squared radii, for deciding ``d2 < r2`` from bounds.

    A distance whose upper bound is ``< down`` is inside the ball; one whose
    lower bound is ``>= up`` is outside; others are open. A radius of 0 (or
    ``-inf``, padding) is an empty ball: ``(-inf, -inf)`` leaves nothing
    inside and nothing open. Radii below 2^-100 get ``(-2^-100, 2^-100)``:
    normal numbers, which flush-to-zero cannot move.
    """
    near = r2.astype(jnp.float32)
    back = near.astype(r2.dtype)
    down = jnp.where(back > r2, jnp.nextafter(near, -jnp.inf), near)
    up = jnp.where(back < r2, jnp.nextafter(near, jnp.inf), near)
    small = (r2 < _SMALL_RADIUS) & (r2 > 0)
    empty = ~(r2 > 0)
    down = jnp.where(small, -_SMALL_RADIUS, jnp.where(empty, -jnp.inf, down))
    up = jnp.where(small, _SMALL_RADIUS, jnp.where(empty, -jnp.inf, up))
    return down, up
