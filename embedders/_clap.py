"""LAION-CLAP (HTSAT-base, audio branch) behind the numpy adapter.

The encoder is laion_clap's own ``HTSAT_Swin_Transformer`` plus the audio
projection MLP (``Linear(1024, 512), ReLU, Linear(512, 512)``), with the
weights of the ``audio_branch.*`` and ``audio_projection.*`` entries of a
released checkpoint; the text branch is neither built nor loaded.

Input preparation is that of ``CLAP_Module.get_audio_embedding_from_data(x,
use_tensor=True)`` for non-fusion models: 48 kHz audio, no int16 round trip,
windows shorter than 10 s (480,000 samples) repeated ``floor(480000 / n)``
times and zero-padded to 10 s. Windows longer than 10 s are *not* cropped at
a random offset as laion_clap does: they are cut into 10 s segments starting
every 10 s, the last one ending at the end of the window (the layout of
``CLAP.audio_infer`` with ``hopsize=480000``); :meth:`LaionClap.embed_frames`
returns one embedding per segment and :meth:`LaionClap.embed` their mean.

Layers (as the ``audio-metrics`` package defines them): ``None`` (or
``"final"``): the 512-d embedding L2-normalised, as laion_clap returns it;
``"l-1"``: the output of ``audio_projection.2`` (before normalisation);
``"l-2"``: the output of ``audio_projection.0`` (before the ReLU).

References:
    Wu et al., "Large-scale Contrastive Language-Audio Pretraining with
    Feature Fusion and Keyword-to-Caption Augmentation", ICASSP 2023
    (arXiv:2211.06687).

"""

from __future__ import annotations

import functools
import os
import types
from pathlib import Path
from typing import Any

import numpy as np

from embedders._base import check_audio
from embedders._clap_import import clap_modules
from embedders._torch import require, resolve_device
from embedders._weights import WeightFile, load_checkpoint, load_strict, resolve_weights

__all__ = ["CLAP_CHECKPOINTS", "CLIP_SAMPLES", "LAYERS", "LaionClap", "segment_starts"]

_HUB = "https://huggingface.co/lukewys/laion_clap/resolve/main/"
CLAP_CHECKPOINTS = {
    "music": WeightFile(
        "music_audioset_epoch_15_esc_90.14.pt", _HUB + "music_audioset_epoch_15_esc_90.14.pt"
    ),
    "music-speech": WeightFile(
        "music_speech_audioset_epoch_15_esc_89.98.pt",
        _HUB + "music_speech_audioset_epoch_15_esc_89.98.pt",
    ),
}
LAYERS = ("final", "l-1", "l-2")
SAMPLE_RATE = 48_000
CLIP_SAMPLES = 480_000
_KEEP = ("audio_branch.", "audio_projection.")


def build_network() -> Any:
    """Build the untrained HTSAT-base encoder with its audio projection.

    Returns:
        A ``torch.nn.Module`` whose forward maps a ``(n, 480000)`` waveform
        to the triple ``(final, l-1, l-2)`` of ``(n, 512)`` tensors.

    Raises:
        ImportError: if laion_clap 1.1.7 or its audio-branch imports are missing.

    """
    torch = require("torch")
    modules = clap_modules()
    config = modules.config
    audio_cfg = types.SimpleNamespace(**config["audio_cfg"])
    joint = 512

    class ClapAudio(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.audio_branch = modules.htsat.create_htsat_model(
                audio_cfg, enable_fusion=False, fusion_type="None"
            )
            self.audio_projection = torch.nn.Sequential(
                torch.nn.Linear(config["embed_dim"], joint),
                torch.nn.ReLU(),
                torch.nn.Linear(joint, joint),
            )

        def forward(self, waveform: Any) -> tuple[Any, Any, Any]:
            out = self.audio_branch(
                {"waveform": waveform}, mixup_lambda=None, device=waveform.device
            )
            l2 = self.audio_projection[0](out["embedding"])
            l1 = self.audio_projection[2](self.audio_projection[1](l2))
            return torch.nn.functional.normalize(l1, dim=-1), l1, l2

    return ClapAudio()


def audio_state_dict(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """Extract the audio-branch tensors from a LAION-CLAP checkpoint.

    Args:
        checkpoint: ``{"state_dict": {"module.audio_branch....": ...}, ...}``
            as released, or a bare state dict, with or without the
            ``module.`` prefix of DistributedDataParallel.

    Returns:
        The ``audio_branch.*`` and ``audio_projection.*`` entries, unprefixed.

    """
    state = checkpoint.get("state_dict", checkpoint)
    out = {}
    for key, value in state.items():
        name = key[len("module.") :] if key.startswith("module.") else key
        if name.startswith(_KEEP):
            out[name] = value
    return out


@functools.lru_cache(maxsize=4)
def _load_model(path: str, stamp: tuple[int, int], device: str) -> Any:
    del stamp  # cache key only
    model = build_network()
    state = audio_state_dict(load_checkpoint(path))
    load_strict(model, state, source=repr(path))
    return model.to(device).eval()


def load_model(path: str | os.PathLike[str], device: Any) -> Any:
    """Load (once per file and device) the CLAP audio encoder.

    Args:
        path: a released LAION-CLAP HTSAT-base checkpoint.
        device: a ``torch.device``.

    Returns:
        The encoder in eval mode on ``device``, shared between callers.

    Raises:
        ValueError: if the file is unreadable or its audio keys do not match.

    """
    path = Path(path).resolve()
    st = path.stat()
    return _load_model(str(path), (st.st_mtime_ns, st.st_size), str(device))


def segment_starts(samples: int) -> list[int]:
    """Give the start offsets of the 10 s segments a window of ``samples`` is cut into.

    Args:
        samples: window length at 48 kHz.

    Returns:
        ``[0]`` up to 10 s; beyond, every 480,000 samples and a last segment
        ending at the end.

    """
    if samples <= CLIP_SAMPLES:
        return [0]
    starts = list(range(0, samples - CLIP_SAMPLES, CLIP_SAMPLES))
    starts.append(samples - CLIP_SAMPLES)
    return starts


def prepare(audio: np.ndarray) -> np.ndarray:
    """Lay windows out as the 10 s inputs the encoder takes.

    Args:
        audio: float32 ``(batch, samples)``; not modified.

    Returns:
        float32 ``(batch, segments, 480000)``: repeat-padded as laion_clap
        does below 10 s, cut into segments (see :func:`segment_starts`) above.

    """
    batch, samples = audio.shape
    if samples < CLIP_SAMPLES:
        repeats = CLIP_SAMPLES // samples
        out = np.zeros((batch, 1, CLIP_SAMPLES), dtype=np.float32)
        out[:, 0, : repeats * samples] = np.tile(audio, (1, repeats))
        return out
    return np.stack([audio[:, s : s + CLIP_SAMPLES] for s in segment_starts(samples)], axis=1)


class LaionClap:
    """LAION-CLAP HTSAT-base audio embeddings of 48 kHz audio, 512-d.

    Args:
        checkpoint: ``"music"`` (``music_audioset_epoch_15_esc_90.14.pt``) or
            ``"music-speech"`` (``music_speech_audioset_epoch_15_esc_89.98.pt``).
        layer: ``None``/``"final"``, ``"l-1"`` or ``"l-2"`` (see the module doc).
        weights: explicit checkpoint path; by default resolved as described
            in :mod:`embedders._weights`.
        device: ``"cpu"``, ``"cuda"``, ``"mps"`` or None for the best available.
        batch_size: most 10 s segments per forward pass.

    Raises:
        ValueError: on a bad ``checkpoint``, ``layer``, ``batch_size`` or
            ``device``, or a checkpoint whose audio keys do not match.
        WeightsNotFoundError: if the checkpoint cannot be found or downloaded.
        ImportError: if torch, torchvision, torchlibrosa or laion-clap 1.1.7
            is missing.

    """

    sample_rate = SAMPLE_RATE
    dim = 512
    min_samples = 1

    def __init__(
        self,
        checkpoint: str = "music",
        *,
        layer: str | None = None,
        weights: str | os.PathLike[str] | None = None,
        device: Any = None,
        batch_size: int = 8,
    ) -> None:
        if checkpoint not in CLAP_CHECKPOINTS:
            raise ValueError(
                f"checkpoint must be one of {sorted(CLAP_CHECKPOINTS)}, got {checkpoint!r}"
            )
        layer = "final" if layer is None else layer
        if layer not in LAYERS:
            raise ValueError(f"layer must be None or one of {LAYERS}, got {layer!r}")
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.checkpoint = checkpoint
        self.layer = layer
        self.name = f"clap-{checkpoint}" + ("" if layer == "final" else f"-{layer}")
        self.batch_size = batch_size
        self.device = resolve_device(device)
        self.weights_path = resolve_weights(CLAP_CHECKPOINTS[checkpoint], weights)
        self._model = load_model(self.weights_path, self.device)
        self._index = LAYERS.index(layer)

    @staticmethod
    def layers() -> tuple[str, ...]:
        """Return the layer names this embedder accepts."""
        return LAYERS

    def __repr__(self) -> str:
        return f"LaionClap({self.checkpoint!r}, layer={self.layer!r}, device={str(self.device)!r})"

    def forward_segments(self, segments: np.ndarray) -> np.ndarray:
        """Run the encoder on 10 s segments, in batches of ``batch_size``.

        Args:
            segments: float32 ``(n, 480000)``.

        Returns:
            float32 ``(n, 512)`` of this embedder's layer.

        """
        torch = require("torch")
        out = np.empty((segments.shape[0], self.dim), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, segments.shape[0], self.batch_size):
                chunk = torch.from_numpy(segments[start : start + self.batch_size])
                emb = self._model(chunk.to(self.device))[self._index]
                out[start : start + chunk.shape[0]] = emb.float().cpu().numpy()
        return out

    def embed_frames(self, audio: np.ndarray) -> np.ndarray:
        """Embed each 10 s segment of each window.

        Args:
            audio: float32 ``(batch, samples)`` at 48 kHz; not modified.

        Returns:
            float32 ``(batch, segments, 512)``; one segment up to 10 s.

        Raises:
            TypeError: if ``audio`` is not a float32 ndarray.
            ValueError: on wrong rank, empty batch, no samples or NaN/inf.

        """
        audio = check_audio(audio, min_samples=1)
        segments = prepare(audio)
        batch, count = segments.shape[:2]
        flat = np.ascontiguousarray(segments.reshape(batch * count, CLIP_SAMPLES))
        return self.forward_segments(flat).reshape(batch, count, self.dim)

    def embed(self, audio: np.ndarray) -> np.ndarray:
        """Embed windows: one 512-d vector each (the mean over 10 s segments).

        Args:
            audio: float32 ``(batch, samples)`` at 48 kHz; not modified.

        Returns:
            float32 ``(batch, 512)``.

        Raises:
            TypeError: if ``audio`` is not a float32 ndarray.
            ValueError: on wrong rank, empty batch, no samples or NaN/inf.

        """
        frames = self.embed_frames(audio)
        if frames.shape[1] == 1:
            return frames[:, 0]
        return frames.mean(axis=1, dtype=np.float32)
