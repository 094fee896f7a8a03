"""Stacks of candidate sets, shared by the batched form of every metric.

Candidate sets come as a stack ``(s, m, d)``; sets of different sizes as a
padded stack with ``counts`` (rows from ``counts[i]`` on are ignored, whatever
they hold) or as a list of ``(m_i, d)`` arrays, which :func:`stack_sets` pads.
A batched form (``frechet_distance_batch``, ``kernel_distance_batch``,
``prdc_batch``, ``apa_batch``, beside their single forms) does the reference
work once, then runs the single form's jitted core on one set at a time
(:func:`map_sets`), so each result equals the single call on the same inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike

from jaxmetrics._src import sharding as _sharding
from jaxmetrics._src import validation as _validation

__all__ = ["Devices", "check_candidates", "map_sets", "resolve_devices", "stack_sets"]

# ``None`` (the default device), ``"all"`` local devices, or a list of devices.
Devices = Sequence[jax.Device] | str | None


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


def check_candidates(
    candidates: Any, counts: Any, *, name: str, min_rows: int, why: str
) -> tuple[Any, np.ndarray]:
    """Validate a candidate stack (or list) and its counts; return both as arrays.

    Raises the ``ValueError``/``TypeError`` of the single-set calls, naming
    ``name`` and the set, before any work starts: a list together with
    ``counts``, a stack that is not 3-D or is empty, counts that do not fit
    the stack, a set with fewer than ``min_rows`` rows (``why`` says what
    needs them), NaN or inf in a set's rows (padding rows are not read).
    """
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
        finite = np.asarray(_validation.finite_rows(jnp.asarray(candidates)))
        bad = (np.arange(m)[None, :] < counts[:, None]) & ~finite
        if bad.any():
            i, row = np.argwhere(bad)[0]
            raise ValueError(
                f"{name} has {int(bad.sum())} row(s) with NaN or inf values "
                f"(first in set {int(i)} at row index {int(row)})"
            )
    return candidates, counts


def map_sets(
    one: Any, shared: Any, split: list[jax.Array], devices: tuple[jax.Device, ...] | None
) -> Any:
    """``one(shared, *per_set)`` for every set, in order, spread over ``devices``.

    A sequential ``lax.map`` keeps memory at one set (and keeps ``lax.cond``
    branches real); with devices the set axis is sharded and the padding
    results are dropped.
    """

    def local(shared, *parts):
        return lax.map(lambda row: one(shared, *row), tuple(parts))

    out = _sharding.map_over_shards(local, shared, split, _sharding.as_list(devices))
    return jax.tree_util.tree_map(lambda v: v[: split[0].shape[0]], out)


def resolve_devices(devices: Devices) -> tuple[jax.Device, ...] | None:
    """``devices`` checked and as the static tuple a jitted core takes (``None``: default)."""
    resolved = _sharding.resolve_devices(devices)
    return None if resolved is None else tuple(resolved)
