"""All four metrics against the audio-metrics package (PyPI 1.0.4), same inputs.

The package's top-level import builds its embedders (laion_clap, network
access), so only its metric modules are loaded, under a bare parent package
that is removed again afterwards. Skipped where the package or torch is absent.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import jaxmetrics as jm

pytestmark = pytest.mark.reference

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def am():
    spec = importlib.util.find_spec("audio_metrics")
    if spec is None or spec.submodule_search_locations is None:
        pytest.skip("audio-metrics 1.0.4 is not installed")
    saved = {k: v for k, v in sys.modules.items() if k.split(".")[0] == "audio_metrics"}
    package = types.ModuleType("audio_metrics")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["audio_metrics"] = package
    try:
        from importlib.metadata import version

        assert version("audio-metrics") == "1.0.4"
        modules = types.SimpleNamespace(
            data=importlib.import_module("audio_metrics.data"),
            fad=importlib.import_module("audio_metrics.metrics.fad"),
            kd=importlib.import_module("audio_metrics.metrics.kd"),
            prdc=importlib.import_module("audio_metrics.metrics.prdc"),
            apa=importlib.import_module("audio_metrics.metrics.apa"),
        )
        assert Path(modules.fad.__file__).parent.name == "metrics"
        yield modules
    finally:
        for name in [k for k in sys.modules if k.split(".")[0] == "audio_metrics"]:
            del sys.modules[name]
        sys.modules.update(saved)


def _data(am, x):
    data = am.data.AudioMetricsData()
    data.add(torch.as_tensor(x))
    return data


def test_fad(am, rng):
    x = rng.normal(size=(1500, 64)).astype(np.float32)
    y = (rng.normal(size=(1200, 64)) * 1.2 + 0.1).astype(np.float32)
    theirs = am.fad.frechet_distance(_data(am, x), _data(am, y))
    ours = float(jm.frechet_distance(x, y))
    # For float32 embeddings they form the covariance in float32 (torch.cov)
    # before casting to float64, so their value carries ~1e-8..1e-7 relative
    # float32 round-off; the project promise of 1e-6 is what we hold them to.
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    # Given float64 embeddings both are float64 throughout: agreement ~1e-12.
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    theirs64 = am.fad.frechet_distance(_data(am, x64), _data(am, y64))
    np.testing.assert_allclose(float(jm.frechet_distance(x64, y64)), theirs64, rtol=1e-9)


def test_kernel_distance_with_their_subsets(am, rng):
    x = rng.normal(size=(700, 32)).astype(np.float32)
    y = rng.normal(0.2, size=(650, 32)).astype(np.float32)
    theirs = am.kd.kernel_distance(_data(am, x), _data(am, y))  # 100 subsets, seed 1234
    with pytest.warns(UserWarning, match="using subset_size=325"):  # their rule, too
        idx = jm.numpy_subset_indices(700, 650, num_subsets=100, subset_size=1000, seed=1234)
    ours = jm.kernel_distance(x, y, subset_indices=idx)
    # They compute kernels in float32 (the embeddings' dtype) with numpy:
    # their values carry float32 round-off, ~1e-6 relative of the kernel sums.
    np.testing.assert_allclose(float(ours.mean), theirs["kernel_distance_mean"], rtol=1e-4)
    np.testing.assert_allclose(float(ours.std), theirs["kernel_distance_std"], rtol=1e-3)
    ours32 = jm.kernel_distance(x, y, subset_indices=idx, precision="float32")
    np.testing.assert_allclose(float(ours32.mean), theirs["kernel_distance_mean"], rtol=1e-4)


def test_kernel_distance_float64_exact(am, rng):
    x = rng.normal(size=(700, 32))
    y = rng.normal(0.2, size=(650, 32))
    theirs = am.kd.kid_features_to_metric(x, y, kid_subsets=20, kid_subset_size=300)
    idx = jm.numpy_subset_indices(700, 650, num_subsets=20, subset_size=300, seed=1234)
    ours = jm.kernel_distance(x, y, subset_indices=idx)
    np.testing.assert_allclose(float(ours.mean), theirs["kernel_distance_mean"], rtol=1e-9)
    np.testing.assert_allclose(float(ours.std), theirs["kernel_distance_std"], rtol=1e-7)


def test_prdc(am, rng):
    x = rng.normal(size=(400, 16))
    y = rng.normal(0.2, 1.1, size=(350, 16))
    theirs = am.prdc.prdc(_data(am, x), _data(am, y), 5)
    ours = jm.prdc(x, y, k=5)
    for name in ("precision", "recall", "density", "coverage"):
        # torch.cdist (float64) vs our tiled squared distances: identical
        # decisions unless a point sits within round-off of a ball boundary.
        assert float(getattr(ours, name)) == pytest.approx(theirs[name], abs=1e-12), name


def test_apa(am, rng):
    reference = rng.normal(size=(900, 24))
    anti = rng.normal(0.4, 1.2, size=(900, 24))
    for mix in (0.2, 0.5, 0.9):
        candidate = mix * reference[:700] + (1 - mix) * anti[:700]
        theirs = am.apa.apa(_data(am, candidate), _data(am, reference), _data(am, anti))
        ours = float(jm.apa(candidate, reference, anti).score)
        np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-12)
