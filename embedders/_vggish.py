"""VGGish (torchvggish port) behind the numpy adapter.

The network is torchvggish's own ``VGG`` built from its ``make_layers`` with
post-processing (PCA, quantisation) off and the final ReLU replaced by the
identity, so the embedding is the 128-d output of the last linear layer.
``torchvggish.vggish()`` is not used: it always downloads, and its
``Postprocessor`` downloads PCA parameters in its constructor.

References:
    Hershey et al., "CNN Architectures for Large-Scale Audio
    Classification", ICASSP 2017 (arXiv:1609.09430); Kilgour et al.,
    "Fréchet Audio Distance", arXiv:1812.08466 (frame-level FAD).

"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np

from embedders._base import check_audio
from embedders._torch import require, resolve_device
from embedders._vggish_features import MIN_SAMPLES, SAMPLE_RATE, log_mel_examples
from embedders._weights import WeightFile, load_checkpoint, load_strict, resolve_weights

__all__ = ["TORCHVGGISH_VERSION", "VGGISH_WEIGHTS", "VGGish"]

TORCHVGGISH_VERSION = "0.2"
VGGISH_WEIGHTS = WeightFile(
    filename="vggish-10086976.pth",
    url="https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth",
    sha256_prefix="10086976",
)

Pooling = Literal["mean", "frames"]


def build_network() -> Any:
    """Build torchvggish's VGG with post-processing off and no final ReLU.

    Returns:
        An untrained ``torch.nn.Module`` mapping ``(n, 1, 96, 64)`` log-mel
        examples to ``(n, 128)`` embeddings.

    Raises:
        ImportError: if torch or torchvggish is missing.

    """
    torch = require("torch")
    tv = require("torchvggish.torchvggish")
    model = tv.VGG(tv.make_layers(), postprocess=False)
    # embeddings = Linear, ReLU, Linear, ReLU, Linear, ReLU: drop the last ReLU.
    model.embeddings[5] = torch.nn.Identity()
    return model


@functools.lru_cache(maxsize=8)
def _load_model(path: str, stamp: tuple[int, int], device: str) -> Any:
    del stamp  # part of the cache key only: a replaced file is read again
    model = build_network()
    state = load_checkpoint(path)
    load_strict(model, state, source=repr(path))
    return model.to(device).eval()


def load_model(path: str | os.PathLike[str], device: Any) -> Any:
    """Load (once per file and device) the VGGish network from a state dict file.

    Args:
        path: torchvggish's released state dict (``vggish-10086976.pth``).
        device: a ``torch.device``.

    Returns:
        The network in eval mode on ``device``, shared between callers.

    Raises:
        ValueError: if the file is unreadable or its keys do not match.

    """
    path = Path(path).resolve()
    st = path.stat()
    return _load_model(str(path), (st.st_mtime_ns, st.st_size), str(device))


class VGGish:
    """VGGish embeddings of 16 kHz audio, 128-d, one per 0.96 s frame or per window.

    Each window is cut into non-overlapping 0.96 s log-mel examples as
    torchvggish computes them (trailing audio that does not fill an example
    is dropped); each example gives one 128-d embedding.

    Args:
        pooling: ``"mean"`` (default): :meth:`embed` gives one embedding per
            window, the mean over its frames (the ``audio-metrics``
            convention); ``"frames"``: :meth:`embed` gives one embedding per
            frame, ``batch * frames`` rows in window-major order (the
            original FAD and fadtk convention).
        weights: explicit path of ``vggish-10086976.pth``; by default it is
            resolved as described in :mod:`embedders._weights`.
        device: ``"cpu"``, ``"cuda"``, ``"mps"`` or None for the best available.
        batch_size: most 0.96 s examples per forward pass; examples of all
            windows in a call are pooled into such batches.

    Raises:
        ValueError: on a bad ``pooling``, ``batch_size`` or ``device``, or a
            checkpoint that does not match the network.
        WeightsNotFoundError: if the weights cannot be found or downloaded.
        ImportError: if torch or torchvggish is not installed.

    """

    name = "vggish"
    sample_rate = SAMPLE_RATE
    dim = 128
    min_samples = MIN_SAMPLES

    def __init__(
        self,
        *,
        pooling: Pooling = "mean",
        weights: str | os.PathLike[str] | None = None,
        device: Any = None,
        batch_size: int = 256,
    ) -> None:
        if pooling not in ("mean", "frames"):
            raise ValueError(f"pooling must be 'mean' or 'frames', got {pooling!r}")
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.pooling = pooling
        self.batch_size = batch_size
        self.device = resolve_device(device)
        self.weights_path = resolve_weights(VGGISH_WEIGHTS, weights)
        self._model = load_model(self.weights_path, self.device)

    def __repr__(self) -> str:
        return f"VGGish(pooling={self.pooling!r}, device={str(self.device)!r})"

    def forward_examples(self, examples: np.ndarray) -> np.ndarray:
        """Run the network on log-mel examples, in batches of ``batch_size``.

        Args:
            examples: float32 ``(n, 96, 64)``.

        Returns:
            float32 ``(n, 128)``.

        """
        torch = require("torch")
        out = np.empty((examples.shape[0], self.dim), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, examples.shape[0], self.batch_size):
                chunk = torch.from_numpy(examples[start : start + self.batch_size])
                emb = self._model(chunk[:, None].to(self.device))
                out[start : start + chunk.shape[0]] = emb.float().cpu().numpy()
        return out

    def embed_frames(self, audio: np.ndarray) -> np.ndarray:
        """Embed each 0.96 s frame of each window.

        Args:
            audio: float32 ``(batch, samples)`` at 16 kHz, at least 15,600
                samples (one frame) per window; not modified.

        Returns:
            float32 ``(batch, frames, 128)`` with ``frames = floor((samples -
            400) / 160 + 1) // 96``.

        Raises:
            TypeError: if ``audio`` is not a float32 ndarray.
            ValueError: on wrong rank, empty batch, NaN/inf, or fewer than
                15,600 samples.

        """
        audio = check_audio(audio, min_samples=MIN_SAMPLES)
        examples = log_mel_examples(audio)
        batch, frames = examples.shape[:2]
        flat = examples.reshape(batch * frames, *examples.shape[2:])
        return self.forward_examples(flat).reshape(batch, frames, self.dim)

    def embed(self, audio: np.ndarray) -> np.ndarray:
        """Embed windows, pooled as set by ``pooling``.

        Args:
            audio: float32 ``(batch, samples)`` at 16 kHz, at least 15,600
                samples per window; not modified.

        Returns:
            float32 ``(batch, 128)`` for ``pooling="mean"``, or
            ``(batch * frames, 128)`` for ``pooling="frames"``.

        Raises:
            TypeError: if ``audio`` is not a float32 ndarray.
            ValueError: on wrong rank, empty batch, NaN/inf, or fewer than
                15,600 samples.

        """
        frames = self.embed_frames(audio)
        if self.pooling == "frames":
            return frames.reshape(-1, self.dim)
        return frames.mean(axis=1, dtype=np.float32)
