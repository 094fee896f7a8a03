"""Kernel (inception-style) distance: unbiased MMD² averaged over random subsets (KID).

The single form compares two sets; the batched form one reference with many
candidate sets, drawing for each set exactly the subsets the single form
would draw for it, and sharing the reference's kernel sums between sets.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.typing import ArrayLike

from jaxmetrics._src import kernel_sums as _kernel_sums
from jaxmetrics._src import kernels as _kernels
from jaxmetrics._src import precision as _precision
from jaxmetrics._src import routing
from jaxmetrics._src import sharding as _sharding
from jaxmetrics._src import validation as _validation
from jaxmetrics._src.kernels import KernelSpec
from jaxmetrics.metrics import sets as _sets
from jaxmetrics.metrics import subsets as _subsets

# Why a set needs 4 rows: subsets of at least 2 rows (an unbiased estimate)
# drawn without replacement from a set with more rows than a subset.
_DRAW = "to draw subsets"


class KernelDistance(NamedTuple):
    """Mean and standard deviation of the unbiased MMD² over random subsets.

    Attributes:
      mean: mean over subsets (``kernel_distance_mean`` in audio-metrics).
      std: population standard deviation over subsets (``numpy.std``).

    """

    mean: jax.Array
    std: jax.Array


def subsets_per_batch(
    num_subsets: int,
    subset_size: int,
    dtype: Any,
    devices: Sequence[jax.Device] | None = None,
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
        cx = _kernel_sums.count_matrix(idx_x, x.shape[0], dtype)
        cy = _kernel_sums.count_matrix(idx_y, y.shape[0], dtype)
        kxx = _kernel_sums.offdiag_kernel_sums(spec, x, cx)
        kyy = _kernel_sums.offdiag_kernel_sums(spec, y, cy)
        kxy = _kernel_sums.weighted_kernel_sums(spec, x, y, cx, cy)
        values = _kernel_sums.mmd2_from_sums(kxx, kyy, kxy, s, s, "unbiased")
    else:

        def local(_, ix, iy):
            return lax.map(
                lambda ij: _kernel_sums.subset_mmd2(spec, x[ij[0]], y[ij[1]]),
                (ix, iy),
                batch_size=batch,
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
    devices: _sets.Devices = None,
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
    x = _validation.check_embeddings(x, "x", min_rows=4, why=_DRAW)
    y = _validation.check_embeddings(y, "y", min_rows=4, why=_DRAW)
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
        degree, gamma, coef0 = _kernels.resolve_kernel(
            kernel, x, y, degree, gamma, coef0, bandwidth, precision
        )
        if subset_indices is None:
            key = _validation.as_key(key)
            idx_x, idx_y = _subsets.random_subset_indices(key, n_x, n_y, num_subsets, subset_size)
        devices = _sets.resolve_devices(devices)
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
            devices=devices,
        )
    return (result, values) if return_values else result


@functools.partial(
    jax.jit,
    static_argnames=("kind", "degree", "route", "num_subsets", "size", "batch", "dtype", "devices"),
)
def _kd_batch(
    x,
    cands,
    counts,
    key,
    gammas,
    coef0,
    *,
    kind,
    degree,
    route,
    num_subsets,
    size,
    batch,
    dtype,
    devices,
):
    x = x.astype(dtype)
    n_x, total = x.shape[0], cands.shape[1]
    key_x, key_y = jax.random.split(key)
    idx_x = _subsets.draw_subsets(key_x, n_x, n_x, num_subsets, size)

    def spec_for(gamma):
        return KernelSpec(kind, degree, gamma.astype(dtype), coef0.astype(dtype))

    if route == "whole":
        cx = _kernel_sums.count_matrix(idx_x, n_x, dtype)
        shared_x = (
            cx,
            _kernel_sums.offdiag_kernel_sums(spec_for(gammas[0]), x, cx)
            if kind == "polynomial"
            else None,
        )
    else:
        shared_x = (None, None)

    def one(shared, y, m, gamma):
        cx, kxx = shared
        spec = spec_for(gamma)
        y = jnp.where((jnp.arange(total) < m)[:, None], y.astype(dtype), 0.0)
        idx_y = _subsets.draw_subsets(key_y, total, m, num_subsets, size)
        if route == "whole":
            cy = _kernel_sums.count_matrix(idx_y, total, dtype)
            if kxx is None:  # rbf: the bandwidth (hence K_xx) differs per set
                kxx = _kernel_sums.offdiag_kernel_sums(spec, x, cx)
            kyy = _kernel_sums.offdiag_kernel_sums(spec, y, cy)
            kxy = _kernel_sums.weighted_kernel_sums(spec, x, y, cx, cy)
            return _kernel_sums.mmd2_from_sums(kxx, kyy, kxy, size, size, "unbiased")
        return lax.map(
            lambda ij: _kernel_sums.subset_mmd2(spec, x[ij[0]], y[ij[1]]),
            (idx_x, idx_y),
            batch_size=batch,
        )

    values = _sets.map_sets(one, shared_x, [cands, counts, gammas], devices)
    return KernelDistance(values.mean(axis=1), values.std(axis=1)), values


def kernel_distance_batch(
    reference: ArrayLike,
    candidates: ArrayLike | Sequence[ArrayLike],
    *,
    counts: ArrayLike | None = None,
    key: jax.Array | None = None,
    num_subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    gamma: ArrayLike | None = None,
    coef0: ArrayLike = 1.0,
    kernel: str = "polynomial",
    bandwidth: ArrayLike | None = None,
    precision: str = "float64",
    devices: _sets.Devices = None,
    return_values: bool = False,
) -> KernelDistance | tuple[KernelDistance, jax.Array]:
    """Kernel distance from one reference to each of many candidate sets.

    With the same ``key``, every set gets exactly the subsets that
    :func:`kernel_distance` would draw for it alone (subset draws do not
    depend on padding), so each result equals the single call. The reference
    subsets are shared by all sets and their kernel sums computed once.

    One subset size serves every set, so that their values are comparable: if
    ``subset_size`` is not smaller than the reference or the smallest set, it
    is reduced as :func:`kernel_distance` reduces it for that pair, with the
    same warning (:func:`jaxmetrics.effective_subset_size`).

    Args:
      reference: ``(n, d)`` reference embeddings.
      candidates: ``(s, m, d)`` stack, or a list of ``(m_i, d)`` arrays.
      counts: true row counts of a padded stack.
      key: PRNG key (default ``jax.random.key(0)``).
      num_subsets: number of subset pairs.
      subset_size: rows per subset (reduced, with a warning, when the
        reference or the smallest set is not larger).
      degree: polynomial degree.
      gamma: polynomial scale (default ``1 / d``).
      coef0: polynomial offset.
      kernel: ``"polynomial"`` or ``"rbf"``.
      bandwidth: RBF bandwidth; default: each set's own median pairwise distance.
      precision: ``"float64"`` (default) or ``"float32"``.
      devices: as in :func:`jaxmetrics.frechet_distance_batch`.
      return_values: also return the ``(s, num_subsets)`` MMD² values.

    Returns:
      :class:`KernelDistance` of ``(s,)`` arrays (and the values if asked).

    References:
      Bińkowski et al., arXiv:1801.01401.

    """
    _validation.check_choice(kernel, "kernel", _kernels.KERNELS)
    num_subsets = _validation.check_positive_int(num_subsets, "num_subsets")
    subset_size = _validation.check_positive_int(subset_size, "subset_size", minimum=2)
    degree = _validation.check_positive_int(degree, "degree")
    reference = _validation.check_embeddings(reference, "reference", min_rows=4, why=_DRAW)
    cands, counts = _sets.check_candidates(
        candidates, counts, name="candidates", min_rows=4, why=_DRAW
    )
    _validation.check_same_dim(reference, cands, "reference", "candidates")
    subset_size = _subsets.effective_subset_size(reference.shape[0], int(counts.min()), subset_size)
    _validation.check_parameter(gamma, "gamma", positive=True)
    _validation.check_parameter(coef0, "coef0")
    _validation.check_parameter(bandwidth, "bandwidth", positive=True)
    key = _validation.as_key(key)
    devices = _sets.resolve_devices(devices)
    (n_x, d), (s, total, _) = reference.shape, cands.shape
    with _precision.precision_scope(precision, False) as dtype:
        if kernel == "polynomial":
            gammas = jnp.full((s,), _kernels.kernel_gamma(kernel, d, gamma), dtype)
        elif bandwidth is None:
            medians = []
            for i in range(s):
                median = _kernels.median_pairwise_distance(
                    cands[i, : counts[i]], precision=precision
                )
                _kernels.check_median_bandwidth(median, f"candidates[{i}]")
                medians.append(median)
            gammas = _kernels.kernel_gamma(kernel, d, bandwidth=jnp.stack(medians))
        else:
            gammas = jnp.full((s,), _kernels.kernel_gamma(kernel, d, bandwidth=bandwidth), dtype)
        route = choose_route(n_x, total, d, num_subsets, subset_size)
        batch = subsets_per_batch(num_subsets, subset_size, dtype, devices)
        result, values = _kd_batch(
            jnp.asarray(reference),
            jnp.asarray(cands),
            jnp.asarray(counts),
            key,
            gammas,
            jnp.asarray(coef0, dtype),
            kind=kernel,
            degree=degree if kernel == "polynomial" else 1,
            route=route,
            num_subsets=num_subsets,
            size=subset_size,
            batch=batch,
            dtype=dtype,
            devices=devices,
        )
    return (result, values) if return_values else result
