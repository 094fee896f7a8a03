"""AudioMetrics against audio_metrics.AudioMetrics (PyPI 1.0.4) with one deterministic embedder.

Both pipelines get the same embedder object (the weight-free logmel, exposed
in both calling conventions), the same audio and the same mix function name.
audio-metrics needs a GPU handler: with ``device_indices=[0]`` and an
embedder whose ``get_device()`` names ``cuda:0`` it runs the embedder on the
calling thread's data as it is (no CUDA call is made). Its APA misaligns
windows at random (unseeded), so APA is compared with the spread of repeated
runs. Skipped where audio-metrics' own imports are missing, except in CI.
"""

from __future__ import annotations

import importlib
import os

import numpy as np
import pytest

import jaxmetrics as jm
from jaxmetrics.audio.synthetic_audio import synth_clip

pytestmark = pytest.mark.reference

SR = 16_000


def _need(module):
    if os.environ.get("CI"):
        return importlib.import_module(module)
    try:
        return importlib.import_module(module)
    except ImportError as err:
        pytest.skip(f"{module} not importable: {err}")


@pytest.fixture(scope="module")
def theirs():
    torch = _need("torch")
    am = _need("audio_metrics")
    from importlib.metadata import version

    assert version("audio-metrics") == "1.0.4"
    return am, torch


class SharedLogMel:
    """One deterministic embedder in both conventions: ours (embed) and audio-metrics' (forward)."""

    def __init__(self, torch):
        import embedders

        self.inner = embedders.get("logmel")
        self.name = self.inner.name
        self.sample_rate = self.sr = self.inner.sample_rate
        self.torch = torch
        self.calls = 0

    def embed(self, audio):
        self.calls += 1
        return self.inner.embed(audio)

    def get_device(self):  # audio-metrics' GPU handler: "already on cuda:0", run in place
        return self.torch.device("cuda", 0)

    def forward(self, data, sr=None):
        audio = np.asarray(data["audio"], np.float32)
        return {"embedding": self.torch.from_numpy(self.inner.embed(audio))}


@pytest.fixture(scope="module")
def songs():
    rng = np.random.default_rng(11)

    def song(seconds):
        context = synth_clip(rng, seconds=seconds, sr=SR)
        stem = synth_clip(rng, seconds=seconds, sr=SR) * 0.5
        return np.stack([context, stem], axis=1)

    reference = [song(s) for s in rng.uniform(3.0, 7.0, 30)]
    candidate = [song(s) for s in rng.uniform(3.0, 7.0, 24)]
    return reference, candidate


def test_fad_kd_prdc_equal(theirs, songs):
    am, torch = theirs
    embedder = SharedLogMel(torch)
    reference, candidate = songs
    metrics = ["fad", "kd", "prdc"]
    them = am.AudioMetrics(metrics=metrics, embedder=embedder, device_indices=[0], win_dur=0.5)
    ours = jm.AudioMetrics(metrics, embedder=embedder, win_dur=0.5, progress=False)
    for pipeline in (them, ours):
        pipeline.add_reference(iter(reference))  # generators of (samples, 2): stems compared
    expected = them.evaluate(iter(candidate))
    got = ours.evaluate(iter(candidate))
    assert got.keys() == expected.keys()
    assert ours.reference_windows > 129  # more windows than dimensions: full-rank covariances
    np.testing.assert_allclose(got["fad"], expected["fad"], rtol=1e-6)
    for key in ("precision", "recall", "density", "coverage"):
        np.testing.assert_allclose(got[key], expected[key], atol=1e-6)
    # Their embeddings reach their metrics in completion order of a thread pool
    # (concurrent.futures.as_completed), so their KD draws its subsets from a
    # shuffled row order: the same set of rows, but other subsets. KD with
    # matching subsets is checked below on sets of one batch each.
    assert np.isfinite(got["kernel_distance_mean"])


def test_kd_equal_with_matching_subsets(theirs, songs):
    am, torch = theirs
    embedder = SharedLogMel(torch)
    reference, candidate = songs
    # at most 32 windows per set: one batch, so their rows keep the input order
    ref = [x[: 2 * SR] for x in reference[:16]]
    cand = [x[: 2 * SR] for x in candidate[:14]]
    them = am.AudioMetrics(metrics=["kd"], embedder=embedder, device_indices=[0], win_dur=1.0)
    ours = jm.AudioMetrics(["kd"], embedder=embedder, win_dur=1.0, progress=False)
    for pipeline in (them, ours):
        pipeline.add_reference(iter(ref))
    expected, got = them.evaluate(iter(cand)), ours.evaluate(iter(cand))
    # Same subsets; they form float32 kernels (their embeddings' dtype), we float64.
    np.testing.assert_allclose(
        got["kernel_distance_mean"], expected["kernel_distance_mean"], rtol=1e-4
    )
    np.testing.assert_allclose(
        got["kernel_distance_std"], expected["kernel_distance_std"], rtol=1e-3
    )


def test_resampling_and_pca_equal(theirs, songs):
    am, torch = theirs
    soxr = _need("soxr")
    embedder = SharedLogMel(torch)
    reference, candidate = songs
    up = [soxr.resample(x[:, 1], SR, 22050) for x in reference[:20]]
    up_cand = [soxr.resample(x[:, 1], SR, 22050) for x in candidate]
    kw = dict(n_pca=16, win_dur=0.5, input_sr=22050)
    them = am.AudioMetrics(metrics=["fad"], embedder=embedder, device_indices=[0], **kw)
    ours = jm.AudioMetrics(["fad"], embedder=embedder, progress=False, **kw)
    them.add_reference(iter(up))
    ours.add_reference(iter(up))
    np.testing.assert_allclose(
        ours.evaluate(iter(up_cand))["fad"], them.evaluate(iter(up_cand))["fad"], rtol=1e-6
    )


def test_apa_within_their_spread(theirs, songs):
    am, torch = theirs
    embedder = SharedLogMel(torch)
    reference, candidate = songs
    # a candidate between aligned and misaligned: half its stems from other songs
    mixed = [
        np.stack([c[:, 0], candidate[(i + 1) % len(candidate)][: len(c), 1]], 1)
        if i % 2 and len(candidate[(i + 1) % len(candidate)]) >= len(c)
        else c
        for i, c in enumerate(candidate)
    ]
    theirs_apa = []
    for _ in range(6):
        them = am.AudioMetrics(
            metrics=["apa"], embedder=embedder, device_indices=[0], win_dur=0.5, mix_function="L0"
        )
        them.add_reference(iter(reference))
        theirs_apa.append(them.evaluate(iter(mixed))["apa"])
    ours_apa = []
    for seed in range(6):
        ours = jm.AudioMetrics(["apa"], embedder=embedder, win_dur=0.5, progress=False, seed=seed)
        ours.add_reference(iter(reference))
        ours_apa.append(ours.evaluate(iter(mixed))["apa"])
    theirs_apa, ours_apa = np.array(theirs_apa), np.array(ours_apa)
    spread = max(theirs_apa.std(ddof=1), ours_apa.std(ddof=1), 1e-3)
    print(
        f"APA theirs {theirs_apa.mean():.4f} ± {theirs_apa.std(ddof=1):.4f} "
        f"ours {ours_apa.mean():.4f} ± {ours_apa.std(ddof=1):.4f}"
    )
    assert 0.05 < theirs_apa.mean() < 0.95  # not saturated: the comparison means something
    assert abs(theirs_apa.mean() - ours_apa.mean()) < 4 * spread
