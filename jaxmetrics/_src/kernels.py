"""Kernels for MMD: polynomial (KID) and Gaussian RBF (KAD), on blocks of rows.

A kernel is described by :class:`KernelSpec`: its kind and integer degree are
static (they change the traced program), its real parameters are arrays, so a
sweep over ``gamma``, ``coef0`` or ``bandwidth`` can be ``jax.vmap``-ed.
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.typing import ArrayLike

from jaxmetrics._src import linalg as _linalg
from jaxmetrics._src import precision as _precision
from jaxmetrics._src import routing
from jaxmetrics._src import validation as _validation

KERNELS: tuple[str, ...] = ("polynomial", "rbf")


class KernelSpec(NamedTuple):
    """A kernel: ``kind`` and ``degree`` static, ``gamma``/``coef0`` traced.

    For ``kind="polynomial"``: ``k(a, b) = (gamma * a.b + coef0) ** degree``.
    For ``kind="rbf"``: ``k(a, b) = exp(-gamma * |a - b|^2)`` with
    ``gamma = 1 / (2 bandwidth^2)``; ``coef0`` and ``degree`` are unused.
    """

    kind: str
    degree: int
    gamma: jax.Array
    coef0: jax.Array


def _shifted_power(t: jax.Array, c: jax.Array, degree: int) -> jax.Array:
    """``(t + c)**degree - c**degree``, expanded so nothing cancels.

    Every MMD² estimator is invariant to adding a constant to the kernel
    (the within-set and cross terms carry it with weights 1 + 1 - 2), so the
    metrics use the polynomial kernel minus ``coef0**degree``. Typical
    embeddings give ``gamma * x.y`` of ~1e-3 beside ``coef0 = 1``: subtracting
    afterwards loses ~3 of float32's 7 digits, expanding
    ``sum_j C(p, j) c^(p-j) t^j`` in Horner form loses none.
    """
    acc = jnp.ones_like(t)
    for j in range(degree - 1, 0, -1):
        acc = acc * t + math.comb(degree, j) * c ** (degree - j)
    return acc * t


def kernel_block(spec: KernelSpec, a: jax.Array, b: jax.Array) -> jax.Array:
    """Kernel matrix between the rows of ``a`` ``(p, d)`` and ``b`` ``(q, d)``.

    The polynomial kernel is returned shifted by ``-coef0**degree`` (see
    :func:`_shifted_power`); MMD² values are unchanged by the shift.
    """
    inner = _linalg.matmul(a, b.T)
    if spec.kind == "polynomial":
        return _shifted_power(spec.gamma * inner, spec.coef0, spec.degree)
    sq = jnp.sum(a * a, axis=1)[:, None] + jnp.sum(b * b, axis=1)[None, :] - 2.0 * inner
    return jnp.exp(-spec.gamma * jnp.maximum(sq, 0.0))


def kernel_diagonal(spec: KernelSpec, a: jax.Array) -> jax.Array:
    """``k(a_i, a_i)`` for every row of ``a``, without forming a matrix."""
    if spec.kind == "polynomial":
        return _shifted_power(spec.gamma * jnp.sum(a * a, axis=1), spec.coef0, spec.degree)
    return jnp.ones(a.shape[0], a.dtype)


def kernel_rowwise(spec: KernelSpec, a: jax.Array, b: jax.Array) -> jax.Array:
    """``k(a_i, b_i)`` for paired rows (the diagonal of ``K_ab``)."""
    if spec.kind == "polynomial":
        return _shifted_power(spec.gamma * jnp.sum(a * b, axis=1), spec.coef0, spec.degree)
    diff = a - b
    return jnp.exp(-spec.gamma * jnp.sum(diff * diff, axis=1))


def kernel_gamma(kind: str, dim: int, gamma: Any = None, bandwidth: Any = None) -> Any:
    r"""The ``gamma`` of a kernel, with the defaults every metric shares.

    Polynomial :math:`(\gamma\, a \cdot b + c_0)^p`: ``gamma``, default
    ``1 / dim`` (KID's). RBF :math:`\exp(-\gamma \lVert a - b\rVert^2)`:
    ``gamma = 1 / (2 bandwidth^2)``, for a bandwidth the caller has already
    resolved (given, or a median pairwise distance). The single place these
    defaults are written: single, batched and swept metrics call it.
    """
    if kind == "polynomial":
        return 1.0 / dim if gamma is None else gamma
    return 1.0 / (2.0 * jnp.asarray(bandwidth) ** 2)


def resolve_kernel(
    kernel: str,
    x: Any,
    y: Any,
    degree: int,
    gamma: Any,
    coef0: Any,
    bandwidth: Any,
    precision: str,
) -> tuple[int, Any, Any]:
    """``(degree, gamma, coef0)`` of the kernel; call inside the precision scope.

    For the RBF kernel, ``gamma = 1 / (2 bandwidth^2)``, the bandwidth defaulting
    to the median pairwise distance of ``y``.
    """
    _validation.check_choice(kernel, "kernel", KERNELS)
    if kernel == "polynomial":
        degree = _validation.check_positive_int(degree, "degree")
        _validation.check_parameter(gamma, "gamma", positive=True)
        _validation.check_parameter(coef0, "coef0")
        return degree, kernel_gamma(kernel, x.shape[1], gamma), coef0
    _validation.check_parameter(bandwidth, "bandwidth", positive=True)
    if bandwidth is None:
        bandwidth = median_pairwise_distance(y, precision=precision)
        check_median_bandwidth(bandwidth, "y")
    return 1, kernel_gamma(kernel, x.shape[1], bandwidth=bandwidth), 0.0


def check_median_bandwidth(bandwidth: jax.Array, name: str) -> None:
    """Raise when a median-heuristic bandwidth is 0 (concrete values only).

    A median pairwise distance of 0 means that at least half of the pairs of
    ``name`` are identical rows; the RBF kernel ``exp(-|a-b|^2 / 2 sigma^2)``
    is then undefined, and a bandwidth has to be given explicitly.
    """
    if _validation.is_traced(bandwidth):
        return
    if not float(bandwidth) > 0.0:
        raise ValueError(
            f"the median pairwise distance of {name} is 0 (at least half of its pairs of rows "
            "are identical), so the RBF bandwidth cannot default to it: pass bandwidth="
        )


def _pair_keys(x: jax.Array, rows: jax.Array):
    """Squared distances from rows ``rows`` to every row of ``x``, as order-preserving ints.

    Non-negative IEEE floats order like their bit patterns read as integers.
    Returns ``(keys, valid)``: ``valid`` marks each pair ``(i, j)`` with
    ``i < j`` once. ``x`` is centred, so the Gram formula
    ``|a|^2 + |b|^2 - 2 a.b`` cancels little.
    """
    sq = jnp.sum(x * x, axis=1)
    a = x[jnp.clip(rows, 0, x.shape[0] - 1)]
    d2 = jnp.maximum(
        sq[jnp.clip(rows, 0, x.shape[0] - 1)][:, None] + sq[None, :] - 2.0 * _linalg.matmul(a, x.T),
        0.0,
    )
    valid = (rows[:, None] < jnp.arange(x.shape[0])[None, :]) & (rows[:, None] >= 0)
    int_type = jnp.int64 if x.dtype == jnp.float64 else jnp.int32
    return jax.lax.bitcast_convert_type(d2, int_type), valid


def _digit_width(total_bits: int, pairs: int) -> int:
    """Bits per selection pass: histograms no larger than the pairs need.

    At most ``routing.MEDIAN_MAX_DIGIT``.

    A histogram much larger than the number of entries costs more to clear
    and scan than the pass itself.
    """
    return min(routing.MEDIAN_MAX_DIGIT, max(8, pairs.bit_length()), total_bits)


def _locate_rank(hist: jax.Array, rank: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The bin of ``hist`` holding the entry of 0-based ``rank``, and the rank inside that bin.

    Two levels (block sums, then one block): a cumulative sum over the
    whole histogram is the slowest step of a pass on XLA:CPU.
    """

    def first_passing(counts, rank):
        cum = jnp.cumsum(counts)
        at = jnp.argmax(cum > rank)
        return at, rank - jnp.where(at > 0, cum[jnp.maximum(at - 1, 0)], 0)

    blocks = hist.reshape(1 << (hist.shape[0].bit_length() // 2), -1)
    block, rank = first_passing(blocks.sum(axis=1), rank)
    inner, rank = first_passing(blocks[block], rank)
    return block * blocks.shape[1] + inner, rank


def _select_pair_distances(x: jax.Array, ranks: jax.Array) -> jax.Array:
    """The squared distances of ranks ``ranks`` (0-based, ascending) among all pairs ``i < j``.

    Radix selection on the distances' bit patterns: each pass recomputes the
    distance tiles, counts the next digit of the entries that share the
    prefix found so far, and keeps the digit whose cumulative count passes
    the rank. ``O(n^2 d)`` work per pass, memory of one tile and one
    histogram per rank, exact: every pass runs the same compiled loop body,
    so it sees the same distances bit for bit, and the result is one of
    them.
    """
    n = x.shape[0]
    block = min(routing.MEDIAN_TILE_ROWS, n)
    tiles = jnp.arange(-(-n // block) * block).reshape(-1, block)
    tiles = jnp.where(tiles < n, tiles, -1)
    itemsize = jnp.dtype(x.dtype).itemsize
    total_bits = 8 * itemsize - 1  # the sign bit is always 0
    width = _digit_width(total_bits, n * (n - 1) // 2)
    int_type = jnp.int64 if itemsize == 8 else jnp.int32
    count_ranks, bins = ranks.shape[0], 1 << width
    count_type = jnp.int64 if jax.config.jax_enable_x64 else jnp.int32  # n (n - 1) / 2 pairs

    def one_pass(p, state):
        prefix, remaining = state
        done = p * width
        digit_bits = jnp.minimum(width, total_bits - done).astype(int_type)
        shift = (total_bits - done - digit_bits).astype(int_type)
        mask = (jnp.ones((), int_type) << digit_bits) - 1

        def count(hist, rows):
            keys, valid = _pair_keys(x, rows)
            top = keys >> (shift + digit_bits)  # 0 in the first pass: keys are >= 0
            digit = ((keys >> shift) & mask).astype(jnp.int32)
            # One histogram per rank; entries outside a rank's prefix go past
            # the end and are dropped (cheaper on XLA:CPU than adding zeros).
            slots = [
                jnp.where(valid & (top == prefix[r]), r * bins + digit, count_ranks * bins)
                for r in range(count_ranks)
            ]
            at = jnp.concatenate([slot.reshape(-1) for slot in slots])
            return hist.at[at].add(1, mode="drop"), None

        hist, _ = lax.scan(count, jnp.zeros((count_ranks * bins,), count_type), tiles)
        chosen, remaining = jax.vmap(_locate_rank)(hist.reshape(count_ranks, bins), remaining)
        return (prefix << digit_bits) | chosen.astype(int_type), remaining.astype(count_type)

    passes = -(-total_bits // width)
    start = (jnp.zeros((count_ranks,), int_type), ranks.astype(count_type))
    prefix, _ = lax.fori_loop(0, passes, one_pass, start)
    return jax.lax.bitcast_convert_type(prefix, x.dtype)


@functools.partial(jax.jit, static_argnames=("dtype", "lower"))
def _median_pairwise_distance(x: jax.Array, dtype: jnp.dtype, lower: bool) -> jax.Array:
    x = x.astype(dtype)
    x = x - jnp.mean(x, axis=0)
    n = x.shape[0]
    pairs = n * (n - 1) // 2
    if lower or pairs % 2 == 1:
        return jnp.sqrt(_select_pair_distances(x, jnp.asarray([(pairs - 1) // 2]))[0])
    middle = jnp.sqrt(_select_pair_distances(x, jnp.asarray([pairs // 2 - 1, pairs // 2])))
    return 0.5 * (middle[0] + middle[1])


def median_pairwise_distance(
    x: ArrayLike, *, precision: str = "float64", lower: bool = False
) -> jax.Array:
    """Median Euclidean distance between distinct rows of ``x`` (RBF bandwidth heuristic).

    This is the bandwidth KAD uses by default. Exact at any size: the median
    of all ``n (n - 1) / 2`` pairwise distances, found by radix selection on
    their bit patterns (three passes over the distance tiles in float64, two
    in float32; no sort, memory of one ``256 x n`` tile), the distances
    being those of the centred rows by ``|a|^2 + |b|^2 - 2 a.b``. For an
    even number of pairs the two middle distances are averaged, as
    ``numpy.median`` does; ``lower=True`` gives the lower one, as
    ``torch.median`` (and so kadtk) does.

    Args:
      x: ``(n, d)`` embeddings, ``n >= 2``.
      precision: ``"float64"`` (default) or ``"float32"``.
      lower: return the lower of the two middle distances.

    Returns:
      Scalar median distance.

    References:
      Chung et al., "KAD: No More FAD! An Effective and Efficient Evaluation
      Metric for Audio Generation", arXiv:2502.15602.

    Examples:
      >>> import numpy as np
      >>> import jaxmetrics as jm
      >>> float(jm.median_pairwise_distance(np.array([[0.0], [1.0], [3.0]])))
      2.0

    """
    x = _validation.check_embeddings(x, "x", min_rows=2, why="to form a pair")
    with _precision.precision_scope(precision, _validation.is_traced(x)) as dtype:
        return _median_pairwise_distance(jnp.asarray(x), dtype, bool(lower))
