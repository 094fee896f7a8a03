"""Kernel-parameter sweeps against a Python loop over parameters (NumPy kernels)."""

from __future__ import annotations

import jax
import numpy as np
import pytest
import references as ref

import jaxmetrics as jm
from jaxmetrics.analysis import sweeps as _sweeps

ATOL = 1e-11  # as tests/metrics/test_kernel_distance.py: sums of ~1e4 kernel values of size ~1


def _sets(rng):
    return rng.normal(size=(90, 6)), rng.normal(0.2, size=(70, 6))


def _numpy_mmd2(x, y, kernel, estimator="unbiased"):
    return ref.mmd2(kernel(x, x), kernel(x, y), kernel(y, y), estimator)


@pytest.mark.parametrize("estimator", ["unbiased", "biased"])
def test_polynomial_grid_matches_numpy_loop(rng, estimator):
    x, y = _sets(rng)
    gammas = np.array([0.05, 1 / 6, 0.4])
    coef0s = np.array([[0.0], [0.5], [1.0], [2.0]])
    got = jm.mmd2_sweep(x, y, estimator=estimator, gamma=gammas, coef0=coef0s)
    assert got.shape == (4, 3) and got.dtype == np.float64
    expected = np.array(
        [
            [
                _numpy_mmd2(
                    x,
                    y,
                    lambda a, b, g=g, c=c: ref.polynomial_kernel(a, b, gamma=g, coef0=c),
                    estimator,
                )
                for g in gammas
            ]
            for c in coef0s[:, 0]
        ]
    )
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-10, atol=ATOL)


def test_degree_sequence_and_default_gamma(rng):
    x, y = _sets(rng)
    got = jm.mmd2_sweep(x, y, degree=[1, 2, 4], coef0=[0.5, 1.0])
    assert got.shape == (3, 2)
    for i, p in enumerate([1, 2, 4]):
        for j, c in enumerate([0.5, 1.0]):
            expected = _numpy_mmd2(
                x, y, lambda a, b, p=p, c=c: ref.polynomial_kernel(a, b, degree=p, coef0=c)
            )
            np.testing.assert_allclose(float(got[i, j]), expected, rtol=1e-10, atol=ATOL)
            np.testing.assert_allclose(
                float(got[i, j]), float(jm.mmd2(x, y, degree=p, coef0=c)), rtol=1e-12, atol=1e-14
            )


def test_rbf_bandwidths_match_numpy_loop(rng):
    x, y = _sets(rng)
    bandwidths = float(jm.median_pairwise_distance(y)) * np.geomspace(0.25, 4.0, 5)
    got = jm.mmd2_sweep(x, y, kernel="rbf", bandwidth=bandwidths)
    expected = [_numpy_mmd2(x, y, lambda a, b, s=s: ref.rbf_kernel(a, b, s)) for s in bandwidths]
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-10, atol=ATOL)


def test_kernel_distance_sweep_matches_loop_with_common_subsets(rng, key):
    x, y = _sets(rng)
    kwargs = {"key": key, "num_subsets": 8, "subset_size": 30}
    gammas, coef0s = np.array([0.1, 0.3]), np.array([[0.5], [1.0], [2.0]])
    kd = jm.kernel_distance_sweep(x, y, gamma=gammas, coef0=coef0s, **kwargs)
    assert kd.mean.shape == kd.std.shape == (3, 2)
    for i, c in enumerate(coef0s[:, 0]):
        for j, g in enumerate(gammas):
            one = jm.kernel_distance(x, y, gamma=g, coef0=c, **kwargs)
            np.testing.assert_allclose(float(kd.mean[i, j]), float(one.mean), rtol=1e-12)
            np.testing.assert_allclose(float(kd.std[i, j]), float(one.std), rtol=1e-10)
    bandwidths = np.array([0.5, 1.0, 3.0])
    rbf = jm.kernel_distance_sweep(x, y, kernel="rbf", bandwidth=bandwidths, **kwargs)
    for j, s in enumerate(bandwidths):
        one = jm.kernel_distance(x, y, kernel="rbf", bandwidth=s, **kwargs)
        np.testing.assert_allclose(float(rbf.mean[j]), float(one.mean), rtol=1e-12, atol=1e-15)


def test_float32(rng):
    x, y = _sets(rng)
    gammas = np.array([0.1, 0.3])
    f32 = jm.mmd2_sweep(x, y, gamma=gammas, precision="float32")
    f64 = jm.mmd2_sweep(x, y, gamma=gammas)
    assert f32.dtype == np.float32
    # Kernel values ~1-10 summed over ~1e4 pairs; the MMD² is a small difference.
    np.testing.assert_allclose(np.asarray(f32), np.asarray(f64), atol=1e-4)


def test_one_compile_for_a_new_grid_of_the_same_size(rng, global_x64):
    x, y = _sets(rng)
    jm.mmd2_sweep(x, y, gamma=[0.1, 0.2, 0.3])
    before = _sweeps._mmd2_sweep._cache_size()
    jm.mmd2_sweep(x + 1, y, gamma=[0.4, 0.5, 0.6], coef0=2.0)
    assert _sweeps._mmd2_sweep._cache_size() == before


def test_bad_arguments(rng):
    x, y = _sets(rng)
    with pytest.raises(ValueError, match="bandwidth must be given"):
        jm.mmd2_sweep(x, y, kernel="rbf")
    with pytest.raises(ValueError, match="positive"):
        jm.mmd2_sweep(x, y, kernel="rbf", bandwidth=[1.0, -1.0])
    with pytest.raises(ValueError, match="broadcast"):
        jm.mmd2_sweep(x, y, gamma=[0.1, 0.2], coef0=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="gamma must be finite"):
        jm.mmd2_sweep(x, y, gamma=[0.1, np.nan])
    with pytest.raises(TypeError, match="coef0 must be real"):
        jm.mmd2_sweep(x, y, coef0=["a"])
    with pytest.raises(TypeError, match="degree"):
        jm.mmd2_sweep(x, y, degree=[2, True])
    with pytest.raises(ValueError, match="non-empty"):
        jm.mmd2_sweep(x, y, degree=[])
    with pytest.raises(ValueError, match="kernel"):
        jm.kernel_distance_sweep(x, y, kernel="laplace")
    with pytest.raises(ValueError, match="same embedding dimension"):
        jm.kernel_distance_sweep(x, y[:, :3])
    with pytest.raises(ValueError, match="u-statistic"):
        jm.mmd2_sweep(x, y, estimator="u-statistic")
    with pytest.raises(TypeError, match="concrete"):
        jax.jit(lambda g: jm.mmd2_sweep(x, y, gamma=g))(np.array([0.1]))
