"""Batched mixing: BS.1770 loudness over a whole batch equals pyloudnorm's, and the batched
mixes equal the per-pair mix functions and a plain restatement of them through pyloudnorm.
"""

from __future__ import annotations

import numpy as np
import pytest

import jaxmetrics as jm
from jaxmetrics.audio import mixing as _mixing

pyln = pytest.importorskip("pyloudnorm")


def _signals(rng, sr, seconds):
    n = int(seconds * sr)
    t = np.arange(n) / sr
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    gated = tone * (t > seconds / 2)  # half silence: the relative gate matters
    quiet = 1e-5 * rng.normal(size=n)  # below the absolute gate: -inf
    return np.stack([tone, rng.normal(0, 0.05, n), gated, quiet, np.zeros(n)])


@pytest.mark.parametrize(
    ("sr", "seconds"),
    [(16_000, 5.0), (48_000, 2.0), (44_100, 1.23), (22_050, 3.37), (11_025, 1.9), (16_000, 0.3)],
)
def test_batch_loudness_equals_pyloudnorm(sr, seconds):
    # 11,025 Hz has no whole-sample 100 ms hop, so it takes the cumulative-sum path.
    batch = _signals(np.random.default_rng(sr), sr, seconds)
    ours = _mixing.integrated_loudness(batch, sr)
    assert ours.shape == (batch.shape[0],)
    for x, got in zip(batch, ours, strict=True):
        if seconds < 0.4:  # pyloudnorm refuses a signal shorter than one block
            assert got == -np.inf
            continue
        expected = pyln.Meter(sr).integrated_loudness(x)
        if np.isinf(expected):
            assert got == expected
        else:
            assert abs(got - expected) < 1e-10, (got, expected)
        # One signal alone against the batch: the block powers are sums in
        # another order (batched cumulative sums), each within n*eps relative
        # (n <= 1e6 samples), which moves 10*log10 by at most 4.4*n*eps < 1e-9 dB.
        alone = _mixing.integrated_loudness(x, sr)
        assert alone == got if np.isinf(got) else abs(alone - got) < 1e-9


def _reference_loudness_mix(pair, sr, stem_db, out_db=-20.0):
    """The L-mix restated on pyloudnorm.Meter.integrated_loudness, in float64, one pair."""
    meter = pyln.Meter(sr)
    pair = pair.astype(np.float64)
    audible = np.abs(pair).max(0) >= 1e-5
    if not audible.any():
        return pair[:, 0]
    if audible.all():
        with np.errstate(divide="ignore"):
            l_context = meter.integrated_loudness(pair[:, 0])
            l_stem = meter.integrated_loudness(pair[:, 1])
        gain = 1.0
        if np.isfinite(l_context) and np.isfinite(l_stem):
            gain = 10 ** ((l_context + stem_db - l_stem) / 20)
        mix = pair[:, 0] + gain * pair[:, 1]
    else:
        mix = pair[:, int(np.argmax(audible))]
    with np.errstate(divide="ignore"):
        l_mix = meter.integrated_loudness(mix)
    if np.isfinite(l_mix):
        mix = mix * 10 ** ((out_db - l_mix) / 20)
    return _mixing.limit(mix, sr)


def _reference_peak_mix(pair, stem_db):
    pair = pair.astype(np.float64)
    peaks = np.abs(pair).max(0)
    gains = np.where(peaks > 1e-5, 1 / np.maximum(peaks, 1e-5), 0.0) * [1, 10 ** (stem_db / 20)]
    mix = pair @ gains
    peak = np.abs(mix).max()
    return mix * (10 ** (-3 / 20) / peak) if peak > 0 else mix


def _pairs(rng, sr, seconds=1.5):
    n = int(seconds * sr)
    t = np.arange(n) / sr
    context = 0.4 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.5 * t))
    square = np.sign(np.sin(2 * np.pi * 50 * t)) * 1e-3
    spiky = square.copy()
    spiky[:: sr // 4] = 0.9
    zero = np.zeros(n)
    pairs = [
        np.stack([context, rng.normal(0, 0.02, n)], 1),
        rng.uniform(-0.5, 0.5, (n, 2)),
        np.stack([context, zero], 1),  # silent stem
        np.stack([zero, context], 1),  # silent context
        np.stack([zero, zero], 1),
        np.stack([spiky, square], 1),  # the L-mix needs the limiter
        np.stack([3 * context, -3 * context], 1),  # sums to silence
    ]
    return np.stack(pairs).astype(np.float32)


@pytest.mark.parametrize("sr", [16_000, 48_000, 11_025])
def test_mix_batch_equals_per_pair_and_reference(sr):
    pairs = _pairs(np.random.default_rng(1), sr)
    for name in _mixing.MIX_FUNCTIONS:
        batch = _mixing.mix_batch(name, pairs, sr)
        listed = _mixing.mix_batch(name, list(pairs), sr)
        assert batch.dtype == np.float32 and batch.shape == pairs.shape[:2]
        np.testing.assert_array_equal(batch, listed)
        for index, (pair, got) in enumerate(zip(pairs, batch, strict=True)):
            one = _mixing.MIX_FUNCTIONS[name](pair, sr=sr)
            np.testing.assert_array_equal(got, one.astype(np.float32))
            if name.startswith("L"):
                expected = _reference_loudness_mix(pair, sr, -3.0 * int(name[1]))
            elif name == "PP":
                peak = np.abs(pair).max()
                mean = pair.astype(np.float64).mean(1)
                expected = pair[:, 0] if peak <= 1e-5 else mean
                if peak > 1e-5 and np.abs(mean).max() > 0:
                    expected = mean * (peak / np.abs(mean).max())
            elif name == "P0" and index == len(pairs) - 1:
                # the tracks cancel: ours is 0; a BLAS dot leaves round-off, peaked to -3 dB
                assert not got.any()
                continue
            else:
                expected = _reference_peak_mix(pair, -3.0 * int(name[1]))
            scale = max(np.abs(expected).max(), 1e-30)
            np.testing.assert_allclose(got, expected, rtol=0, atol=2e-7 * scale, err_msg=name)
        if name.startswith("L"):
            assert np.abs(batch).max() <= _mixing.LIMIT_CEILING * (1 + 1e-6)


def test_pipeline_named_mix_equals_per_pair_callable():
    # A named mix goes through mix_batch; the same function as a callable goes pair by pair.
    rng = np.random.default_rng(3)
    sr = 16_000
    songs = rng.normal(0, 0.1, (6, 3 * sr, 2)).astype(np.float32)
    songs[:, :, 1] *= np.linspace(0.2, 1.0, 6)[:, None]
    results = []
    for mix in ("L1", lambda pair, sr: _mixing.MIX_FUNCTIONS["L1"](pair, sr=sr)):
        am = jm.AudioMetrics(["apa"], embedder="logmel", mix_function=mix, win_dur=1.0)
        am.progress = False
        am.add_reference(songs)
        results.append(am.evaluate(songs[::-1]))
    assert results[0]["apa"] == pytest.approx(results[1]["apa"], abs=1e-9)
