"""The batch size (windows per embedder call) chosen for a device when the user gives none.

The rule, :func:`default_batch_size`, is a pure function of the device's
kind, its free memory and the bytes one window takes:

- on a CPU, MPS or unknown device: :data:`CPU_BATCH_SIZE` (32, the
  :class:`~jaxmetrics.audio.audio_metrics.AudioMetrics` default);
- on a CUDA device: as many windows as fit in :data:`GPU_MEMORY_SHARE` of
  the free memory at :func:`window_bytes` each, at least 1 and at most
  :data:`GPU_BATCH_CAP` (a larger call holds more windows, and more of
  their prepared copies, in host memory without filling the device more:
  the embedders cut a call into forward passes of their own ``batch_size``).

The embedders are batch-invariant, so the choice changes speed and memory,
never the embeddings. :func:`batch_size_for` evaluates the rule for the
device an :class:`AudioMetrics`' embedder runs on (on a Ray actor: inside the
actor, on its own device).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = [
    "CPU_BATCH_SIZE",
    "GPU_BATCH_CAP",
    "GPU_MEMORY_SHARE",
    "WINDOW_BYTES_FACTOR",
    "batch_size_for",
    "default_batch_size",
    "device_kind",
    "window_bytes",
    "with_device_batch_size",
]

CPU_BATCH_SIZE = 32
GPU_BATCH_CAP = 256
GPU_MEMORY_SHARE = 0.5
WINDOW_BYTES_FACTOR = 64
"""Bytes a window takes per byte of its float32 samples: prepared copies and activations."""


def default_batch_size(device_kind: str, free_bytes: int | None, bytes_per_window: int) -> int:
    """Windows per embedder call for a device (the rule of the module doc).

    Args:
        device_kind: the torch device type: ``"cuda"``, ``"cpu"``, ``"mps"``...
        free_bytes: the device's free memory (None: unknown; CPU size).
        bytes_per_window: what one window takes on the device
            (:func:`window_bytes`).

    Returns:
        :data:`CPU_BATCH_SIZE` off CUDA or with unknown free memory; else
        ``free_bytes * GPU_MEMORY_SHARE // bytes_per_window`` within
        ``[1, GPU_BATCH_CAP]``.

    Raises:
        ValueError: if ``bytes_per_window`` is not positive or ``free_bytes``
            is negative.

    """
    if bytes_per_window < 1:
        raise ValueError(f"bytes_per_window must be positive, got {bytes_per_window!r}")
    if free_bytes is not None and free_bytes < 0:
        raise ValueError(f"free_bytes must be None or >= 0, got {free_bytes!r}")
    if device_kind != "cuda" or free_bytes is None:
        return CPU_BATCH_SIZE
    fits = int(free_bytes * GPU_MEMORY_SHARE // bytes_per_window)
    return max(1, min(GPU_BATCH_CAP, fits))


def window_bytes(window_length: int) -> int:
    """The bytes one window of ``window_length`` float32 samples takes through an embedder."""
    return 4 * int(window_length) * WINDOW_BYTES_FACTOR


def device_kind(embedder: Any) -> str:
    """The device type an embedder runs on: its ``device`` attribute's, else ``"cpu"``."""
    device = getattr(embedder, "device", None)
    kind = getattr(device, "type", None) or str(device or "cpu")
    return kind.split(":")[0]


def batch_size_for(metrics: Any) -> int:
    """The rule evaluated for an :class:`AudioMetrics`' embedder, on its device, now.

    On CUDA the free memory is ``torch.cuda.mem_get_info`` of the embedder's
    device (torch is already imported by an embedder that runs there).
    """
    kind = device_kind(metrics.embedder)
    free = None
    if kind == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info(metrics.embedder.device)
    return default_batch_size(kind, free, window_bytes(metrics.window_length))


def with_device_batch_size(build: Callable[[int], Any], batch_size: int | None) -> Any:
    """``build(batch_size)``, an :class:`AudioMetrics`; with ``None``, sized for its device.

    The device is known only once the embedder is built, so it is built with
    :data:`CPU_BATCH_SIZE` and then given :func:`batch_size_for` its device.
    """
    metrics = build(CPU_BATCH_SIZE if batch_size is None else batch_size)
    if batch_size is None:
        metrics.batch_size = batch_size_for(metrics)
    return metrics
