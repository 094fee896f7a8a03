"""The kernel distance against plain NumPy loops on the same subsets."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import references as ref

import jaxmetrics as jm
from jaxmetrics.metrics import kernel_distance as _kernel_distance

# Both sides sum the same float64 kernel values in different orders; sums of
# ~1e6 terms of size ~1 agree to ~1e-13 relative. The MMD² is a difference of
# such sums, so compare with an absolute tolerance scaled by the kernel size.
ATOL_KD = 1e-11


@pytest.mark.parametrize("n_x,n_y,route", [(600, 500, "subsets"), (300, 350, "whole")])
def test_kernel_distance_matches_loop_with_same_indices(rng, n_x, n_y, route, monkeypatch):
    monkeypatch.setattr(_kernel_distance, "choose_route", lambda *args: route)
    x = rng.normal(size=(n_x, 32))
    y = rng.normal(0.1, size=(n_y, 32))
    idx = jm.numpy_subset_indices(n_x, n_y, num_subsets=12, subset_size=128, seed=7)
    mean, std, values = ref.kernel_distance_loop(x, y, *idx)
    result, got_values = jm.kernel_distance(x, y, subset_indices=idx, return_values=True)
    np.testing.assert_allclose(np.asarray(got_values), values, rtol=1e-10, atol=ATOL_KD)
    np.testing.assert_allclose(float(result.mean), mean, rtol=1e-10, atol=ATOL_KD)
    np.testing.assert_allclose(float(result.std), std, rtol=1e-8, atol=ATOL_KD)


def test_whole_route_handles_repeated_indices(rng, monkeypatch):
    """Explicit indices with repeats: multiplicities, not set membership."""
    x = rng.normal(size=(40, 6))
    y = rng.normal(size=(50, 6))
    idx_x = rng.integers(0, 40, size=(5, 30))  # with replacement
    idx_y = rng.integers(0, 50, size=(5, 30))
    _, _, expected = ref.kernel_distance_loop(x, y, idx_x, idx_y)
    for route in ("whole", "subsets"):
        monkeypatch.setattr(_kernel_distance, "choose_route", lambda *args, r=route: r)
        _, values = jm.kernel_distance(x, y, subset_indices=(idx_x, idx_y), return_values=True)
        np.testing.assert_allclose(np.asarray(values), expected, rtol=1e-10, atol=ATOL_KD)


def test_subsets_per_batch_keeps_cpu_batches_in_cache():
    """CPU: kernel blocks of a batch in ~32 MiB, at least 2 subsets; other
    platforms: 256 MiB; never more than there are subsets."""

    class Accelerator:
        platform = "gpu"

    f32, f64 = jnp.float32, jnp.float64
    assert _kernel_distance.subsets_per_batch(100, 1000, f32) == 2  # 12 MB per subset
    assert _kernel_distance.subsets_per_batch(100, 1000, f64) == 2  # floor of 2 (24 MB each)
    assert _kernel_distance.subsets_per_batch(100, 200, f32) == 69  # 32 MiB // 480 kB
    assert _kernel_distance.subsets_per_batch(5, 200, f32) == 5
    assert (
        _kernel_distance.subsets_per_batch(100, 1000, f32, [Accelerator()]) == 22
    )  # 256 MiB // 12 MB
    assert _kernel_distance.subsets_per_batch(100, 4000, f64, [Accelerator()]) == 1


@pytest.mark.parametrize("batch", [1, 2, 5])
def test_subset_batch_size_does_not_change_values(rng, batch, monkeypatch):
    monkeypatch.setattr(_kernel_distance, "subsets_per_batch", lambda *args: batch)
    monkeypatch.setattr(_kernel_distance, "choose_route", lambda *args: "subsets")
    x = rng.normal(size=(300, 16))
    y = rng.normal(0.2, size=(300, 16))
    idx = jm.numpy_subset_indices(300, 300, num_subsets=7, subset_size=64, seed=3)
    _, _, expected = ref.kernel_distance_loop(x, y, *idx)
    _, values = jm.kernel_distance(x, y, subset_indices=idx, return_values=True)
    np.testing.assert_allclose(np.asarray(values), expected, rtol=1e-10, atol=ATOL_KD)


def test_route_choice_is_by_cost():
    assert _kernel_distance.choose_route(3000, 3000, 512, 100, 1000) == "whole"
    assert _kernel_distance.choose_route(10000, 10000, 512, 100, 1000) == "subsets"


def test_key_reproducible_and_unbiased(rng):
    x = rng.normal(size=(2000, 16))
    y = rng.normal(size=(2000, 16))
    a = jm.kernel_distance(x, y, key=jax.random.key(3), num_subsets=50, subset_size=200)
    b = jm.kernel_distance(x, y, key=jax.random.key(3), num_subsets=50, subset_size=200)
    c = jm.kernel_distance(x, y, key=jax.random.key(4), num_subsets=50, subset_size=200)
    assert float(a.mean) == float(b.mean)
    assert float(a.mean) != float(c.mean)
    # Same distribution: the unbiased estimate averages to ~0 within its noise.
    assert abs(float(a.mean)) < 3 * float(a.std) / np.sqrt(50) + 1e-3


def test_subset_size_reduction_is_warned_and_matches_audio_metrics_rule(rng):
    x = rng.normal(size=(50, 4))
    y = rng.normal(size=(60, 4))
    with pytest.warns(UserWarning, match="using subset_size=25"):
        jm.kernel_distance(x, y, subset_size=1000, num_subsets=3)
    with pytest.warns(UserWarning):
        idx_x, _ = jm.numpy_subset_indices(50, 60, num_subsets=2, subset_size=50)
    assert idx_x.shape == (2, 25)


def test_vmap_sweep_over_gamma(rng):
    x = rng.normal(size=(200, 8))
    y = rng.normal(0.3, size=(200, 8))
    gammas = jnp.asarray([0.05, 0.125, 0.5])
    with jax.enable_x64(True):
        swept = jax.vmap(lambda g: jm.mmd2(x, y, gamma=g))(gammas)
    for g, value in zip(np.asarray(gammas), np.asarray(swept), strict=True):
        np.testing.assert_allclose(value, float(jm.mmd2(x, y, gamma=float(g))), rtol=1e-10)


def test_float32_mode(rng):
    x = rng.normal(size=(500, 64)).astype(np.float32)
    y = rng.normal(0.2, size=(500, 64)).astype(np.float32)
    idx = jm.numpy_subset_indices(500, 500, num_subsets=10, subset_size=200)
    exact = jm.kernel_distance(x, y, subset_indices=idx)
    single = jm.kernel_distance(x, y, subset_indices=idx, precision="float32")
    assert single.mean.dtype == jnp.float32
    np.testing.assert_allclose(float(single.mean), float(exact.mean), rtol=1e-3)


def test_bad_arguments(rng):
    x = rng.normal(size=(20, 3))
    with pytest.raises(ValueError, match="kernel must be one of"):
        jm.mmd2(x, x, kernel="laplace")
    with pytest.raises(ValueError, match="estimator must be one of"):
        jm.mmd2(x, x, estimator="fast")
    with pytest.raises(ValueError, match="u-statistic"):
        jm.mmd2(x, x[:10], estimator="u-statistic")
    with pytest.raises(TypeError, match="degree must be an integer"):
        jm.mmd2(x, x, degree=2.5)
    with pytest.raises(ValueError, match="num_subsets must be >= 1"):
        jm.kernel_distance(x, x, num_subsets=0)
    with pytest.raises(ValueError, match="outside"):
        jm.kernel_distance(x, x, subset_indices=(np.zeros((2, 3), int), np.full((2, 3), 99)))
    with pytest.raises(ValueError, match="x needs at least 4 rows"):
        jm.kernel_distance(x[:3], x)


def test_one_key_draws_the_same_subsets_in_float32_and_float64(rng):
    # Subsets come from integer random bits, not from float uniforms whose
    # width follows the precision: both precisions average the same subsets.
    x = rng.normal(size=(300, 8))
    y = x[::-1] * 1.1
    opts = {"num_subsets": 20, "subset_size": 100, "return_values": True}
    _, v64 = jm.kernel_distance(x, y, **opts)
    _, v32 = jm.kernel_distance(x, y, precision="float32", **opts)
    np.testing.assert_allclose(np.asarray(v32), np.asarray(v64), rtol=1e-4, atol=1e-6)
