"""VGGish input features: log-mel examples exactly as torchvggish computes them.

A batched, vectorised restatement of ``torchvggish.vggish_input.
waveform_to_examples`` at 16 kHz (itself the TensorFlow VGGish recipe): 25 ms
periodic-Hann frames every 10 ms, 512-point FFT magnitude, 64 HTK mel bands
from 125 to 7500 Hz (DC bin zeroed), ``log(mel + 0.01)``, then
non-overlapping examples of 96 frames (0.96 s); trailing frames that do not
fill an example are dropped. Computed in float64 like the reference, cast to
float32 at the end. The tests compare it with torchvggish's own function.

References:
    Hershey et al., "CNN Architectures for Large-Scale Audio
    Classification", ICASSP 2017 (arXiv:1609.09430).

"""

from __future__ import annotations

import functools

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "EXAMPLE_FRAMES",
    "MIN_SAMPLES",
    "NUM_BANDS",
    "SAMPLE_RATE",
    "log_mel_examples",
    "num_examples",
]

SAMPLE_RATE = 16_000
WINDOW = 400  # 25 ms
HOP = 160  # 10 ms
FFT = 512
NUM_BANDS = 64
MEL_MIN_HZ = 125.0
MEL_MAX_HZ = 7500.0
LOG_OFFSET = 0.01
EXAMPLE_FRAMES = 96  # 0.96 s, examples do not overlap
MIN_SAMPLES = WINDOW + (EXAMPLE_FRAMES - 1) * HOP  # 15,600 samples: one example


def num_examples(samples: int) -> int:
    """Count the 0.96 s examples torchvggish takes from ``samples`` samples."""
    if samples < WINDOW:
        return 0
    return (1 + (samples - WINDOW) // HOP) // EXAMPLE_FRAMES


def _hertz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


@functools.cache
def _mel_matrix() -> np.ndarray:
    """(FFT/2+1, NUM_BANDS) HTK triangular filters, zero on the DC bin."""
    bins = FFT // 2 + 1
    bins_mel = _hertz_to_mel(np.linspace(0.0, SAMPLE_RATE / 2.0, bins))
    edges = np.linspace(_hertz_to_mel(MEL_MIN_HZ), _hertz_to_mel(MEL_MAX_HZ), NUM_BANDS + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins_mel[:, None] - lower) / (center - lower)
    falling = (upper - bins_mel[:, None]) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0
    weights.setflags(write=False)
    return weights


@functools.cache
def _periodic_hann() -> np.ndarray:
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi / WINDOW * np.arange(WINDOW))
    window.setflags(write=False)
    return window


def log_mel_examples(audio: np.ndarray) -> np.ndarray:
    """Compute VGGish log-mel examples for a batch of 16 kHz windows.

    Args:
        audio: float array ``(batch, samples)`` with ``samples >= MIN_SAMPLES``;
            not modified.

    Returns:
        float32 array ``(batch, examples, 96, 64)``.

    Raises:
        ValueError: if ``audio`` is not 2-D or shorter than one example.

    """
    if audio.ndim != 2:
        raise ValueError(f"audio must be (batch, samples), got shape {audio.shape}")
    n_ex = num_examples(audio.shape[1])
    if n_ex == 0:
        raise ValueError(
            f"audio has {audio.shape[1]} samples; one VGGish example needs {MIN_SAMPLES}"
        )
    n_frames = n_ex * EXAMPLE_FRAMES
    used = WINDOW + (n_frames - 1) * HOP
    frames = sliding_window_view(audio[:, :used], WINDOW, axis=1)[:, ::HOP]
    spectrum = np.abs(np.fft.rfft(frames.astype(np.float64) * _periodic_hann(), FFT))
    log_mel = np.log(spectrum @ _mel_matrix() + LOG_OFFSET)
    return log_mel.reshape(audio.shape[0], n_ex, EXAMPLE_FRAMES, NUM_BANDS).astype(np.float32)
