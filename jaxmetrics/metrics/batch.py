"""Many candidate sets against one reference in one call (FD, KD, PRDC, APA).

Candidate sets come as a stack ``(s, m, d)``; sets of different sizes as a
padded stack with ``counts`` (rows from ``counts[i]`` on are ignored, whatever
they hold) or as a list of ``(m_i, d)`` arrays, which :func:`stack_sets` pads.
The reference work is done once, not once per set: its covariance factor for
FD, its k-NN radii for PRDC, its within-set kernel sums for KD. Sets are then
processed by ``lax.map`` (memory-bounded), and with ``devices=`` the set axis
is spread over a device mesh. Each result equals the single-set call on the
same inputs, to the single call's accuracy.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike

from jaxmetrics._src import distance_bounds as _distance_bounds
from jaxmetrics._src import kernels as _kernels
from jaxmetrics._src import linalg as _linalg
from jaxmetrics._src import precision as _precision
from jaxmetrics._src import routing
from jaxmetrics._src import sharding as _sharding
from jaxmetrics._src import validation as _validation
from jaxmetrics._src.frechet_formula import squared_frechet
from jaxmetrics._src.kernels import KernelSpec
from jaxmetrics.metrics import mmd as _mmd
from jaxmetrics.metrics import prdc as _prdc
from jaxmetrics.metrics import stats as _stats
from jaxmetrics.metrics import subsets as _subsets
from jaxmetrics.metrics.apa import APA, score_from_distances
from jaxmetrics.metrics.mmd import KernelDistance
from jaxmetrics.metrics.prdc import PRDC
from jaxmetrics.metrics.stats import GaussianStats

# Why this module is long: the batched forms of FD, KD, PRDC and APA and the
# fused evaluate_batch share the per-set machinery here (stacks, counts,
# padding, the sequential or sharded map over sets); each calls the jitted
# core of its single form, which lives in that metric's module.

Devices = Sequence[jax.Device] | str | None


# --------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------


def stack_sets(sets: Sequence[ArrayLike]) -> tuple[np.ndarray, np.ndarray]:
    """Pad a list of ``(m_i, d)`` embedding sets into a stack and its row counts.

    Args:
      sets: embedding sets with a common dimension ``d``.

    Returns:
      ``(stack, counts)``: a ``(s, max m_i, d)`` array (padding rows are zero)
      and the ``(s,)`` int array of true sizes.

    Examples:
      >>> import numpy as np
      >>> import jaxmetrics as jm
      >>> stack, counts = jm.stack_sets([np.ones((3, 2)), np.ones((5, 2))])
      >>> stack.shape, counts.tolist()
      ((2, 5, 2), [3, 5])

    """
    if isinstance(sets, (np.ndarray, jax.Array)) or not len(sets):
        raise TypeError("sets must be a non-empty list of (m_i, d) arrays")
    arrays = [_validation.check_embeddings(s, f"sets[{i}]", min_rows=1) for i, s in enumerate(sets)]
    for i, a in enumerate(arrays[1:], start=1):
        _validation.check_same_dim(arrays[0], a, "sets[0]", f"sets[{i}]")
    counts = np.array([a.shape[0] for a in arrays])
    dtype = np.result_type(*[a.dtype for a in arrays])
    stack = np.zeros((len(arrays), counts.max(), arrays[0].shape[1]), dtype)
    for i, a in enumerate(arrays):
        stack[i, : counts[i]] = np.asarray(a)
    return stack, counts


def _check_candidates(
    candidates: Any, counts: Any, *, name: str, min_rows: int, why: str
) -> tuple[Any, np.ndarray]:
    """Validate a candidate stack (or list) and its counts; return both as arrays."""
    if isinstance(candidates, (list, tuple)):
        if counts is not None:
            raise ValueError(f"counts must not be given when {name} is a list of sets")
        candidates, counts = stack_sets(candidates)
    candidates = _validation.as_array(candidates, name)
    dtype = np.dtype(candidates.dtype)
    if dtype == np.bool_ or not (
        np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)
    ):
        raise TypeError(f"{name} must have a real numeric dtype, got {dtype}")
    if candidates.ndim != 3:
        raise ValueError(
            f"{name} must be a 3-D stack (sets, rows, d) or a list of (rows, d) arrays, "
            f"got shape {tuple(candidates.shape)}"
        )
    s, m, _ = candidates.shape
    if s == 0 or m == 0 or candidates.shape[2] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(candidates.shape)})")
    if counts is None:
        counts = np.full(s, m)
    counts = np.asarray(counts)
    if not np.issubdtype(counts.dtype, np.integer) or counts.shape != (s,):
        raise ValueError(f"counts must be {s} integers (one per set), got {counts!r}")
    if counts.max() > m:
        raise ValueError(f"counts must be <= the stack's {m} rows, got max {counts.max()}")
    if counts.min() < min_rows:
        i = int(np.argmin(counts))
        raise ValueError(
            f"{name}[{i}] has {counts[i]} rows; every set needs at least {min_rows} {why}"
        )
    if np.issubdtype(dtype, np.floating):
        finite = np.asarray(_finite_rows(jnp.asarray(candidates)))
        bad = (np.arange(m)[None, :] < counts[:, None]) & ~finite
        if bad.any():
            i, row = np.argwhere(bad)[0]
            raise ValueError(
                f"{name} has {int(bad.sum())} row(s) with NaN or inf values "
                f"(first in set {int(i)} at row index {int(row)})"
            )
    return candidates, counts


@jax.jit
def _finite_rows(x: jax.Array) -> jax.Array:
    return jnp.isfinite(x).all(axis=-1)


def _map_sets(one, shared, split, devices):
    """``one(shared, *per_set)`` for every set, in order, spread over ``devices``.

    A sequential ``lax.map`` keeps memory at one set (and keeps ``lax.cond``
    branches real); with devices the set axis is sharded and the padding
    results are dropped.
    """

    def local(shared, *parts):
        return lax.map(lambda row: one(shared, *row), tuple(parts))

    out = _sharding.map_over_shards(local, shared, split, _sharding.as_list(devices))
    return jax.tree_util.tree_map(lambda v: v[: split[0].shape[0]], out)


# --------------------------------------------------------------------------
# Fréchet distance
# --------------------------------------------------------------------------


def _frechet_one(shared, x, n):
    factor, mean, trace = shared
    stats = _stats.masked_stats(x, n)
    diff = mean - stats.mean
    cross = _linalg.trace_sqrt_of_factors(factor, _linalg.covariance_factor(stats.covariance))
    return squared_frechet(diff @ diff, trace + jnp.trace(stats.covariance), cross)


@functools.partial(jax.jit, static_argnames=("dtype", "devices"))
def _frechet_batch(ref: GaussianStats, cands, counts, *, dtype, devices):
    cov = ref.covariance.astype(dtype)
    shared = (_linalg.covariance_factor(cov), ref.mean.astype(dtype), jnp.trace(cov))

    # Sequential map: the Cholesky-or-eigh factor and the eigenvalue-or-SVD
    # route stay real branches (vmap would evaluate both for every set).
    return _map_sets(
        lambda sh, x, n: _frechet_one(sh, x.astype(dtype), n), shared, [cands, counts], devices
    )


def _reference_stats(reference: Any, name: str, precision: str) -> GaussianStats:
    if isinstance(reference, GaussianStats):
        return _stats.check_stats(reference, name)
    return _stats.gaussian_stats(
        _validation.check_embeddings(reference, name, min_rows=2, why="to estimate a covariance"),
        precision=precision,
    )


def frechet_distance_batch(
    reference: GaussianStats | ArrayLike,
    candidates: ArrayLike | Sequence[ArrayLike],
    *,
    counts: ArrayLike | None = None,
    precision: str = "float64",
    devices: Devices = None,
) -> jax.Array:
    """Fréchet distance from one reference to each of many candidate sets.

    The reference covariance is factored once (Cholesky, or ``eigh`` when
    singular); each candidate then costs its covariance, its factor, a QR
    and one symmetric eigenvalue problem (the default ``method="qr"`` route of
    :func:`frechet_distance`, in XLA).

    Args:
      reference: ``(n, d)`` embeddings or their :class:`GaussianStats`.
      candidates: ``(s, m, d)`` stack, or a list of ``(m_i, d)`` arrays.
      counts: ``(s,)`` true row counts of a padded stack (default: all ``m``).
      precision: ``"float64"`` (default) or ``"float32"``.
      devices: ``None`` (default device), ``"all"`` local devices, or a list of
        devices to spread the sets over (``jax.shard_map`` over a 1-D mesh).

    Returns:
      ``(s,)`` distances, each equal to ``frechet_distance(reference, set_i)``.

    References:
      Kilgour et al., arXiv:1812.08466.

    Examples:
      >>> import numpy as np
      >>> import jaxmetrics as jm
      >>> rng = np.random.default_rng(0)
      >>> ref = rng.normal(size=(500, 4))
      >>> [round(float(v), 6) for v in jm.frechet_distance_batch(ref, [ref, ref + 1.0])]
      [0.0, 4.0]

    """
    _validation.check_choice(precision, "precision", _precision.PRECISIONS)
    cands, counts = _check_candidates(
        candidates, counts, name="candidates", min_rows=2, why="to estimate a covariance"
    )
    ref = _reference_stats(reference, "reference", precision)
    _validation.check_same_dim(ref.mean, cands, "reference", "candidates")
    devices = _sharding.resolve_devices(devices)
    with _precision.precision_scope(precision, False) as dtype:
        return _frechet_batch(
            _stats.stats_as_jax(ref),
            jnp.asarray(cands),
            jnp.asarray(counts),
            dtype=dtype,
            devices=None if devices is None else tuple(devices),
        )


def apa_batch(
    candidates: ArrayLike | Sequence[ArrayLike],
    reference: GaussianStats | ArrayLike,
    anti_reference: GaussianStats | ArrayLike,
    *,
    counts: ArrayLike | None = None,
    precision: str = "float64",
    devices: Devices = None,
) -> APA:
    """APA of many candidate sets of mixes against one reference / anti-reference pair.

    Args:
      candidates: ``(s, m, d)`` stack or list of candidate-mix embedding sets.
      reference: aligned reference mixes (embeddings or statistics).
      anti_reference: misaligned reference mixes (embeddings or statistics).
      counts: true row counts of a padded stack.
      precision: ``"float64"`` (default) or ``"float32"``.
      devices: as in :func:`frechet_distance_batch`.

    Returns:
      :class:`APA` whose fields are ``(s,)`` arrays (``reference_anti_reference``
      is the shared scalar broadcast to ``(s,)``).

    References:
      Grachten & Nistal, arXiv:2503.06346.

    """
    ref = _reference_stats(reference, "reference", precision)
    anti = _reference_stats(anti_reference, "anti_reference", precision)
    _validation.check_same_dim(ref.mean, anti.mean, "reference", "anti_reference")
    if isinstance(candidates, (list, tuple)):
        candidates, counts = stack_sets(candidates)
    opts = {"counts": counts, "precision": precision, "devices": devices}
    d_y_x = frechet_distance_batch(ref, candidates, **opts)
    d_y_xp = frechet_distance_batch(anti, candidates, **opts)
    from jaxmetrics.metrics.frechet import frechet_distance_from_stats

    d_x_xp = frechet_distance_from_stats(ref, anti)
    with _precision.precision_scope(precision, False):
        d_x_xp = jnp.broadcast_to(d_x_xp, d_y_x.shape)
        return APA(score_from_distances(d_y_x, d_y_xp, d_x_xp), d_y_x, d_y_xp, d_x_xp)


# --------------------------------------------------------------------------
# PRDC
# --------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames=("k", "block", "dtype", "devices"))
def _prdc_batch(ref, cands, counts, ref_sizes, *, k, block, dtype, devices):
    # ref_sizes = (N, 1/k) arrives as a traced argument so the final divisions
    # stay IEEE divisions, as in the single call. One power-of-two scale and
    # one centre serve the reference and every set, so each set's decisions
    # are those of the single call.
    scaling = _distance_bounds.normalise(ref, cands, counts, dtype)
    reference_part, one_set = _prdc.prdc_engine(k, block, None)
    n, inv_k = ref_sizes[0].astype(dtype), ref_sizes[1].astype(dtype)

    def one(shared, y, m):
        return one_set(shared, y, m, jnp.stack([n, m.astype(dtype), inv_k]))

    return _map_sets(one, reference_part(ref, scaling), [cands, counts], devices)


def prdc_batch(
    reference: ArrayLike,
    candidates: ArrayLike | Sequence[ArrayLike],
    *,
    counts: ArrayLike | None = None,
    k: int = 5,
    block_size: int = routing.PRDC_BLOCK,
    precision: str = "float64",
    devices: Devices = None,
) -> PRDC:
    """Precision, recall, density and coverage of many candidate sets.

    The reference k-NN radii are computed once; each set then costs its own
    radii and one tiled pass against the reference (see :func:`prdc`).

    Args:
      reference: ``(N, d)`` reference embeddings.
      candidates: ``(s, M, d)`` stack, or a list of ``(M_i, d)`` arrays.
      counts: true row counts of a padded stack.
      k: neighbourhood size, smaller than every set's size.
      block_size: tile edge.
      precision: ``"float64"`` (default) or ``"float32"``.
      devices: as in :func:`frechet_distance_batch`.

    Returns:
      :class:`PRDC` whose fields are ``(s,)`` arrays.

    References:
      Naeem et al., arXiv:2002.09797.

    """
    k = _validation.check_positive_int(k, "k")
    block_size = _validation.check_positive_int(block_size, "block_size", minimum=8)
    reference = _validation.check_embeddings(
        reference, "reference", min_rows=k + 1, why=f"for k={k} nearest neighbours"
    )
    cands, counts = _check_candidates(
        candidates, counts, name="candidates", min_rows=k + 1, why=f"for k={k} nearest neighbours"
    )
    _validation.check_same_dim(reference, cands, "reference", "candidates")
    devices = _sharding.resolve_devices(devices)
    with _precision.precision_scope(precision, False) as dtype:
        reference, cands = _distance_bounds.lift_to_normal_range([reference, cands], dtype)
        return _prdc_batch(
            jnp.asarray(reference),
            jnp.asarray(cands),
            jnp.asarray(counts),
            jnp.asarray([reference.shape[0], 1.0 / k], dtype),
            k=k,
            block=_prdc.block_for(reference.shape[0], cands.shape[1], block_size),
            dtype=dtype,
            devices=None if devices is None else tuple(devices),
        )


# --------------------------------------------------------------------------
# Kernel distance
# --------------------------------------------------------------------------


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
        cx = _mmd.count_matrix(idx_x, n_x, dtype)
        shared_x = (
            cx,
            _mmd.offdiag_kernel_sums(spec_for(gammas[0]), x, cx) if kind == "polynomial" else None,
        )
    else:
        shared_x = (None, None)

    def one(shared, y, m, gamma):
        cx, kxx = shared
        spec = spec_for(gamma)
        y = jnp.where((jnp.arange(total) < m)[:, None], y.astype(dtype), 0.0)
        idx_y = _subsets.draw_subsets(key_y, total, m, num_subsets, size)
        if route == "whole":
            cy = _mmd.count_matrix(idx_y, total, dtype)
            if kxx is None:  # rbf: the bandwidth (hence K_xx) differs per set
                kxx = _mmd.offdiag_kernel_sums(spec, x, cx)
            kyy = _mmd.offdiag_kernel_sums(spec, y, cy)
            kxy = _mmd.weighted_kernel_sums(spec, x, y, cx, cy)
            return _mmd.mmd2_from_sums(kxx, kyy, kxy, size, size, "unbiased")
        return lax.map(
            lambda ij: _mmd.subset_mmd2(spec, x[ij[0]], y[ij[1]]), (idx_x, idx_y), batch_size=batch
        )

    values = _map_sets(one, shared_x, [cands, counts, gammas], devices)
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
    gamma: float | None = None,
    coef0: float = 1.0,
    kernel: str = "polynomial",
    bandwidth: float | None = None,
    precision: str = "float64",
    devices: Devices = None,
    return_values: bool = False,
) -> KernelDistance | tuple[KernelDistance, jax.Array]:
    """Kernel distance from one reference to each of many candidate sets.

    With the same ``key``, every set gets exactly the subsets that
    :func:`kernel_distance` would draw for it alone (subset draws do not
    depend on padding), so each result equals the single call. The reference
    subsets are shared by all sets and their kernel sums computed once.

    Args:
      reference: ``(n, d)`` reference embeddings.
      candidates: ``(s, m, d)`` stack, or a list of ``(m_i, d)`` arrays.
      counts: true row counts of a padded stack.
      key: PRNG key (default ``jax.random.key(0)``).
      num_subsets: number of subset pairs.
      subset_size: rows per subset; must be smaller than the reference and
        every candidate set (no silent reduction in batch mode).
      degree: polynomial degree.
      gamma: polynomial scale (default ``1 / d``).
      coef0: polynomial offset.
      kernel: ``"polynomial"`` or ``"rbf"``.
      bandwidth: RBF bandwidth; default: each set's own median pairwise distance.
      precision: ``"float64"`` (default) or ``"float32"``.
      devices: as in :func:`frechet_distance_batch`.
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
    reference = _validation.check_embeddings(
        reference, "reference", min_rows=subset_size + 1, why=f"for subsets of {subset_size}"
    )
    cands, counts = _check_candidates(
        candidates,
        counts,
        name="candidates",
        min_rows=subset_size + 1,
        why=f"for subsets of {subset_size} (pass a smaller subset_size)",
    )
    _validation.check_same_dim(reference, cands, "reference", "candidates")
    _validation.check_parameter(gamma, "gamma", positive=True)
    _validation.check_parameter(coef0, "coef0")
    _validation.check_parameter(bandwidth, "bandwidth", positive=True)
    key = _validation.as_key(key)
    devices = _sharding.resolve_devices(devices)
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
        route = _mmd.choose_route(n_x, total, d, num_subsets, subset_size)
        batch = _mmd.subsets_per_batch(num_subsets, subset_size, dtype, devices)
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
            devices=None if devices is None else tuple(devices),
        )
    return (result, values) if return_values else result


# --------------------------------------------------------------------------
# FD + KD + PRDC
# --------------------------------------------------------------------------


def evaluate_batch(
    reference: ArrayLike,
    candidates: ArrayLike | Sequence[ArrayLike],
    *,
    counts: ArrayLike | None = None,
    key: jax.Array | None = None,
    k: int = 5,
    num_subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1.0,
    block_size: int = routing.PRDC_BLOCK,
    precision: str = "float64",
    devices: Devices = None,
) -> dict[str, Any]:
    """FD, KD (polynomial kernel) and PRDC of many candidate sets in one call.

    Exactly :func:`frechet_distance_batch`, :func:`kernel_distance_batch` and
    :func:`prdc_batch` with the same arguments, with every argument checked
    before any of them starts.

    Args:
      reference: ``(n, d)`` reference embeddings.
      candidates: ``(s, m, d)`` stack, or a list of ``(m_i, d)`` arrays.
      counts: true row counts of a padded stack.
      key: PRNG key for the KD subsets (default ``jax.random.key(0)``).
      k: PRDC neighbourhood size.
      num_subsets: KD subsets.
      subset_size: KD subset size (smaller than every set).
      degree: polynomial degree.
      gamma: polynomial scale (default ``1 / d``).
      coef0: polynomial offset.
      block_size: PRDC tile edge.
      precision: ``"float64"`` (default) or ``"float32"``.
      devices: as in :func:`frechet_distance_batch`.

    Returns:
      ``{"fad": (s,) array, "kernel_distance": KernelDistance, "prdc": PRDC}``.

    References:
      Kilgour et al., arXiv:1812.08466; Bińkowski et al., arXiv:1801.01401;
      Naeem et al., arXiv:2002.09797.
    """
    k = _validation.check_positive_int(k, "k")
    num_subsets = _validation.check_positive_int(num_subsets, "num_subsets")
    subset_size = _validation.check_positive_int(subset_size, "subset_size", minimum=2)
    degree = _validation.check_positive_int(degree, "degree")
    block_size = _validation.check_positive_int(block_size, "block_size", minimum=8)
    need = max(k + 1, subset_size + 1)
    why = f"for k={k} nearest neighbours and subsets of {subset_size}"
    reference = _validation.check_embeddings(reference, "reference", min_rows=need, why=why)
    cands, counts = _check_candidates(candidates, counts, name="candidates", min_rows=need, why=why)
    _validation.check_same_dim(reference, cands, "reference", "candidates")
    common = {"counts": counts, "precision": precision, "devices": devices}
    fad = frechet_distance_batch(reference, cands, **common)
    kd = kernel_distance_batch(
        reference,
        cands,
        key=key,
        num_subsets=num_subsets,
        subset_size=subset_size,
        degree=degree,
        gamma=gamma,
        coef0=coef0,
        **common,
    )
    result = prdc_batch(reference, cands, k=k, block_size=block_size, **common)
    return {"fad": fad, "kernel_distance": kd, "prdc": result}
