"""AudioMetrics end to end on synthetic audio with the weight-free logmel embedder (no torch).

Mixing, windowing, misaligned pairing, streaming statistics, PCA and the
state file are checked against plain NumPy / pyloudnorm / scikit-learn.
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

import jaxmetrics as jm
from jaxmetrics.audio import mixing as _mixing
from jaxmetrics.audio import state as _state
from jaxmetrics.audio import windows as _windows
from jaxmetrics.audio.synthetic_audio import synth_clip

pytest.importorskip("librosa")

SR = 16_000


def chords(rng, n, seconds, sr=SR):
    return np.stack([synth_clip(rng, seconds=seconds, sr=sr) for _ in range(n)]).astype(np.float32)


@pytest.fixture(scope="module")
def songs():
    rng = np.random.default_rng(7)
    ref = chords(rng, 12, 4.0)
    cand = chords(rng, 10, 4.0)
    return ref, cand


def make(metrics, **kw):
    kw.setdefault("embedder", "logmel")
    kw.setdefault("win_dur", 1.0)
    kw.setdefault("progress", False)
    return jm.AudioMetrics(metrics, **kw)


# --------------------------------------------------------------------------- imports


def test_import_does_not_import_torch():
    code = (
        "import sys, jaxmetrics; from jaxmetrics import AudioMetrics; "
        "import jaxmetrics.audio.files, jaxmetrics.cli; assert 'torch' not in sys.modules, 1; "
        "assert 'embedders' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_attribute():
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        jm.Nope  # noqa: B018


# --------------------------------------------------------------------------- mixing


def test_loudness_matches_pyloudnorm(rng):
    pyln = pytest.importorskip("pyloudnorm")
    t = np.arange(3 * SR) / SR
    signals = [
        0.3 * np.sin(2 * np.pi * 440 * t),
        rng.normal(0, 0.05, 3 * SR),
        np.concatenate([np.zeros(SR), 0.5 * np.sin(2 * np.pi * 100 * t[: 2 * SR])]),
        rng.normal(0, 0.1, int(1.23 * 44100)),
    ]
    for x, sr in zip(signals, [SR, SR, SR, 44100], strict=True):
        expected = pyln.Meter(sr).integrated_loudness(x)
        np.testing.assert_allclose(_mixing.integrated_loudness(x, sr), expected, atol=1e-9)
    assert _mixing.integrated_loudness(np.zeros(SR), SR) == -np.inf
    assert _mixing.integrated_loudness(np.ones(100), SR) == -np.inf  # under 0.4 s


def test_loudness_mixes(rng):
    pytest.importorskip("pyloudnorm")
    t = np.arange(4 * SR) / SR
    context = 0.4 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.5 * t))
    stem = rng.normal(0, 0.02, t.shape)
    pair = np.stack([context, stem], axis=1)
    for name, stem_db in (("L0", 0.0), ("L1", -3.0), ("L2", -6.0)):
        mix = _mixing.MIX_FUNCTIONS[name](pair, sr=SR)
        np.testing.assert_allclose(_mixing.integrated_loudness(mix, SR), -20.0, atol=1e-6)
        # the stem was set relative to the context: recover its gain from the mix
        gain = np.linalg.lstsq(pair, mix, rcond=None)[0]
        stem_scaled = gain[1] / gain[0] * stem
        l_context = _mixing.integrated_loudness(context, SR)
        np.testing.assert_allclose(
            _mixing.integrated_loudness(stem_scaled, SR), l_context + stem_db, atol=1e-6
        )
    # one silent channel: the other one, normalised; both silent: no NaN
    mix = _mixing.MIX_FUNCTIONS["L0"](np.stack([context, 0 * stem], 1), sr=SR)
    np.testing.assert_allclose(mix[1:] / context[1:], mix[1] / context[1], rtol=1e-6)
    silent = _mixing.MIX_FUNCTIONS["L0"](np.zeros((SR, 2)), sr=SR)
    assert np.all(silent == 0)


def test_limiter_keeps_below_ceiling(rng):
    x = rng.normal(0, 0.1, SR)
    x[5000:5010] = 3.0
    y = _mixing.limit(x, SR)
    assert np.abs(y).max() <= _mixing.LIMIT_CEILING * (1 + 1e-12)
    far = np.r_[0:4000, 6000:SR]  # untouched away from the peak
    np.testing.assert_array_equal(y[far], x[far])
    quiet = rng.normal(0, 0.1, SR)
    np.testing.assert_array_equal(_mixing.limit(quiet, SR), quiet)
    # loud L-mix output is limited, not clipped
    t = np.arange(SR) / SR
    square = np.sign(np.sin(2 * np.pi * 50 * t)) * 1e-3
    spiky = square.copy()
    spiky[::4000] = 0.9
    mix = _mixing.MIX_FUNCTIONS["L0"](np.stack([spiky, square], 1), sr=SR)
    assert np.abs(mix).max() <= _mixing.LIMIT_CEILING * (1 + 1e-12)


def test_peak_mixes(rng):
    pair = np.stack([rng.normal(0, 0.2, SR), rng.normal(0, 0.05, SR)], axis=1)
    pp = _mixing.MIX_FUNCTIONS["PP"](pair, sr=SR)
    np.testing.assert_allclose(np.abs(pp).max(), np.abs(pair).max())
    np.testing.assert_allclose(pp / pp[0], pair.mean(1) / pair.mean(1)[0], rtol=1e-9)
    for name, stem_db in (("P0", 0.0), ("P1", -3.0), ("P2", -6.0)):
        mix = _mixing.MIX_FUNCTIONS[name](pair, sr=SR)
        np.testing.assert_allclose(np.abs(mix).max(), 10 ** (-3 / 20))
        peaks = np.abs(pair).max(0)
        expected = pair[:, 0] / peaks[0] + 10 ** (stem_db / 20) * pair[:, 1] / peaks[1]
        np.testing.assert_allclose(mix / np.abs(mix).max(), expected / np.abs(expected).max())
    assert np.isfinite(_mixing.MIX_FUNCTIONS["P1"](np.zeros((SR, 2)), sr=SR)).all()


def test_mix_function_names():
    assert _mixing.get_mix_function(None)[0] == "L0"
    assert _mixing.get_mix_function("p1")[0] == "P1"
    name, fn = _mixing.get_mix_function(lambda pair, sr: pair[:, 0])
    assert name.startswith("callable:") and callable(fn)
    with pytest.raises(ValueError, match="unknown mix_function 'X9'"):
        _mixing.get_mix_function("X9")


# --------------------------------------------------------------------------- windows


def test_windows_drop_remainder_and_resample(rng):
    items = [rng.normal(0, 0.1, n).astype(np.float32) for n in (2500, 999, 3000)]
    windows = list(_windows.iter_windows(iter(items), sr=1000, win_dur=1.0))
    assert [w.song for w in windows] == [0, 0, 2, 2, 2]
    np.testing.assert_array_equal(windows[1].audio, items[0][1000:2000])
    resampled = list(
        _windows.iter_windows(iter([np.zeros(44100 * 2)]), sr=SR, win_dur=0.5, input_sr=44100)
    )
    assert len(resampled) == 4 and resampled[0].audio.shape == (8000,)
    assert resampled[0].audio.dtype == np.float32


def test_input_forms_and_errors(rng):
    assert len(list(_windows.iter_items(np.zeros((3, 10))))) == 3
    assert list(_windows.iter_items(np.zeros((3, 10, 2))))[0].shape == (10, 2)
    assert len(list(_windows.iter_items(x for x in np.zeros((2, 10))))) == 2
    with pytest.raises(ValueError, match="pass a single song as"):
        list(_windows.iter_items(np.zeros(100)))
    with pytest.raises(ValueError, match="item 1 must have shape"):
        list(_windows.iter_items([np.zeros(10), np.zeros((10, 3))]))
    with pytest.raises(TypeError, match="divide integer PCM"):
        list(_windows.iter_items([np.zeros(10, np.int16)]))
    with pytest.raises(TypeError, match="iterable"):
        list(_windows.iter_items(3.0))
    bad = np.zeros((2, 100))
    bad[1, 5] = np.nan
    with pytest.raises(ValueError, match="item 1 contains 1 NaN"):
        list(_windows.iter_windows(_windows.iter_items(bad), sr=10, win_dur=1.0))
    with pytest.raises(ValueError, match="APA needs"):
        list(
            _windows.iter_windows(
                _windows.iter_items(np.zeros((2, 100))), sr=10, win_dur=1.0, need_pairs=True
            )
        )


def _pairs_of(songs, block, seed):
    pairer = _windows.MisalignedPairer(block, np.random.default_rng(seed))
    out = []
    for i, s in enumerate(songs):
        audio = np.stack([np.full(4, i), np.full(4, i)], 1).astype(np.float32)
        out += pairer.push(_windows.Window(s, audio))
    out += pairer.finish()
    return pairer, np.array([[p[0, 0], p[0, 1]] for p in out], int)


def test_misaligned_pairs_are_a_cross_song_permutation():
    songs = np.repeat(np.arange(25), np.random.default_rng(0).integers(1, 5, 25))
    pairer, pairs = _pairs_of(songs, block=16, seed=1)
    assert sorted(pairs[:, 0]) == list(range(len(songs)))  # each context once
    assert sorted(pairs[:, 1]) == list(range(len(songs)))  # each stem once
    assert pairer.same_song == 0
    assert np.all(songs[pairs[:, 0]] != songs[pairs[:, 1]])
    _, again = _pairs_of(songs, block=16, seed=1)
    np.testing.assert_array_equal(pairs, again)
    _, other = _pairs_of(songs, block=16, seed=2)
    assert not np.array_equal(pairs, other)


def test_misaligned_pairs_with_a_dominant_song():
    songs = np.array([0] * 10 + [1, 2])
    pairer, pairs = _pairs_of(songs, block=64, seed=0)
    assert pairer.same_song > 0
    assert np.all(pairs[:, 0] != pairs[:, 1])  # never a window with its own stem


# --------------------------------------------------------------------------- sets, PCA


def test_streaming_stats_equal_stats_of_all_rows(rng):
    x = rng.normal(size=(2600, 6)).astype(np.float32) * 3 + 1
    streamed = _state.EmbeddingSet(store=False)
    for size in (1, 700, 1, 1000, 898):
        start = streamed.count
        streamed.add(x[start : start + size])
    assert streamed.count == 2600
    expected = np.cov(x.astype(np.float64), rowvar=False)
    np.testing.assert_allclose(streamed.stats().covariance, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(streamed.stats().mean, x.astype(np.float64).mean(0), rtol=1e-12)
    stored = _state.EmbeddingSet(store=True)
    stored.add(x[:5])
    stored.add(x[5:])
    np.testing.assert_array_equal(stored.embeddings(), x)
    merged = _state.EmbeddingSet(store=False)
    merged.add(x[:3])
    merged.extend(stored)
    np.testing.assert_allclose(
        merged.stats().covariance,
        np.cov(np.concatenate([x[:3], x]).astype(np.float64), rowvar=False),
        rtol=1e-10,
    )


def test_projection_matches_sklearn(rng):
    x = rng.normal(size=(300, 12)) @ rng.normal(size=(12, 12))
    proj = _state.Projection(x, 4)
    y = rng.normal(size=(50, 12))
    stats = _state.stats_of(y)
    projected = proj.stats(stats)
    direct = _state.stats_of(proj.rows(y))
    np.testing.assert_allclose(projected.mean, direct.mean, atol=1e-10)
    np.testing.assert_allclose(projected.covariance, direct.covariance, atol=1e-10)
    decomposition = pytest.importorskip("sklearn.decomposition")
    ipca = decomposition.IncrementalPCA(n_components=4).partial_fit(x)
    theirs = ipca.transform(y)
    np.testing.assert_allclose(np.abs(proj.rows(y)), np.abs(theirs), atol=1e-8)
    with pytest.raises(ValueError, match="n_pca=20"):
        _state.Projection(x, 20)


# --------------------------------------------------------------------------- AudioMetrics


def test_constructor_errors():
    with pytest.raises(ValueError, match="unknown metric"):
        make(["fad", "fid"])
    with pytest.raises(ValueError, match="unknown embedder"):
        make(["fad"], embedder="wav2vec")
    with pytest.raises(ValueError, match="win_dur"):
        make(["fad"], win_dur=0)
    with pytest.raises(ValueError, match="unknown mix_function"):
        make(["apa"], mix_function="Q")
    with pytest.raises(TypeError, match="embedder must be"):
        make(["fad"], embedder=object())


def test_all_metrics_and_identities(songs):
    ref, cand = songs
    am = make(["fad", "kd", "prdc", "apa"])
    pairs = np.stack([ref, ref[::-1]], axis=-1)
    am.add_reference(pairs)
    same = am.evaluate(pairs)
    assert list(same) == [
        "fad",
        "kernel_distance_mean",
        "kernel_distance_std",
        "precision",
        "recall",
        "density",
        "coverage",
        "apa",
    ]
    assert all(type(v) is float for v in same.values())
    assert abs(same["fad"]) < 1e-6 and same["apa"] == pytest.approx(1.0, abs=1e-9)
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    noisy = am(np.stack([cand, cand[::-1]], axis=-1) + np.float32(0.05))
    assert noisy["fad"] > 1.0 and noisy["kernel_distance_mean"] > 0.0


def test_streaming_equals_stored_and_accumulates(songs):
    # 0.25 s windows: 192 reference rows > 128 dims, so the covariances are
    # full rank (with fewer rows, FD's square roots of zero eigenvalues turn
    # round-off into ~1e-6 relative differences).
    ref, cand = songs
    streaming = make(["fad"], win_dur=0.25)
    stored = make(["fad", "kd"], win_dur=0.25)
    once = make(["fad"], win_dur=0.25)
    for am in (streaming, stored):
        am.add_reference(ref[:5])
        am.add_reference(x for x in ref[5:])  # a generator, accumulated
    once.add_reference(ref)
    a, b, c = (am.evaluate(cand)["fad"] for am in (streaming, stored, once))
    np.testing.assert_allclose(a, b, rtol=1e-8)
    np.testing.assert_allclose(a, c, rtol=1e-8)
    assert streaming.reference_windows == 12 * 16
    streaming.reset_reference()
    with pytest.raises(ValueError, match="reference set is empty"):
        streaming.evaluate(cand)


def test_input_sr_and_varying_lengths(songs):
    librosa = pytest.importorskip("librosa")
    ref, cand = songs
    am = make(["fad", "prdc"], input_sr=22050)
    up = [librosa.resample(r, orig_sr=SR, target_sr=22050) for r in ref]
    am.add_reference([u[: len(u) - 100 * i] for i, u in enumerate(up)])  # varying lengths
    assert am.reference_windows == 12 * 3 + 1  # all but the first lose a part of a window
    result = am.evaluate(cand)
    assert 0.0 <= result["precision"] <= 1.0


def test_torch_tensors(songs):
    torch = pytest.importorskip("torch")
    ref, cand = songs
    am = make(["fad"])
    am.add_reference(torch.from_numpy(ref))
    from_tensor = am.evaluate([torch.from_numpy(c) for c in cand])["fad"]
    np.testing.assert_allclose(from_tensor, am.evaluate(cand)["fad"], rtol=1e-12)


def test_short_audio_and_nan(songs):
    ref, _ = songs
    am = make(["fad"])
    with pytest.raises(ValueError, match="shorter than one window"):
        am.add_reference(ref[:, :8000])
    bad = ref.copy()
    bad[3, 100] = np.nan
    with pytest.raises(ValueError, match="item 3 contains 1 NaN"):
        am.add_reference(bad)


def test_apa_orders_alignment(songs):
    ref, cand = songs
    am = make(["apa"], seed=3)
    am.add_reference(np.stack([ref, np.roll(ref, 1, axis=1)], -1))  # stem: a delayed copy
    aligned = am.evaluate(np.stack([cand, np.roll(cand, 1, axis=1)], -1))["apa"]
    misaligned = am.evaluate(np.stack([cand, np.roll(cand[::-1], 1, axis=1)], -1))["apa"]
    assert aligned > 0.8 and misaligned < aligned
    again = make(["apa"], seed=3)
    again.add_reference(np.stack([ref, np.roll(ref, 1, axis=1)], -1))
    assert again.evaluate(np.stack([cand, np.roll(cand, 1, axis=1)], -1))["apa"] == aligned


def test_evaluate_many_and_pca(songs):
    ref, cand = songs
    am = make(["fad", "kd", "prdc"], n_pca=8)
    am.add_reference(ref)
    many = am.evaluate_many({"a": cand, "b": cand[:6]})
    assert many["a"] == am.evaluate(cand) and many["b"] == am.evaluate(cand[:6])
    # the PCA: fitted on the reference, applied to both (check against explicit rows)
    plain = make(["kd"])
    emb_ref, emb_cand = plain.embed_stems(ref), plain.embed_stems(cand)
    proj = _state.Projection(emb_ref, 8)
    expected = _state.score_embeddings(
        ["fad", "kd", "prdc"], reference=proj.rows(emb_ref), candidate=proj.rows(emb_cand)
    )
    for key, value in expected.items():
        np.testing.assert_allclose(many["a"][key], value, rtol=1e-6, atol=1e-9)


def test_state_round_trip(songs, tmp_path):
    ref, cand = songs
    pairs = np.stack([ref, ref[::-1]], -1)
    cand_pairs = np.stack([cand, cand[::-1]], -1)
    for metrics, n_pca in ((["fad", "apa"], None), (["fad", "kd", "prdc", "apa"], 6)):
        am = make(metrics, n_pca=n_pca)
        am.add_reference(pairs)
        before = am.evaluate(cand_pairs)
        path = tmp_path / "state.npz"
        am.save_state(path)
        fresh = make(metrics, n_pca=n_pca)
        fresh.load_state(path)
        assert fresh.evaluate(cand_pairs) == before
        with np.load(path, allow_pickle=False) as data:  # no pickled objects inside
            assert int(data["version"]) == _state_version()
    other = make(["fad", "apa"], win_dur=0.5)
    with pytest.raises(ValueError, match="win_dur"):
        other.load_state(path)
    other = jm.AudioMetrics(["fad"], embedder=_Fixed(), progress=False, win_dur=1.0)
    with pytest.raises(ValueError, match="embedder"):
        other.load_state(path)
    needs_rows = make(["kd"])
    stats_only = make(["fad"])
    stats_only.add_reference(ref)
    stats_only.save_state(tmp_path / "fad.npz")
    with pytest.raises(ValueError, match="need the embeddings"):
        needs_rows.load_state(tmp_path / "fad.npz")
    data = dict(np.load(path))
    data["version"] = np.array(99)
    np.savez(tmp_path / "v99.npz", **data)
    with pytest.raises(ValueError, match="version 99"):
        make(metrics, n_pca=6).load_state(tmp_path / "v99.npz")
    (tmp_path / "junk.npz").write_text("junk")
    with pytest.raises(ValueError, match="junk.npz: not an AudioMetrics state file"):
        make(["fad"]).load_state(tmp_path / "junk.npz")


def _state_version():
    from jaxmetrics.audio.audio_metrics import STATE_VERSION

    return STATE_VERSION


class _Fixed:
    """A deterministic toy embedder in our convention (sample_rate, embed)."""

    name = "fixed"
    sample_rate = SR

    def embed(self, audio):
        frames = audio.reshape(audio.shape[0], -1, 400)
        return np.log(np.mean(frames**2, axis=-1)[:, :16] + 1e-6).astype(np.float32)


def test_custom_embedders_and_mix_function(songs):
    ref, cand = songs

    class AudioMetricsStyle:  # audio-metrics' convention: sr and forward({"audio"})
        sr = SR

        def forward(self, data):
            return {"embedding": _Fixed().embed(data["audio"].astype(np.float32))}

    results = []
    for embedder in (_Fixed(), AudioMetricsStyle()):
        am = jm.AudioMetrics(
            ["fad", "apa"], embedder=embedder, mix_function="PP", win_dur=1.0, progress=False
        )
        am.add_reference(np.stack([ref, ref[::-1]], -1))
        results.append(am.evaluate(np.stack([cand, cand[::-1]], -1)))
    assert results[0] == results[1]
    calls = []

    def first_channel(pair, sr):
        calls.append(sr)
        return pair[:, 0]

    am = make(["apa"], mix_function=first_channel)
    am.add_reference(np.stack([ref, ref], -1))
    assert set(calls) == {SR}


def test_dominant_song_warns():
    rng = np.random.default_rng(0)
    am = make(["apa"], mix_function="PP")
    long_song = chords(rng, 1, 12.0)[0]
    with pytest.warns(UserWarning, match="same song"):
        am.add_reference([np.stack([long_song, long_song], -1), np.zeros((SR, 2), np.float32)])


def test_progress_bar_counts_windows(songs, capsys):
    pytest.importorskip("tqdm")
    ref, _ = songs
    am = make(["fad"], progress=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        am.add_reference(ref)
    err = capsys.readouterr().err
    assert "reference windows: 48win" in err
