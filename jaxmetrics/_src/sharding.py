"""Spreading the candidate-set axis (or row blocks) over local devices.

Every sharded computation here is a ``jax.shard_map`` over a one-dimensional
``Mesh`` named ``"shards"``: each device runs the single-device code on its
slice, with shared inputs (reference statistics, radii, kernel sums)
replicated. Work is split, never approximated, so results equal the
single-device ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, PartitionSpec

AXIS = "shards"


def resolve_devices(devices: Sequence[jax.Device] | str | None) -> list[jax.Device] | None:
    """Turn the user's ``devices`` option into a device list (``None``: no sharding).

    Args:
      devices: ``None`` (default device, no sharding), ``"all"`` (every local
        device of the default backend) or an explicit sequence of devices.

    Returns:
      A list of at least two devices, or ``None`` when there is nothing to shard over.

    """
    if devices is None:
        return None
    if isinstance(devices, str):
        if devices != "all":
            raise ValueError(
                f"devices must be None, 'all' or a sequence of devices, got {devices!r}"
            )
        devices = jax.local_devices()
    devices = list(devices)
    if not devices or not all(isinstance(d, jax.Device) for d in devices):
        raise TypeError("devices must be a non-empty sequence of jax.Device objects")
    return devices if len(devices) > 1 else None


def pad_to_multiple(x: jax.Array, multiple: int, *, fill: Any = None) -> jax.Array:
    """Pad the leading axis to a multiple of ``multiple``, repeating the last entry.

    Repeating a real entry (rather than zeros) keeps padded work well defined;
    the caller drops the padded results.
    """
    extra = (-x.shape[0]) % multiple
    if not extra:
        return x
    tail = (
        jnp.repeat(x[-1:], extra, axis=0)
        if fill is None
        else jnp.full((extra, *x.shape[1:]), fill, x.dtype)
    )
    return jnp.concatenate([x, tail])


def as_list(devices: tuple[jax.Device, ...] | None) -> list[jax.Device] | None:
    """A static device tuple (as jit needs it) back to a list, or ``None``."""
    return None if devices is None else list(devices)


def map_over_shards(
    fn: Callable[..., Any],
    shared: Any,
    split: Sequence[jax.Array],
    devices: list[jax.Device] | None,
    *,
    fill: Any = None,
) -> Any:
    """Run ``fn(shared, *split)`` with ``split``'s leading axis spread over ``devices``.

    Args:
      fn: single-device function; its outputs have a leading axis that is
        concatenated over devices.
      shared: pytree replicated on every device.
      split: arrays whose leading axis is divided between devices.
      devices: devices of the mesh, or ``None`` to call ``fn`` directly.
      fill: value that pads ``split`` to a multiple of the device count
        (default: repeat the last entry).

    Returns:
      ``fn``'s outputs concatenated over devices. Entries computed for padding
      come last; the caller drops them.
    """
    if devices is None:
        return fn(shared, *split)
    padded = [pad_to_multiple(a, len(devices), fill=fill) for a in split]
    mesh = Mesh(np.asarray(devices), (AXIS,))
    sharded = jax.shard_map(
        fn,
        mesh=mesh,
        in_specs=(PartitionSpec(), *[PartitionSpec(AXIS)] * len(padded)),
        out_specs=PartitionSpec(AXIS),
        check_vma=False,
    )
    return sharded(shared, *padded)
