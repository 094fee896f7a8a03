"""Synthetic music-like audio at known, increasing degradation (the ``jaxmetrics demo``).

Each clip is a sequence of chords: three to four harmonic tones (decaying
partials, a percussive envelope per chord) over a quiet noise floor, at
random roots in a two-octave range. A candidate set at ``level`` in [0, 1]
is a fresh sample of the same generator degraded four ways at once, each in
proportion to ``level``: detuning (chord tones out of tune by up to 60
cents), a low-pass filter (cutoff from 8 kHz down to 1 kHz),
clipping (at down to 20% of the peak) and added white noise (SNR down to
5 dB). ``level = 0`` is a clean sample of the reference distribution.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DEMO_LEVELS", "degraded_audio_sets", "synth_clip"]

DEMO_LEVELS = (0.0, 0.25, 0.5, 1.0)


def synth_clip(
    rng: np.random.Generator, *, seconds: float, sr: int, detune: float = 0.0
) -> np.ndarray:
    """One clip of random chords, float64 mono, peak 0.5.

    Tones are read from a wavetable of six decaying harmonics (random phases
    per clip), so synthesis costs a few operations per sample and tone.

    Args:
        rng: numpy generator.
        seconds: clip length.
        sr: sample rate.
        detune: standard deviation, in cents, of each chord tone's pitch error.

    """
    n = int(seconds * sr)
    size = 4096
    phase = np.arange(size) / size
    table = sum(
        np.sin(2 * np.pi * k * phase + rng.uniform(0, 2 * np.pi)) / k**1.5 for k in range(1, 7)
    )
    out = np.zeros(n)
    chord_len = int(sr * rng.uniform(0.4, 0.8))
    t = np.arange(chord_len) / sr
    envelope = np.exp(-t * rng.uniform(2.0, 5.0)) * np.minimum(1.0, t / 0.01)
    for start in range(0, n, chord_len):
        root = 110.0 * 2 ** (rng.integers(0, 24) / 12)
        steps = np.array([0, 4, 7, 10][: rng.integers(3, 5)], float)
        f0 = root * 2 ** ((steps + rng.normal(0, detune / 100, steps.shape)) / 12)
        index = (np.outer(f0, t) * size + rng.integers(0, size, (len(f0), 1))).astype(np.int64)
        seg = table[index % size].sum(axis=0)
        stop = min(n, start + chord_len)
        out[start:stop] += (seg * envelope)[: stop - start]
    out += rng.normal(0, 0.003 * np.abs(out).max(), n)
    return 0.5 * out / np.abs(out).max()


def degrade(x: np.ndarray, level: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Low-pass, clip and add noise in proportion to ``level`` in [0, 1] (detuning: synthesis)."""
    if level <= 0:
        return x
    from scipy.signal import butter, sosfilt

    cutoff = 8000.0 * (1000.0 / 8000.0) ** level
    if cutoff < sr / 2 * 0.99:
        x = sosfilt(butter(6, cutoff, fs=sr, output="sos"), x)
    peak = np.abs(x).max()
    x = np.clip(x, -peak * (1 - 0.8 * level), peak * (1 - 0.8 * level))
    snr_db = 40.0 - 35.0 * level
    x = x + rng.normal(0, np.sqrt(np.mean(x**2) / 10 ** (snr_db / 10)), x.shape)
    return x


def degraded_audio_sets(
    *,
    clips: int = 48,
    seconds: float = 8.0,
    sr: int = 16_000,
    levels: tuple[float, ...] = DEMO_LEVELS,
    seed: int = 0,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A reference set of clips and candidate sets at increasing degradation.

    Returns:
        ``(reference, {"level=...": candidate})``, float32 ``(clips, samples)``.

    """
    rng = np.random.default_rng(seed)

    def make(level: float) -> np.ndarray:
        return np.stack(
            [
                degrade(
                    synth_clip(rng, seconds=seconds, sr=sr, detune=60.0 * level), level, sr, rng
                )
                for _ in range(clips)
            ]
        ).astype(np.float32)

    reference = make(0.0)
    return reference, {f"level={level:g}": make(level) for level in levels}
