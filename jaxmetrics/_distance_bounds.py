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

Before any of this, :func:`normalise` scales all sets by one power of two
so that the centred data have a largest coordinate in ``[1/2, 1)``: squares
of differences can then neither overflow nor (but for coordinates far below
the data's spread) underflow, and the scaling itself is exact.

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

from jaxmetrics import _linalg

__all__ = [
    "Screen",
    "brackets",
    "lower",
    "normalise",
    "pair_sq_distances",
    "screen",
    "upper",
]

_TINY = 2.0**-80
_SMALL_RADIUS = 2.0**-100  # radii below this get brackets that flush-to-zero cannot move
_MIN_EXPONENT = -900  # the second scaling never multiplies by more than 2^900


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


def normalise(ref: jax.Array, cands: jax.Array, counts: jax.Array):
    """Scale a reference and a stack of candidate sets by one power of two.

    Args:
      ref: ``(n, d)`` reference rows.
      cands: ``(s, m, d)`` candidate sets, rows past ``counts`` being padding.
      counts: ``(s,)`` real rows per set.

    Returns:
      ``(ref, cands, mu)`` scaled (exactly, by a power of two) so that the
      largest ``|x - mu|`` over all real rows lies in ``[1/2, 1)``, and the
      reference mean ``mu`` of the scaled data.

    """
    valid = (jnp.arange(cands.shape[1]) < counts[:, None])[..., None]

    big = jnp.maximum(jnp.max(jnp.abs(ref)), jnp.max(jnp.where(valid, jnp.abs(cands), 0.0)))
    e1 = _linalg.binary_exponent(big)
    ref, cands = jnp.ldexp(ref, -e1), jnp.ldexp(cands, -e1)
    mu = jnp.mean(ref, axis=0)
    spread = jnp.maximum(
        jnp.max(jnp.abs(ref - mu)), jnp.max(jnp.where(valid, jnp.abs(cands - mu), 0.0))
    )
    e2 = jnp.maximum(_linalg.binary_exponent(spread), _MIN_EXPONENT)
    return jnp.ldexp(ref, -e2), jnp.ldexp(cands, -e2), jnp.ldexp(mu, -e2)


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
