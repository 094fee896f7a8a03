"""The adapter protocol every embedder follows, and the input checks they share."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["Embedder", "check_audio"]


@runtime_checkable
class Embedder(Protocol):
    """A pretrained (or fixed) audio model behind a numpy-in, numpy-out adapter.

    Attributes:
        name: registry name, e.g. ``"vggish"`` or ``"clap-music"``.
        sample_rate: the rate, in Hz, that ``audio`` must already have.
        dim: size of one embedding.

    """

    name: str
    sample_rate: int
    dim: int

    def embed(self, audio: np.ndarray) -> np.ndarray:
        """Embed a batch of mono windows.

        Args:
            audio: float32 array ``(batch, samples)`` at ``sample_rate``.

        Returns:
            float32 array ``(n, dim)``: one row per window (``n == batch``),
            except for frame pooling, where it is one row per frame.

        """
        ...

    def embed_frames(self, audio: np.ndarray) -> np.ndarray:
        """Embed a batch of mono windows frame by frame.

        Args:
            audio: float32 array ``(batch, samples)`` at ``sample_rate``.

        Returns:
            float32 array ``(batch, frames, dim)``.

        """
        ...


def check_audio(audio: object, *, min_samples: int = 1, name: str = "audio") -> np.ndarray:
    """Validate a batch of mono windows before any model runs.

    The checks are those every embedder needs: a float32 numpy array of rank
    2, a non-empty batch, at least ``min_samples`` samples per window, and
    only finite values. The array is returned as it is (never copied nor
    modified), so callers must not write into it.

    Args:
        audio: the value to check.
        min_samples: the fewest samples per window the model can use.
        name: the argument name to quote in errors.

    Returns:
        ``audio`` itself, typed as an ndarray.

    Raises:
        TypeError: if ``audio`` is not a numpy array of dtype float32.
        ValueError: on wrong rank, empty batch, too few samples or
            non-finite values.

    """
    if not isinstance(audio, np.ndarray):
        raise TypeError(
            f"{name} must be a numpy.ndarray of dtype float32, got {type(audio).__name__}"
        )
    if audio.dtype != np.float32:
        raise TypeError(
            f"{name} must have dtype float32, got {audio.dtype}; convert it with "
            f"{name}.astype(np.float32) (samples in [-1, 1])"
        )
    if audio.ndim != 2:
        raise ValueError(
            f"{name} must have shape (batch, samples), got rank {audio.ndim} "
            f"with shape {audio.shape}"
        )
    if audio.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch (shape {audio.shape})")
    if audio.shape[1] < min_samples:
        raise ValueError(
            f"{name} has {audio.shape[1]} samples per window; this embedder needs at "
            f"least {min_samples}"
        )
    if not np.isfinite(audio).all():
        bad = int(np.count_nonzero(~np.isfinite(audio)))
        raise ValueError(f"{name} contains {bad} NaN or infinite values")
    return audio
