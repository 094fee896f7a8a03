"""Maximum mean discrepancy: full-set MMD² and KID-style kernel distance over subsets."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.typing import ArrayLike

from jaxmetrics._src import kernels as _kernels
from jaxmetrics._src import linalg as _linalg
from jaxmetrics._src import precision as _precision
from jaxmetrics._src import routing
from jaxmetrics._src import sharding as _sharding
from jaxmetrics._src import validation as _validation
from jaxmetrics._src.kernels import KernelSpec
from jaxmetrics.metrics import subsets as _subsets

# Why this module is long: the full-set MMD² and the subset kernel distance
# share the kernel sums, the kernel resolution and the route between them;
# the subset draws and the peers' presets live in subsets.py.

ESTIMATORS: tuple[str, ...] = ("unbiased", "biased", "u-statistic")

# Kernel-matrix blocks are kept below this many entries (128 MiB in float64).


class KernelDistance(NamedTuple):
    """Mean and standard deviation of the unbiased MMD² over random subsets.

    Attributes:
      mean: mean over subsets (``kernel_distance_mean`` in audio-metrics).
      std: population standard deviation over subsets (``numpy.std``).

    """

    mean: jax.Array
    std: jax.Array


# --------------------------------------------------------------------------
# Weighted kernel sums over whole sets, in row blocks.
# --------------------------------------------------------------------------


def weighted_kernel_sums(
    spec: KernelSpec, a: jax.Array, b: jax.Array, wa: jax.Array, wb: jax.Array
):
    """``wa[k] @ K(a, b) @ wb[k]`` for every row ``k`` of the weight matrices.

    Rows of ``a`` are processed in blocks so the kernel matrix never exists in
    full: peak memory is one ``(block, len(b))`` block.
    """
    n, s = a.shape[0], wa.shape[0]
    block = max(8, min(n, routing.KERNEL_BLOCK_ENTRIES // max(b.shape[0], 1)))
    num_blocks = -(-n // block)
    pad = num_blocks * block - n
    a = jnp.pad(a, ((0, pad), (0, 0)))
    wa = jnp.pad(wa, ((0, 0), (0, pad)))
    a_blocks = a.reshape(num_blocks, block, a.shape[1])
    wa_blocks = wa.reshape(s, num_blocks, block).transpose(1, 2, 0)  # (blocks, block, s)

    def body(acc, blk):
        a_blk, wa_blk = blk
        projected = _linalg.matmul(_kernels.kernel_block(spec, a_blk, b), wb.T)  # (block, s)
        return acc + jnp.sum(wa_blk * projected, axis=0), None

    acc, _ = lax.scan(body, jnp.zeros((s,), a.dtype), (a_blocks, wa_blocks))
    return acc


def count_matrix(indices: jax.Array, n: int, dtype: Any) -> jax.Array:
    """``(subsets, n)`` multiplicities of each row in each subset."""
    rows = jnp.arange(indices.shape[0])[:, None]
    return jnp.zeros((indices.shape[0], n), dtype).at[rows, indices].add(1.0)


def offdiag_kernel_sums(spec: KernelSpec, x: jax.Array, counts: jax.Array) -> jax.Array:
    """Sum over ordered pairs of distinct subset positions of ``k(x_a, x_b)``."""
    total = weighted_kernel_sums(spec, x, x, counts, counts)
    return total - _linalg.matmul(counts, _kernels.kernel_diagonal(spec, x))


def mmd2_from_sums(kxx, kyy, kxy, n, m, estimator, trace_xy=None):
    """MMD² from kernel sums: ``kxx``, ``kyy`` without their diagonals unless biased."""
    if estimator == "biased":
        # kxx, kyy here include their diagonals.
        return kxx / (n * n) + kyy / (m * m) - 2.0 * kxy / (n * m)
    within = kxx / (n * (n - 1)) + kyy / (m * (m - 1))
    if estimator == "unbiased":
        return within - 2.0 * kxy / (n * m)
    return within - 2.0 * (kxy - trace_xy) / (n * (n - 1))


@functools.partial(jax.jit, static_argnames=("kind", "degree", "estimator", "dtype"))
def _mmd2_full(x, y, gamma, coef0, *, kind, degree, estimator, dtype):
    x, y = x.astype(dtype), y.astype(dtype)
    spec = KernelSpec(kind, degree, gamma.astype(dtype), coef0.astype(dtype))
    n, m = x.shape[0], y.shape[0]
    ones_x, ones_y = jnp.ones((1, n), dtype), jnp.ones((1, m), dtype)
    kxy = weighted_kernel_sums(spec, x, y, ones_x, ones_y)[0]
    if estimator == "biased":
        kxx = weighted_kernel_sums(spec, x, x, ones_x, ones_x)[0]
        kyy = weighted_kernel_sums(spec, y, y, ones_y, ones_y)[0]
        return mmd2_from_sums(kxx, kyy, kxy, n, m, estimator)
    kxx = offdiag_kernel_sums(spec, x, ones_x)[0]
    kyy = offdiag_kernel_sums(spec, y, ones_y)[0]
    trace_xy = None
    if estimator == "u-statistic":
        trace_xy = jnp.sum(_kernels.kernel_rowwise(spec, x, y))
    return mmd2_from_sums(kxx, kyy, kxy, n, m, estimator, trace_xy)


def _resolve_kernel(kernel, x, y, degree, gamma, coef0, bandwidth, precision):
    """``(degree, gamma, coef0)`` of the kernel; call inside the precision scope.

    For the RBF kernel, ``gamma = 1 / (2 bandwidth^2)``, the bandwidth defaulting
    to the median pairwise distance of ``y``.
    """
    _validation.check_choice(kernel, "kernel", _kernels.KERNELS)
    if kernel == "polynomial":
        degree = _validation.check_positive_int(degree, "degree")
        _validation.check_parameter(gamma, "gamma", positive=True)
        _validation.check_parameter(coef0, "coef0")
        return degree, _kernels.kernel_gamma(kernel, x.shape[1], gamma), coef0
    _validation.check_parameter(bandwidth, "bandwidth", positive=True)
    if bandwidth is None:
        bandwidth = _kernels.median_pairwise_distance(y, precision=precision)
        _kernels.check_median_bandwidth(bandwidth, "y")
    return 1, _kernels.kernel_gamma(kernel, x.shape[1], bandwidth=bandwidth), 0.0


# Bytes of kernel blocks (three per subset) that one vmapped batch of subsets
# may hold: on the CPU about a last-level cache, elsewhere a memory bound.


def subsets_per_batch(
    num_subsets: int, subset_size: int, dtype: Any, devices: Sequence[jax.Device] | None = None
) -> int:
    """How many subsets are vmapped at once.

    On accelerators, as many as fit three kernel blocks each in 256 MiB. On
    the CPU, as many as keep them in about a last-level cache (32 MiB), and
    at least 2: the products and kernel sums then work from cache (rule
    chosen with ``benchmarks/bench_choices.py --sections kd-batch``).

    Args:
      num_subsets: number of subsets.
      subset_size: rows per subset.
      dtype: float dtype of the computation.
      devices: the devices the subsets run on (``None``: the default backend).

    Returns:
      The batch size for :func:`jax.lax.map`.

    """
    platform = devices[0].platform if devices else jax.default_backend()
    budget = routing.KD_CPU_BATCH_BYTES if platform == "cpu" else routing.KD_DEVICE_BATCH_BYTES
    floor = 2 if platform == "cpu" else 1
    per_subset = 3 * subset_size**2 * jnp.dtype(dtype).itemsize
    return max(1, min(num_subsets, max(floor, budget // per_subset)))


def mmd2(
    x: ArrayLike,
    y: ArrayLike,
    *,
    kernel: str = "polynomial",
    estimator: str = "unbiased",
    degree: int = 3,
    gamma: ArrayLike | None = None,
    coef0: ArrayLike = 1.0,
    bandwidth: ArrayLike | None = None,
    precision: str = "float64",
) -> jax.Array:
    r"""Squared maximum mean discrepancy between two whole embedding sets.

    .. math::
       \widehat{\mathrm{MMD}}^2_u = \frac{1}{n(n-1)}\sum_{i\ne j}k(x_i,x_j)
       + \frac{1}{m(m-1)}\sum_{i\ne j}k(y_i,y_j) - \frac{2}{nm}\sum_{i,j}k(x_i,y_j)

    Kernel sums are accumulated in row blocks: memory stays at one
    ``(block, n)`` kernel block, never a full ``n x m`` matrix.

    Args:
      x: ``(n, d)`` embeddings (the reference set by convention).
      y: ``(m, d)`` embeddings.
      kernel: ``"polynomial"`` (``(gamma x.y + coef0)^degree``, KID) or
        ``"rbf"`` (``exp(-|x-y|^2 / (2 bandwidth^2))``, KAD).
      estimator: ``"unbiased"`` (default), ``"biased"`` (diagonals included)
        or ``"u-statistic"`` (needs ``n == m``; also drops ``k(x_i, y_i)``).
      degree: polynomial degree (static: changing it recompiles).
      gamma: polynomial scale, default ``1 / d``; may be a traced value.
      coef0: polynomial offset, default 1.
      bandwidth: RBF bandwidth; default: the median pairwise distance of ``y``
        (the median heuristic, as kadtk computes it on the evaluation set).
      precision: ``"float64"`` (default) or ``"float32"``.

    Returns:
      Scalar MMD² (can be slightly negative for the unbiased estimators).

    References:
      Gretton et al., "A Kernel Two-Sample Test", JMLR 2012;
      Bińkowski et al., "Demystifying MMD GANs", arXiv:1801.01401 (KID).

    Examples:
      >>> import numpy as np
      >>> import jaxmetrics as jm
      >>> rng = np.random.default_rng(0)
      >>> x, y = rng.normal(size=(200, 8)), rng.normal(1.0, size=(200, 8))
      >>> float(jm.mmd2(x, y)) > float(jm.mmd2(x, rng.normal(size=(200, 8))))
      True

    """
    x = _validation.check_embeddings(x, "x", min_rows=2, why="for an unbiased MMD estimate")
    y = _validation.check_embeddings(y, "y", min_rows=2, why="for an unbiased MMD estimate")
    _validation.check_same_dim(x, y, "x", "y")
    _validation.check_choice(estimator, "estimator", ESTIMATORS)
    if estimator == "u-statistic" and x.shape[0] != y.shape[0]:
        raise ValueError(
            "estimator='u-statistic' needs x and y of the same size, "
            f"got {x.shape[0]} and {y.shape[0]}"
        )
    traced = _validation.is_traced(x, y, gamma, coef0, bandwidth)
    with _precision.precision_scope(precision, traced) as dtype:
        degree, gamma, coef0 = _resolve_kernel(
            kernel, x, y, degree, gamma, coef0, bandwidth, precision
        )
        return _mmd2_full(
            jnp.asarray(x),
            jnp.asarray(y),
            jnp.asarray(gamma),
            jnp.asarray(coef0),
            kind=kernel,
            degree=degree,
            estimator=estimator,
            dtype=dtype,
        )


KADTK_SCALE = 100.0  # kadtk reports 100 MMD²
KADTK_EPS = 1e-8  # kadtk's gamma = 1 / (2 sigma^2 + eps)


def kad(
    reference: ArrayLike,
    candidate: ArrayLike,
    *,
    bandwidth: ArrayLike | None = None,
    precision: str = "float64",
) -> jax.Array:
    r"""Kernel audio distance (KAD) as kadtk defines it: the kadtk preset of :func:`mmd2`.

    .. math::
       \mathrm{KAD} = 100\,\widehat{\mathrm{MMD}}^2_u,\qquad
       k(a, b) = \exp\!\Big(-\frac{\lVert a-b\rVert^2}{2\sigma^2 + 10^{-8}}\Big)

    with the unbiased estimator (within-set means over distinct pairs) and
    ``sigma`` by default the *lower* median of the pairwise distances of the
    candidate (evaluation) set, as kadtk's ``calc_kernel_audio_distance``
    takes it (``torch.median`` of ``torch.pdist``). It is
    ``100 * mmd2(reference, candidate, kernel="rbf",
    bandwidth=sqrt(sigma^2 + 5e-9))``. kadtk computes its median from
    float32 distances; here every pair is used and the median is exact in
    the working precision (:func:`median_pairwise_distance`), so the two
    bandwidths agree to float32 rounding unless ``bandwidth`` is given.

    Args:
      reference: ``(n, d)`` reference (background) embeddings.
      candidate: ``(m, d)`` evaluation embeddings.
      bandwidth: ``sigma``; default the lower median pairwise distance of ``candidate``.
      precision: ``"float64"`` (default) or ``"float32"``.

    Returns:
      Scalar KAD.

    References:
      Chung et al., "KAD: No More FAD! An Effective and Efficient Evaluation
      Metric for Audio Generation", arXiv:2502.15602.

    """
    candidate = _validation.check_embeddings(candidate, "candidate", min_rows=2, why="for KAD")
    _validation.check_parameter(bandwidth, "bandwidth", positive=True)
    if bandwidth is None:
        bandwidth = _kernels.median_pairwise_distance(candidate, precision=precision, lower=True)
        _kernels.check_median_bandwidth(bandwidth, "candidate")
    traced = _validation.is_traced(reference, candidate, bandwidth)
    with _precision.precision_scope(precision, traced):
        effective = jnp.sqrt(jnp.asarray(bandwidth) ** 2 + KADTK_EPS / 2)
        value = mmd2(reference, candidate, kernel="rbf", bandwidth=effective, precision=precision)
        return KADTK_SCALE * value


# --------------------------------------------------------------------------
# Kernel distance: unbiased MMD² over random subsets.
# --------------------------------------------------------------------------


def _pick_blocks(size: int) -> int:
    """Number of equal row blocks used to exploit the symmetry of K_xx."""
    for blocks in (4, 3, 2):
        if size % blocks == 0 and size // blocks >= 64:
            return blocks
    return 1


def _symmetric_offdiag_sum(spec: KernelSpec, x: jax.Array) -> jax.Array:
    """``sum_{i != j} k(x_i, x_j)`` computing only blocks on and above the diagonal."""
    size = x.shape[0]
    blocks = _pick_blocks(size)
    width = size // blocks
    parts = [x[i * width : (i + 1) * width] for i in range(blocks)]
    total = jnp.zeros((), x.dtype)
    for i in range(blocks):
        total += jnp.sum(_kernels.kernel_block(spec, parts[i], parts[i]))
        for j in range(i + 1, blocks):
            total += 2.0 * jnp.sum(_kernels.kernel_block(spec, parts[i], parts[j]))
    return total - jnp.sum(_kernels.kernel_diagonal(spec, x))


def subset_mmd2(spec: KernelSpec, xs: jax.Array, ys: jax.Array) -> jax.Array:
    """Unbiased MMD² of each pair of subsets ``xs[i]``, ``ys[i]`` (``(s, size, d)`` stacks)."""
    s = xs.shape[0]
    kxx = _symmetric_offdiag_sum(spec, xs)
    kyy = _symmetric_offdiag_sum(spec, ys)
    kxy = jnp.sum(_kernels.kernel_block(spec, xs, ys))
    return mmd2_from_sums(kxx, kyy, kxy, s, s, "unbiased")


@functools.partial(
    jax.jit, static_argnames=("kind", "degree", "route", "batch", "dtype", "devices")
)
def _kernel_distance(
    x, y, idx_x, idx_y, gamma, coef0, *, kind, degree, route, batch, dtype, devices
):
    x, y = x.astype(dtype), y.astype(dtype)
    spec = KernelSpec(kind, degree, gamma.astype(dtype), coef0.astype(dtype))
    s = idx_x.shape[1]
    if route == "whole":
        cx = count_matrix(idx_x, x.shape[0], dtype)
        cy = count_matrix(idx_y, y.shape[0], dtype)
        kxx = offdiag_kernel_sums(spec, x, cx)
        kyy = offdiag_kernel_sums(spec, y, cy)
        kxy = weighted_kernel_sums(spec, x, y, cx, cy)
        values = mmd2_from_sums(kxx, kyy, kxy, s, s, "unbiased")
    else:

        def local(_, ix, iy):
            return lax.map(
                lambda ij: subset_mmd2(spec, x[ij[0]], y[ij[1]]), (ix, iy), batch_size=batch
            )

        values = _sharding.map_over_shards(local, None, [idx_x, idx_y], _sharding.as_list(devices))[
            : idx_x.shape[0]
        ]
    return KernelDistance(values.mean(), values.std()), values


def choose_route(n_x: int, n_y: int, d: int, num_subsets: int, subset_size: int) -> str:
    """``"whole"`` when forming whole-set kernel blocks once is cheaper than per subset."""
    whole = (n_x * n_x + n_y * n_y + n_x * n_y) * (d + 2 * num_subsets)
    per_subset = num_subsets * 2.5 * subset_size * subset_size * d
    return "whole" if whole < per_subset else "subsets"


def kernel_distance(
    x: ArrayLike,
    y: ArrayLike,
    *,
    key: jax.Array | None = None,
    num_subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    gamma: ArrayLike | None = None,
    coef0: ArrayLike = 1.0,
    kernel: str = "polynomial",
    bandwidth: ArrayLike | None = None,
    subset_indices: tuple[ArrayLike, ArrayLike] | None = None,
    precision: str = "float64",
    return_values: bool = False,
    devices: Sequence[jax.Device] | str | None = None,
) -> KernelDistance | tuple[KernelDistance, jax.Array]:
    r"""Kernel (inception-style) distance: unbiased MMD² averaged over random subsets.

    For each of ``num_subsets`` pairs of subsets of ``subset_size`` rows drawn
    without replacement, the unbiased MMD² (see :func:`mmd2`) is computed;
    the mean and standard deviation over subsets are returned. Subsets are
    vmapped in memory-bounded batches. When the sets are small enough
    (roughly ``N^2 < subsets x subset_size^2``), the whole-set kernel blocks
    are formed once and each subset's sums are read off them with
    multiplicity vectors, which does several times fewer flops and gives the
    same value.

    If ``subset_size >= min(len(x), len(y))`` it is reduced to half the
    smaller set, with a warning (the audio-metrics/torch-fidelity rule).

    Args:
      x: ``(n, d)`` reference embeddings.
      y: ``(m, d)`` candidate embeddings.
      key: PRNG key for the subsets; default ``jax.random.key(0)``.
      num_subsets: number of subset pairs.
      subset_size: rows per subset.
      degree: polynomial degree (static).
      gamma: polynomial scale, default ``1 / d`` (traceable).
      coef0: polynomial offset (traceable).
      kernel: ``"polynomial"`` (default, KID) or ``"rbf"``.
      bandwidth: RBF bandwidth; default median pairwise distance of ``y``.
      subset_indices: explicit ``(idx_x, idx_y)`` integer arrays of shape
        ``(num_subsets, subset_size)``, e.g. from :func:`jaxmetrics.numpy_subset_indices`,
        to reproduce another implementation exactly; overrides ``key``,
        ``num_subsets`` and ``subset_size``.
      precision: ``"float64"`` (default) or ``"float32"``.
      return_values: also return the per-subset MMD² values.
      devices: ``None`` (default device), ``"all"`` local devices or a list of
        devices: the subsets are spread over them (``jax.shard_map``; this
        always takes the per-subset route). Same subsets, same result.

    Returns:
      :class:`KernelDistance` ``(mean, std)``; with ``return_values``, a pair
      ``(KernelDistance, values)``.

    References:
      Bińkowski et al., "Demystifying MMD GANs", arXiv:1801.01401.

    Examples:
      >>> import numpy as np
      >>> import jaxmetrics as jm
      >>> rng = np.random.default_rng(0)
      >>> x, y = rng.normal(size=(400, 16)), rng.normal(0.5, size=(400, 16))
      >>> kd = jm.kernel_distance(x, y, num_subsets=20, subset_size=100)
      >>> float(kd.mean) > 0
      True

    """
    x = _validation.check_embeddings(x, "x", min_rows=4, why="to draw subsets")
    y = _validation.check_embeddings(y, "y", min_rows=4, why="to draw subsets")
    _validation.check_same_dim(x, y, "x", "y")
    (n_x, d), n_y = x.shape, y.shape[0]
    if subset_indices is not None:
        idx_x, idx_y = _subsets.check_indices(subset_indices, n_x, n_y)
        num_subsets, subset_size = idx_x.shape
    else:
        num_subsets = _validation.check_positive_int(num_subsets, "num_subsets")
        subset_size = _validation.check_positive_int(subset_size, "subset_size", minimum=2)
        subset_size = _subsets.effective_subset_size(n_x, n_y, subset_size)
    traced = _validation.is_traced(x, y, gamma, coef0, bandwidth)
    with _precision.precision_scope(precision, traced) as dtype:
        degree, gamma, coef0 = _resolve_kernel(
            kernel, x, y, degree, gamma, coef0, bandwidth, precision
        )
        if subset_indices is None:
            key = _validation.as_key(key)
            idx_x, idx_y = _subsets.random_subset_indices(key, n_x, n_y, num_subsets, subset_size)
        devices = _sharding.resolve_devices(devices)
        route = (
            choose_route(n_x, n_y, d, num_subsets, subset_size) if devices is None else "subsets"
        )
        batch = subsets_per_batch(num_subsets, subset_size, dtype, devices)
        result, values = _kernel_distance(
            jnp.asarray(x),
            jnp.asarray(y),
            jnp.asarray(idx_x),
            jnp.asarray(idx_y),
            jnp.asarray(gamma),
            jnp.asarray(coef0),
            kind=kernel,
            degree=degree,
            route=route,
            batch=batch,
            dtype=dtype,
            devices=None if devices is None else tuple(devices),
        )
    return (result, values) if return_values else result
