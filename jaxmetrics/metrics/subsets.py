"""Which rows each KID subset takes: our own draws and the presets that replay the peers'.

- :func:`draw_subsets` (the default): per-row random bits from a JAX key,
  the same subsets in float32 and float64 and from padded stacks;
- :func:`numpy_subset_indices`: audio-metrics 1.0.4's draws;
- :func:`torch_fidelity_subset_indices`: torch-fidelity's;
- :func:`torchmetrics_subset_indices`: torchmetrics' (``torch.randperm``).
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxmetrics._src import validation as _validation

__all__ = [
    "check_indices",
    "draw_subsets",
    "effective_subset_size",
    "numpy_subset_indices",
    "random_subset_indices",
    "torch_fidelity_subset_indices",
    "torchmetrics_subset_indices",
]


def effective_subset_size(n_x: int, n_y: int, subset_size: int) -> int:
    """Subset size actually used for sets of ``n_x`` and ``n_y`` rows.

    When ``subset_size >= min(n_x, n_y)``, it is reduced to ``min(n_x, n_y) // 2``
    (subsets drawn without replacement must vary), the rule of the
    audio-metrics package and torch-fidelity's KID; a warning says so.
    """
    smallest = min(n_x, n_y)
    if subset_size >= smallest:
        reduced = max(2, smallest // 2)
        warnings.warn(
            f"subset_size={subset_size} is not smaller than the smaller set "
            f"({smallest} rows); using subset_size={reduced} instead",
            stacklevel=3,
        )
        return reduced
    return subset_size


def numpy_subset_indices(
    n_x: int, n_y: int, *, num_subsets: int = 100, subset_size: int = 1000, seed: int = 1234
) -> tuple[np.ndarray, np.ndarray]:
    """Subset indices drawn exactly as the audio-metrics package (1.0.4) draws them.

    ``numpy.random.default_rng(seed)``; for each subset, ``choice(n_x, s,
    replace=False)`` then ``choice(n_y, s, replace=False)``. Passing the result
    as ``subset_indices`` to :func:`kernel_distance` reproduces that package's
    ``kernel_distance_mean``/``_std`` (its default seed is 1234).

    Args:
      n_x: rows of the first set.
      n_y: rows of the second set.
      num_subsets: number of subsets.
      subset_size: rows per subset (reduced as in :func:`effective_subset_size`).
      seed: numpy seed.

    Returns:
      ``(idx_x, idx_y)``, each ``(num_subsets, subset_size)`` int64.

    """
    subset_size = effective_subset_size(n_x, n_y, subset_size)
    return _alternating_choices(np.random.default_rng(seed), n_x, n_y, num_subsets, subset_size)


def _alternating_choices(rng: Any, n_x: int, n_y: int, num_subsets: int, size: int):
    """Per subset, ``rng.choice(n_x, size, replace=False)`` then the same from ``n_y``."""
    idx_x = np.empty((num_subsets, size), np.int64)
    idx_y = np.empty((num_subsets, size), np.int64)
    for i in range(num_subsets):
        idx_x[i] = rng.choice(n_x, size, replace=False)
        idx_y[i] = rng.choice(n_y, size, replace=False)
    return idx_x, idx_y


def draw_subsets(
    key: jax.Array, n_total: int, n_valid: jax.Array | int, num_subsets: int, size: int
) -> jax.Array:
    """``(num_subsets, size)`` row indices drawn without replacement from ``[0, n_valid)``.

    Each row gets the 32 random bits ``bits(fold_in(k, row))`` and a subset
    is the ``size`` rows with the smallest numbers (ties, about one per
    subset at 10^5 rows, go to the lower row index). Because a row's number
    does not depend on the array's length, drawing from a padded set
    (``n_total > n_valid``, the batched metrics) gives the very same subsets
    as drawing from the unpadded set; because it is an integer, it does not
    depend on the precision either (float32 and float64 calls with one key
    draw the same subsets).
    """
    rows = jnp.arange(n_total)

    def one(k: jax.Array) -> jax.Array:
        bits = jax.vmap(lambda i: jax.random.bits(jax.random.fold_in(k, i), dtype=jnp.uint32))
        # Padding rows get the largest number and come after every real row
        # (a real row drawing it too sorts first: stable, lower index).
        last = jnp.uint32(np.iinfo(np.uint32).max)
        return jnp.argsort(jnp.where(rows < n_valid, bits(rows), last), stable=True)[:size]

    # A few subsets at a time: each needs n_total numbers and an argsort of
    # them (all 1,000 subsets of a 200,000-row set at once took 16 GiB).
    batch = max(1, min(num_subsets, (64 << 20) // (32 * n_total)))
    return lax.map(one, jax.random.split(key, num_subsets), batch_size=batch)


def torch_fidelity_subset_indices(
    n_x: int, n_y: int, *, num_subsets: int = 100, subset_size: int = 1000, seed: int = 2020
) -> tuple[np.ndarray, np.ndarray]:
    """Subset indices drawn exactly as torch-fidelity's KID draws them.

    ``numpy.random.RandomState(seed)`` (torch-fidelity's ``rng_seed``,
    default 2020); for each subset, ``choice(n_x, s, replace=False)`` then
    ``choice(n_y, s, replace=False)``. Passing the result as
    ``subset_indices`` to :func:`kernel_distance` reproduces
    ``kernel_inception_distance_mean``/``_std`` computed on the same
    features. Like torch-fidelity, the subset size is never reduced: both
    sets need at least ``subset_size`` rows.

    torchmetrics' KID draws differently: see
    :func:`torchmetrics_subset_indices`.

    Args:
      n_x: rows of the first set (torch-fidelity's ``features_1``).
      n_y: rows of the second set.
      num_subsets: number of subsets (``kid_subsets``).
      subset_size: rows per subset (``kid_subset_size``).
      seed: ``rng_seed``.

    Returns:
      ``(idx_x, idx_y)``, each ``(num_subsets, subset_size)`` int64.

    """
    num_subsets = _validation.check_positive_int(num_subsets, "num_subsets")
    subset_size = _validation.check_positive_int(subset_size, "subset_size", minimum=2)
    if subset_size > min(n_x, n_y):
        raise ValueError(
            f"subset_size={subset_size} is larger than a set ({n_x} and {n_y} rows); "
            "torch-fidelity does not reduce it"
        )
    return _alternating_choices(np.random.RandomState(seed), n_x, n_y, num_subsets, subset_size)


def _torch_randperm_prefix(stream: np.random.MT19937, n: int, size: int) -> np.ndarray:
    """The first ``size`` entries of ``torch.randperm(n)`` on torch's CPU generator.

    torch (``randperm_cpu``, for ``n`` below ``2^32 / 20``) swaps entry ``i``
    with entry ``i + (u_i mod (n - i))`` for ``i = 0 .. n - 2``, ``u_i``
    the generator's next 32-bit Mersenne Twister output: entry ``i`` is
    final after step ``i``, but all ``n - 1`` outputs are consumed.
    """
    draws = stream.random_raw(max(n - 1, 0)).astype(np.int64)
    perm = np.arange(n, dtype=np.int64)
    for i in range(min(size, n - 1)):
        j = i + int(draws[i]) % (n - i)
        perm[i], perm[j] = perm[j], perm[i]
    return perm[:size].copy()


def torchmetrics_subset_indices(
    n_x: int, n_y: int, *, num_subsets: int = 100, subset_size: int = 1000, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Subset indices drawn exactly as torchmetrics' ``KernelInceptionDistance`` draws them.

    For each subset torchmetrics takes ``torch.randperm(n_real)[:size]``,
    then ``torch.randperm(n_fake)[:size]``, from torch's global CPU
    generator. Here that generator (a Mersenne Twister seeded like
    ``torch.manual_seed(seed)``) and ``randperm`` are replayed in NumPy, so
    the core needs no torch: passing the result as ``subset_indices`` to
    :func:`kernel_distance` with ``x`` the real and ``y`` the fake features
    reproduces ``compute()``'s mean and (population) standard deviation
    when ``torch.manual_seed(seed)`` was the last thing to touch the
    generator before ``compute()``. Like torchmetrics, the subset size is
    never reduced: both sets need at least ``subset_size`` rows.

    Args:
      n_x: rows of the real features.
      n_y: rows of the fake features.
      num_subsets: ``subsets`` (torchmetrics' default 100).
      subset_size: ``subset_size`` (default 1000).
      seed: the value given to ``torch.manual_seed``; ``0 <= seed < 2^64``.

    Returns:
      ``(idx_x, idx_y)``, each ``(num_subsets, subset_size)`` int64.

    """
    num_subsets = _validation.check_positive_int(num_subsets, "num_subsets")
    subset_size = _validation.check_positive_int(subset_size, "subset_size", minimum=2)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**64:
        raise ValueError(
            f"seed must be an integer in [0, 2**64) as torch.manual_seed takes it, got {seed!r}"
        )
    if subset_size > min(n_x, n_y):
        raise ValueError(
            f"subset_size={subset_size} is larger than a set ({n_x} and {n_y} rows); "
            "torchmetrics does not reduce it"
        )
    stream = np.random.MT19937(0)
    stream._legacy_seeding(int(seed) & 0xFFFFFFFF)  # torch seeds its mt19937 with the low 32 bits
    idx_x = np.empty((num_subsets, subset_size), np.int64)
    idx_y = np.empty((num_subsets, subset_size), np.int64)
    for i in range(num_subsets):
        idx_x[i] = _torch_randperm_prefix(stream, n_x, subset_size)
        idx_y[i] = _torch_randperm_prefix(stream, n_y, subset_size)
    return idx_x, idx_y


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4))
def random_subset_indices(key, n_x, n_y, num_subsets, subset_size):
    """The default draws: :func:`draw_subsets` for each set, from ``key`` split in two."""
    key_x, key_y = jax.random.split(key)
    return (
        draw_subsets(key_x, n_x, n_x, num_subsets, subset_size),
        draw_subsets(key_y, n_y, n_y, num_subsets, subset_size),
    )


def check_indices(indices: Any, n_x: int, n_y: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate a user's ``subset_indices``: integer, ``(s, size >= 2)``, in range, equal shapes."""
    if not (isinstance(indices, tuple) and len(indices) == 2):
        raise TypeError("subset_indices must be a pair (idx_x, idx_y) of integer arrays")
    out = []
    for name, idx, n in (
        ("subset_indices[0]", indices[0], n_x),
        ("subset_indices[1]", indices[1], n_y),
    ):
        idx = np.asarray(idx)
        if not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(f"{name} must be integer, got {idx.dtype}")
        if idx.ndim != 2 or idx.shape[1] < 2:
            raise ValueError(
                f"{name} must have shape (num_subsets, subset_size >= 2), got {idx.shape}"
            )
        if idx.min() < 0 or idx.max() >= n:
            raise ValueError(f"{name} has indices outside [0, {n})")
        out.append(idx)
    if out[0].shape != out[1].shape:
        raise ValueError(
            f"subset_indices must have equal shapes, got {out[0].shape} and {out[1].shape}"
        )
    return out[0], out[1]
