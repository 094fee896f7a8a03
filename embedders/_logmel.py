"""A weight-free baseline embedder: statistics of log-mel band energies.

Not a learned representation: FAD and other figures computed on it are not
comparable with published figures (which use VGGish, CLAP, ...). It is for
offline demos, smoke tests and as a sanity baseline; it needs numpy and
librosa only (no torch, no download) and is deterministic.
"""

from __future__ import annotations

import numpy as np

from embedders._base import check_audio
from embedders._torch import require

__all__ = ["LogMel"]


class LogMel:
    """Mean and standard deviation over time of log-mel energies, per window.

    16 kHz input; power mel spectrogram (librosa, Slaney mel scale), 25 ms
    Hann windows every 10 ms without centring, 512-point FFT, 64 bands from 0
    to 8 kHz; ``log(mel + 1e-6)``. The embedding is the 64 band means
    followed by the 64 band standard deviations (128-d).

    Args:
        n_mels: number of mel bands (the embedding has ``2 * n_mels`` values).

    Raises:
        ValueError: if ``n_mels`` is not a positive int.
        ImportError: if librosa is missing.

    """

    name = "logmel"
    sample_rate = 16_000
    n_fft = 512
    win_length = 400
    hop_length = 160
    frame_windows = 96  # frames per block in embed_frames: 0.96 s like VGGish
    log_offset = 1e-6

    def __init__(self, *, n_mels: int = 64) -> None:
        if not isinstance(n_mels, int) or isinstance(n_mels, bool) or n_mels < 1:
            raise ValueError(f"n_mels must be a positive int, got {n_mels!r}")
        self.n_mels = n_mels
        self.dim = 2 * n_mels
        self.min_samples = self.n_fft
        self._librosa = require("librosa")

    def __repr__(self) -> str:
        return f"LogMel(n_mels={self.n_mels})"

    def log_mel(self, audio: np.ndarray) -> np.ndarray:
        """Compute log-mel energies ``(batch, frames, n_mels)``, float64, of checked audio."""
        mel = self._librosa.feature.melspectrogram(
            y=audio.astype(np.float64),
            sr=self.sample_rate,
            n_fft=self.n_fft,
            win_length=self.win_length,
            hop_length=self.hop_length,
            center=False,
            n_mels=self.n_mels,
            fmin=0.0,
            fmax=self.sample_rate / 2,
            power=2.0,
        )
        return np.log(mel + self.log_offset).transpose(0, 2, 1)

    @staticmethod
    def _stats(log_mel: np.ndarray) -> np.ndarray:
        return np.concatenate([log_mel.mean(axis=-2), log_mel.std(axis=-2)], axis=-1)

    def embed(self, audio: np.ndarray) -> np.ndarray:
        """Embed windows: band means and standard deviations over the whole window.

        Args:
            audio: float32 ``(batch, samples)`` at 16 kHz, at least 512
                samples; not modified.

        Returns:
            float32 ``(batch, 2 * n_mels)``.

        Raises:
            TypeError: if ``audio`` is not a float32 ndarray.
            ValueError: on wrong rank, empty batch, NaN/inf or too few samples.

        """
        audio = check_audio(audio, min_samples=self.min_samples)
        return self._stats(self.log_mel(audio)).astype(np.float32)

    def embed_frames(self, audio: np.ndarray) -> np.ndarray:
        """Embed each 0.96 s block (96 frames) of each window; a partial last block is dropped.

        Args:
            audio: float32 ``(batch, samples)`` at 16 kHz, at least 15,712
                samples (one block); not modified.

        Returns:
            float32 ``(batch, blocks, 2 * n_mels)``.

        Raises:
            TypeError: if ``audio`` is not a float32 ndarray.
            ValueError: on wrong rank, empty batch, NaN/inf or too few samples.

        """
        block = self.n_fft + (self.frame_windows - 1) * self.hop_length
        audio = check_audio(audio, min_samples=block)
        log_mel = self.log_mel(audio)
        blocks = log_mel.shape[1] // self.frame_windows
        log_mel = log_mel[:, : blocks * self.frame_windows]
        log_mel = log_mel.reshape(audio.shape[0], blocks, self.frame_windows, self.n_mels)
        return self._stats(log_mel).astype(np.float32)
