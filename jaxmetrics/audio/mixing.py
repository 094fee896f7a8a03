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

:func:`mix_batch` mixes a whole batch of windows at once (the pipeline's
path): one K-weighting pass (pyloudnorm's two biquads as one ``sosfilt``
cascade) over every channel of every window, block energies from 100 ms hop
sums, and the gating done with masks over the batch; the per-pair functions
are the same code on a batch of one.

Any callable ``f(pair, sr) -> mono`` with ``pair`` of shape ``(samples, 2)``
can be used in place of these.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

# Why this module is long: the seven mix functions of audio-metrics, the
# BS.1770 loudness they share and the look-ahead limiter are one unit: the
# per-pair functions and the batch path run the same code.

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
            "the L0/L1/L2 mix functions need pyloudnorm: pip install pyloudnorm "
            "(or, in the jaxmetrics checkout, pip install -e '.[audio]')"
        ) from err
    return pyloudnorm


@functools.lru_cache(maxsize=8)
def _k_filters(sr: int) -> tuple[tuple[np.ndarray, np.ndarray, float], ...]:
    meter = _pyloudnorm().Meter(sr)
    return tuple((f.b, f.a, float(f.passband_gain)) for f in meter._filters.values())


@functools.lru_cache(maxsize=8)
def _k_sos(sr: int) -> tuple[np.ndarray, float]:
    """The two K-weighting biquads as one second-order-sections cascade, and its gain."""
    sections, gain = [], 1.0
    for b, a, stage_gain in _k_filters(sr):
        b, a = np.asarray(b, np.float64), np.asarray(a, np.float64)
        sections.append(np.concatenate([b / a[0], a / a[0]]))
        gain *= stage_gain
    return np.stack(sections), gain


def k_weight(x: np.ndarray, sr: int, axis: int = 0) -> np.ndarray:
    """Apply the BS.1770 K-weighting (pyloudnorm's two filter stages) along ``axis``, in float64.

    The two biquads pyloudnorm applies one after the other (``lfilter``) run
    as one second-order-sections cascade (``sosfilt``, one pass over the
    data); the results agree to round-off (about 1e-15 relative).
    """
    from scipy.signal import sosfilt

    sos, gain = _k_sos(sr)
    out = sosfilt(sos, np.asarray(x, np.float64), axis=axis)
    if gain != 1.0:
        out *= gain
    return out


@functools.lru_cache(maxsize=32)
def _blocks(n: int, sr: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Bounds of the gating blocks (as pyloudnorm lays them out) of ``n`` samples.

    Also the hop (samples per 100 ms step) when every block is exactly four
    whole hops starting at a hop boundary (then block energies are sums of
    four hop energies), else 0.
    """
    step = 1.0 - _OVERLAP
    num_blocks = int(np.round((n / sr - _BLOCK) / (_BLOCK * step))) + 1
    j = np.arange(num_blocks)
    lower = (_BLOCK * (j * step) * sr).astype(np.int64)
    upper = np.minimum((_BLOCK * (j * step + 1) * sr).astype(np.int64), n)
    hop = int(round(_BLOCK * step * sr))
    per_block = int(round(1 / step))
    regular = hop > 0 and np.array_equal(lower, j * hop)
    regular = regular and np.array_equal(upper, np.minimum((j + per_block) * hop, n))
    return lower, upper, hop if regular else 0


def _block_energies(weighted: np.ndarray, sr: int) -> np.ndarray:
    """Mean squares ``z`` of the BS.1770 gating blocks along the last axis: ``(..., blocks)``."""
    n = weighted.shape[-1]
    lower, upper, hop = _blocks(n, sr)
    if hop:
        full = n // hop
        squares = np.square(weighted)
        per_hop = squares[..., : full * hop].reshape(*squares.shape[:-1], full, hop).sum(-1)
        if full * hop < n:
            tail = squares[..., full * hop :].sum(-1, keepdims=True)
            per_hop = np.concatenate([per_hop, tail], axis=-1)
        per_block = int(round(1 / (1.0 - _OVERLAP)))
        padded = np.concatenate(
            [per_hop, np.zeros((*per_hop.shape[:-1], per_block), per_hop.dtype)], axis=-1
        )
        count = lower.shape[0]
        sums = padded[..., :count].copy()
        for k in range(1, per_block):
            sums += padded[..., k : k + count]
    else:
        csum = np.zeros((*weighted.shape[:-1], n + 1))
        np.cumsum(np.square(weighted), axis=-1, out=csum[..., 1:])
        sums = csum[..., upper] - csum[..., lower]
    return sums / (_BLOCK * sr)


def gated_loudness(weighted: np.ndarray, sr: int) -> np.ndarray:
    """BS.1770-4 gated loudness (LUFS) of K-weighted mono signals along the last axis.

    The gating is pyloudnorm's (same blocks, same absolute and relative
    gates), applied to every signal of the batch at once; -inf where no
    block passes the gates or the signal is shorter than one block.

    Args:
        weighted: ``(..., samples)`` K-weighted signals (:func:`k_weight`).
        sr: sample rate in Hz.

    Returns:
        ``weighted.shape[:-1]`` loudness values, float64.

    """
    batch_shape = weighted.shape[:-1]
    if weighted.shape[-1] < _BLOCK * sr:
        return np.full(batch_shape, -np.inf)
    z = _block_energies(weighted, sr)
    with np.errstate(divide="ignore", invalid="ignore"):
        block_loudness = -0.691 + 10.0 * np.log10(z)
        above = block_loudness >= _ABS_GATE
        relative = -0.691 + 10.0 * np.log10(np.where(above, z, 0.0).sum(-1) / above.sum(-1)) - 10.0
        keep = (block_loudness > relative[..., None]) & (block_loudness > _ABS_GATE)
        count = keep.sum(-1)
        out = -0.691 + 10.0 * np.log10(np.where(keep, z, 0.0).sum(-1) / count)
    return np.where(count > 0, out, -np.inf)


def _gated_loudness(weighted: np.ndarray, sr: int) -> float:
    """BS.1770-4 gating of one K-weighted mono signal (see :func:`gated_loudness`)."""
    return float(gated_loudness(weighted, sr))


def integrated_loudness(x: np.ndarray, sr: int) -> float | np.ndarray:
    """BS.1770-4 integrated loudness (LUFS) of mono signals; -inf if silent or under 0.4 s.

    Args:
        x: ``(samples,)`` mono audio, or ``(..., samples)`` for a batch of
            signals measured at once.
        sr: sample rate in Hz.

    Returns:
        The loudness in LUFS, as ``pyloudnorm.Meter(sr).integrated_loudness``
        gives it for each signal (a float for one signal, else an array).

    """
    loudness = gated_loudness(k_weight(x, sr, axis=-1), sr)
    return float(loudness) if np.ndim(x) == 1 else loudness


def limit(x: np.ndarray, sr: int, *, ceiling: float = LIMIT_CEILING) -> np.ndarray:
    """Look-ahead peak limiter: a smooth gain that keeps ``|x|`` at or below ``ceiling``.

    The gain each sample needs (``min(1, ceiling / |x|)``) is spread by a
    running minimum over ``±L`` samples (``L`` = 5 ms) and then smoothed by a
    moving average over ``2L + 1`` samples. Every sample in that average is at
    most the gain the centre sample needs, so no output sample exceeds the
    ceiling, while the gain moves over 5 ms instead of jumping.

    Args:
        x: ``(samples,)`` mono audio, or ``(batch, samples)``, each row
            limited on its own.
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
    spread = minimum_filter1d(need, size=2 * half + 1, mode="nearest", axis=-1)
    gain = uniform_filter1d(spread, size=2 * half + 1, mode="nearest", axis=-1)
    out = x * np.minimum(gain, need)  # the minimum only guards float round-off
    return out.astype(x.dtype, copy=False)


def _check_pair(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio)
    if audio.ndim != 2 or audio.shape[1] not in (1, 2):
        raise ValueError(f"a mix function takes a (samples, 2) pair, got shape {audio.shape}")
    return audio


def channels_first(pairs: Any) -> np.ndarray:
    """``(batch, 2, samples)`` float64 from an array ``(batch, samples, 2)`` or a list of pairs.

    One strided copy (with the conversion to float64) per pair; the mixes
    then run on contiguous channels.
    """
    if isinstance(pairs, np.ndarray):
        if pairs.ndim != 3 or pairs.shape[2] != 2:
            raise ValueError(f"pairs must have shape (batch, samples, 2), got {pairs.shape}")
        out = np.empty((pairs.shape[0], 2, pairs.shape[1]))
        np.copyto(out, pairs.transpose(0, 2, 1))
        return out
    pairs = list(pairs)
    if not pairs:
        raise ValueError("no pairs to mix")
    n = pairs[0].shape[0]
    out = np.empty((len(pairs), 2, n))
    for i, pair in enumerate(pairs):
        if pair.shape != (n, 2):
            raise ValueError(f"pair {i} has shape {pair.shape}; all pairs must be ({n}, 2)")
        np.copyto(out[i], pair.T)
    return out


def _peak_preserve(x: np.ndarray, sr: int) -> np.ndarray:
    del sr
    peak = np.abs(x).max(axis=(1, 2))
    mix = x.mean(axis=1)
    mix_peak = np.abs(mix).max(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(mix_peak > 0, peak / mix_peak, 1.0)
    mix *= scale[:, None]
    silent = peak <= _SILENCE
    if silent.any():
        mix[silent] = x[silent, 0]
    return mix


def _peak_normalize(x: np.ndarray, sr: int, *, stem_db: float, out_db: float) -> np.ndarray:
    del sr
    peaks = np.abs(x).max(axis=-1)
    gains = np.where(peaks > _SILENCE, 1.0 / np.maximum(peaks, _SILENCE), 0.0)
    gains[:, 1] *= 10 ** (stem_db / 20)
    mix = x[:, 0] * gains[:, :1]
    mix += x[:, 1] * gains[:, 1:]
    peak = np.abs(mix).max(axis=-1)
    with np.errstate(divide="ignore"):
        mix *= np.where(peak > 0, 10 ** (out_db / 20) / peak, 1.0)[:, None]
    return mix


def _loudness_mix(x: np.ndarray, sr: int, *, stem_db: float, out_db: float) -> np.ndarray:
    audible = np.abs(x).max(axis=-1) >= _SILENCE  # (batch, 2)
    weighted = k_weight(x, sr, axis=-1)  # linear, so the mix's is a combination of these
    level = gated_loudness(weighted, sr)  # (batch, 2)
    both = audible.all(axis=1)
    finite = both & np.isfinite(level).all(axis=1)
    with np.errstate(invalid="ignore", over="ignore"):
        g_stem = np.where(finite, 10 ** ((level[:, 0] + stem_db - level[:, 1]) / 20), 1.0)
    # only one channel audible: that channel alone (the other one's gain is 0)
    g_context = audible[:, 0].astype(np.float64)
    g_stem = np.where(both, g_stem, audible[:, 1].astype(np.float64))[:, None]
    mix = x[:, 0] * g_context[:, None]
    mix += g_stem * x[:, 1]
    mix_weighted = weighted[:, 0] * g_context[:, None]
    mix_weighted += g_stem * weighted[:, 1]
    l_mix = gated_loudness(mix_weighted, sr)
    with np.errstate(invalid="ignore", over="ignore"):
        mix *= np.where(np.isfinite(l_mix), 10 ** ((out_db - l_mix) / 20), 1.0)[:, None]
    loud = np.abs(mix).max(axis=-1) > LIMIT_CEILING
    if loud.any():
        mix[loud] = limit(mix[loud], sr)
    silent = ~audible.any(axis=1)
    if silent.any():
        mix[silent] = x[silent, 0]
    return mix


# The named mixes: P0-P2 peak-normalise the sum to -3 dBFS, L0-L2 bring it to
# -20 LUFS, with the stem 0, 3 or 6 dB below the context.
_STEM_DB = (0.0, -3.0, -6.0)
_PEAK_OUT_DB = -3.0
_LOUDNESS_OUT_DB = -20.0


def _named_mixes(peak_preserve: Any, peak_normalize: Any, loudness: Any) -> dict[str, Any]:
    """``{"PP", "P0".."P2", "L0".."L2"}`` bound to one family of implementations."""
    table = {"PP": peak_preserve}
    for i, stem_db in enumerate(_STEM_DB):
        table[f"P{i}"] = functools.partial(peak_normalize, stem_db=stem_db, out_db=_PEAK_OUT_DB)
    for i, stem_db in enumerate(_STEM_DB):
        table[f"L{i}"] = functools.partial(loudness, stem_db=stem_db, out_db=_LOUDNESS_OUT_DB)
    return table


_BATCH_MIXES: dict[str, Callable[[np.ndarray, int], np.ndarray]] = _named_mixes(
    _peak_preserve, _peak_normalize, _loudness_mix
)


def mix_batch(name: str, pairs: Any, sr: int) -> np.ndarray:
    """Mix a batch of equal-length pairs with a named mix function, all windows at once.

    The same arithmetic as the per-pair functions (:data:`MIX_FUNCTIONS`),
    vectorised over the batch: one K-weighting pass and one gating over all
    windows instead of a Python call per window.

    Args:
        name: one of :data:`MIX_FUNCTIONS`.
        pairs: ``(batch, samples, 2)`` array or a list of ``(samples, 2)`` pairs.
        sr: sample rate in Hz.

    Returns:
        ``(batch, samples)`` float32 mixes.

    """
    x = channels_first(pairs)
    return _BATCH_MIXES[name.upper()](x, sr).astype(np.float32)


def mix_peak_preserve(audio: np.ndarray, sr: int) -> np.ndarray:
    """``PP``: the mean of the tracks, scaled so that its peak is the pair's peak."""
    audio = _check_pair(audio)
    if audio.shape[1] == 1:
        return audio[:, 0].copy()
    return _peak_preserve(audio.T.astype(np.float64)[None], sr)[0]


def mix_peak_normalize(
    audio: np.ndarray, sr: int, *, stem_db: float = 0.0, out_db: float = -3.0
) -> np.ndarray:
    """``P0``-``P2``: peak-normalised tracks, stem at ``stem_db``, sum peaked at ``out_db`` dBFS."""
    audio = _check_pair(audio)
    x = np.zeros((1, 2, audio.shape[0]))
    x[0, : audio.shape[1]] = audio.T
    return _peak_normalize(x, sr, stem_db=stem_db, out_db=out_db)[0]


def mix_loudness(
    audio: np.ndarray, sr: int, *, stem_db: float = 0.0, out_db: float = -20.0
) -> np.ndarray:
    """``L0``-``L2``: stem at context loudness + ``stem_db``, mix at ``out_db`` LUFS, limited."""
    audio = _check_pair(audio)
    if audio.shape[1] == 1:
        return audio[:, 0].copy()
    x = audio.T.astype(np.float64)[None]
    return _loudness_mix(x, sr, stem_db=stem_db, out_db=out_db)[0]


MIX_FUNCTIONS: dict[str, MixFunction] = _named_mixes(
    mix_peak_preserve, mix_peak_normalize, mix_loudness
)


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
