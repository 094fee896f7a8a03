"""Mix functions for APA: (context, stem) pairs to one mono mix.

The names and levels are those of the ``audio-metrics`` package (1.0.4):

- ``PP``: the mean of the two tracks, rescaled to the peak of the pair;
- ``P0``, ``P1``, ``P2``: each track peak-normalised, the stem lowered by 0,
  3 or 6 dB, summed, the sum peak-normalised to -3 dBFS;
- ``L0``, ``L1``, ``L2`` (``L0`` is the default): the stem set to the
  BS.1770 integrated loudness of the context plus 0, -3 or -6 dB, summed,
  the sum normalised to -20 LUFS, and a look-ahead limiter applied if the
  result would clip.

Loudness is ITU-R BS.1770-4 integrated loudness with the K-weighting filters
of ``pyloudnorm``; the filtering is linear, so the mix's weighted signal is
formed from the weighted tracks instead of being filtered again (identical up
to round-off to ``pyloudnorm.Meter.integrated_loudness`` of the mix). Silent
tracks (peak below 1e-5) are left out instead of producing NaN.

Any callable ``f(pair, sr) -> mono`` with ``pair`` of shape ``(samples, 2)``
can be used in place of these.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["DEFAULT_MIX_FUNCTION", "MIX_FUNCTIONS", "get_mix_function", "integrated_loudness"]

MixFunction = Callable[..., np.ndarray]
DEFAULT_MIX_FUNCTION = "L0"
_SILENCE = 1e-5
_BLOCK = 0.4  # BS.1770 gating block, seconds
_OVERLAP = 0.75
_ABS_GATE = -70.0
LIMIT_CEILING = 10 ** (-0.1 / 20)  # -0.1 dBFS
LIMIT_LOOKAHEAD = 0.005  # seconds


def _pyloudnorm() -> Any:
    try:
        import pyloudnorm
    except ImportError as err:
        raise ImportError(
            "the L0/L1/L2 mix functions need pyloudnorm: pip install 'jaxmetrics[audio]'"
        ) from err
    return pyloudnorm


@functools.lru_cache(maxsize=8)
def _k_filters(sr: int) -> tuple[tuple[np.ndarray, np.ndarray, float], ...]:
    meter = _pyloudnorm().Meter(sr)
    return tuple((f.b, f.a, float(f.passband_gain)) for f in meter._filters.values())


def k_weight(x: np.ndarray, sr: int) -> np.ndarray:
    """Apply the BS.1770 K-weighting (pyloudnorm's two filter stages) along the first axis."""
    from scipy.signal import lfilter

    out = np.asarray(x, np.float64)
    for b, a, gain in _k_filters(sr):
        out = gain * lfilter(b, a, out, axis=0)
    return out


def _gated_loudness(weighted: np.ndarray, sr: int) -> float:
    """BS.1770-4 gating of a K-weighted mono signal, laid out as pyloudnorm does."""
    n = weighted.shape[0]
    if n < _BLOCK * sr:
        return -np.inf
    step = 1.0 - _OVERLAP
    num_blocks = int(np.round((n / sr - _BLOCK) / (_BLOCK * step))) + 1
    j = np.arange(num_blocks)
    lower = (_BLOCK * (j * step) * sr).astype(np.int64)
    upper = np.minimum((_BLOCK * (j * step + 1) * sr).astype(np.int64), n)
    csum = np.concatenate([[0.0], np.cumsum(weighted * weighted)])
    z = (csum[upper] - csum[lower]) / (_BLOCK * sr)
    with np.errstate(divide="ignore", invalid="ignore"):
        block_loudness = -0.691 + 10.0 * np.log10(z)
        gated = z[block_loudness >= _ABS_GATE]
        if gated.size == 0:
            return -np.inf
        relative = -0.691 + 10.0 * np.log10(gated.mean()) - 10.0
        keep = (block_loudness > relative) & (block_loudness > _ABS_GATE)
        if not keep.any():
            return -np.inf
        return float(-0.691 + 10.0 * np.log10(z[keep].mean()))


def integrated_loudness(x: np.ndarray, sr: int) -> float:
    """BS.1770-4 integrated loudness (LUFS) of a mono signal; -inf if silent or under 0.4 s.

    Args:
        x: ``(samples,)`` mono audio.
        sr: sample rate in Hz.

    Returns:
        The loudness in LUFS, as ``pyloudnorm.Meter(sr).integrated_loudness(x)``.

    """
    return _gated_loudness(k_weight(x, sr), sr)


def limit(x: np.ndarray, sr: int, *, ceiling: float = LIMIT_CEILING) -> np.ndarray:
    """Look-ahead peak limiter: a smooth gain that keeps ``|x|`` at or below ``ceiling``.

    The gain each sample needs (``min(1, ceiling / |x|)``) is spread by a
    running minimum over ``±L`` samples (``L`` = 5 ms) and then smoothed by a
    moving average over ``2L + 1`` samples. Every sample in that average is at
    most the gain the centre sample needs, so no output sample exceeds the
    ceiling, while the gain moves over 5 ms instead of jumping.

    Args:
        x: ``(samples,)`` mono audio.
        sr: sample rate in Hz.
        ceiling: largest absolute output value.

    Returns:
        The limited signal (a new array, same dtype as ``x``).

    """
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    peak = np.abs(x)
    if peak.max(initial=0.0) <= ceiling:
        return x.copy()
    need = np.minimum(1.0, ceiling / np.maximum(peak, 1e-30))
    half = max(1, int(LIMIT_LOOKAHEAD * sr))
    spread = minimum_filter1d(need, size=2 * half + 1, mode="nearest")
    gain = uniform_filter1d(spread, size=2 * half + 1, mode="nearest")
    out = x * np.minimum(gain, need)  # the minimum only guards float round-off
    return out.astype(x.dtype, copy=False)


def _check_pair(audio: np.ndarray) -> np.ndarray:
    if audio.ndim != 2:
        raise ValueError(f"a mix function takes a (samples, 2) pair, got shape {audio.shape}")
    return audio


def mix_peak_preserve(audio: np.ndarray, sr: int) -> np.ndarray:
    """``PP``: the mean of the tracks, scaled so that its peak is the pair's peak."""
    del sr
    audio = _check_pair(audio)
    if audio.shape[1] == 1:
        return audio[:, 0].copy()
    peak = np.abs(audio).max()
    if peak <= _SILENCE:
        return audio[:, 0].copy()
    mix = audio.mean(axis=1)
    mix_peak = np.abs(mix).max()
    return mix * (peak / mix_peak) if mix_peak > 0 else mix


def mix_peak_normalize(
    audio: np.ndarray, sr: int, *, stem_db: float = 0.0, out_db: float = -3.0
) -> np.ndarray:
    """``P0``-``P2``: peak-normalised tracks, stem at ``stem_db``, sum peaked at ``out_db`` dBFS."""
    del sr
    audio = _check_pair(audio)
    peaks = np.abs(audio).max(axis=0)
    gains = np.where(peaks > _SILENCE, 1.0 / np.maximum(peaks, _SILENCE), 0.0)
    if audio.shape[1] > 1:
        gains[1] *= 10 ** (stem_db / 20)
    mix = audio @ gains
    peak = np.abs(mix).max()
    return mix * (10 ** (out_db / 20) / peak) if peak > 0 else mix


def mix_loudness(
    audio: np.ndarray, sr: int, *, stem_db: float = 0.0, out_db: float = -20.0
) -> np.ndarray:
    """``L0``-``L2``: stem at context loudness + ``stem_db``, mix at ``out_db`` LUFS, limited."""
    audio = _check_pair(audio)
    if audio.shape[1] == 1:
        return audio[:, 0].copy()
    audible = np.abs(audio).max(axis=0) >= _SILENCE
    if not audible.any():
        return audio[:, 0].copy()
    weighted = k_weight(audio, sr)  # (samples, 2); linear, so the mix's is a combination
    if audible.all():
        l_context = _gated_loudness(weighted[:, 0], sr)
        l_stem = _gated_loudness(weighted[:, 1], sr)
        g_stem = 1.0
        if np.isfinite(l_context) and np.isfinite(l_stem):
            g_stem = 10 ** ((l_context + stem_db - l_stem) / 20)
        mix = audio[:, 0] + g_stem * audio[:, 1]
        mix_weighted = weighted[:, 0] + g_stem * weighted[:, 1]
    else:
        keep = int(np.argmax(audible))
        mix = audio[:, keep].astype(np.float64)
        mix_weighted = weighted[:, keep]
    l_mix = _gated_loudness(mix_weighted, sr)
    if np.isfinite(l_mix):
        mix = mix * 10 ** ((out_db - l_mix) / 20)
    return limit(mix, sr)


MIX_FUNCTIONS: dict[str, MixFunction] = {
    "PP": mix_peak_preserve,
    "P0": functools.partial(mix_peak_normalize, stem_db=0.0, out_db=-3.0),
    "P1": functools.partial(mix_peak_normalize, stem_db=-3.0, out_db=-3.0),
    "P2": functools.partial(mix_peak_normalize, stem_db=-6.0, out_db=-3.0),
    "L0": functools.partial(mix_loudness, stem_db=0.0, out_db=-20.0),
    "L1": functools.partial(mix_loudness, stem_db=-3.0, out_db=-20.0),
    "L2": functools.partial(mix_loudness, stem_db=-6.0, out_db=-20.0),
}


def get_mix_function(mix_function: str | MixFunction | None) -> tuple[str, MixFunction]:
    """Resolve a mix function name (or callable) to ``(identity, function)``.

    Args:
        mix_function: None (``"L0"``), one of :data:`MIX_FUNCTIONS`, or a
            callable ``f(pair, sr=...)``.

    Returns:
        A name for the state file and the function.

    Raises:
        ValueError: on an unknown name.

    """
    if mix_function is None:
        mix_function = DEFAULT_MIX_FUNCTION
    if callable(mix_function):
        name = getattr(mix_function, "__qualname__", type(mix_function).__qualname__)
        return f"callable:{getattr(mix_function, '__module__', '?')}.{name}", mix_function
    if isinstance(mix_function, str) and mix_function.upper() in MIX_FUNCTIONS:
        return mix_function.upper(), MIX_FUNCTIONS[mix_function.upper()]
    raise ValueError(
        f"unknown mix_function {mix_function!r}; choose one of {', '.join(MIX_FUNCTIONS)} "
        "or pass a callable f(pair, sr)"
    )
