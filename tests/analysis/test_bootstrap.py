"""Bootstrap intervals against a plain NumPy loop over the same resample indices."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import references as ref

import jaxmetrics as jm
from jaxmetrics.analysis import bootstrap as _bootstrap

N_X, N_Y, DIM, RESAMPLES = 120, 100, 5, 40


def _sets(rng):
    return ref.correlated_gaussian(rng, N_X, DIM), ref.correlated_gaussian(rng, N_Y, DIM, shift=0.3)


def _numpy_fad(x, y):
    return ref.frechet_sqrtm(*ref.stats(x), *ref.stats(y))


def _numpy_interval(estimate, values, confidence, method):
    alpha = 1.0 - confidence
    q_low, q_high = np.percentile(values, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    if method == "basic":
        q_low, q_high = 2 * estimate - q_high, 2 * estimate - q_low
    return q_low, q_high, np.std(values, ddof=1)


@pytest.mark.parametrize("method", ["percentile", "basic"])
def test_matches_numpy_bootstrap_loop(rng, key, method):
    x, y = _sets(rng)
    ci = jm.bootstrap_ci(
        jm.frechet_distance, x, y, key=key, num_resamples=RESAMPLES, confidence=0.9, method=method
    )
    ix, iy = jm.bootstrap_indices(key, (N_X, N_Y), RESAMPLES)
    values = np.array([_numpy_fad(x[a], y[b]) for a, b in zip(ix, iy, strict=True)])
    np.testing.assert_allclose(np.asarray(ci.values), values, rtol=1e-9, atol=1e-12)
    estimate = _numpy_fad(x, y)
    np.testing.assert_allclose(float(ci.estimate), estimate, rtol=1e-10)
    np.testing.assert_allclose(
        [float(ci.low), float(ci.high), float(ci.std)],
        _numpy_interval(estimate, values, 0.9, method),
        rtol=1e-9,
    )
    assert ci.values.dtype == np.float64


def test_pytree_metric_and_batches(rng, key):
    x, y = _sets(rng)
    metric = functools.partial(jm.prdc, k=3)
    ci = jm.bootstrap_ci(metric, x, y, key=key, num_resamples=12, batch_size=5)
    ix, iy = jm.bootstrap_indices(key, (N_X, N_Y), 12)
    loop = [metric(x[a], y[b]) for a, b in zip(ix, iy, strict=True)]
    for field in jm.PRDC._fields:
        values = np.array([float(getattr(r, field)) for r in loop])
        # Eager and vmapped PRDC may differ in the last ulp (division order).
        np.testing.assert_allclose(np.asarray(getattr(ci.values, field)), values, rtol=1e-14)
        low, high, std = _numpy_interval(float(getattr(ci.estimate, field)), values, 0.95, "")
        np.testing.assert_allclose(float(getattr(ci.low, field)), low, rtol=1e-12)
        np.testing.assert_allclose(float(getattr(ci.high, field)), high, rtol=1e-12)
        np.testing.assert_allclose(float(getattr(ci.std, field)), std, rtol=1e-10)
    again = jm.bootstrap_ci(metric, x, y, key=key, num_resamples=12, batch_size=12)
    for a, b in zip(again.values, ci.values, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-14)


def test_paired_resamples_share_rows(rng, key):
    x = rng.normal(size=(80, 2))
    y = x + rng.normal(scale=0.1, size=(80, 2))

    def mean_difference(a, b):
        return jnp.mean(a[:, 0] - b[:, 0])

    ci = jm.bootstrap_ci(mean_difference, x, y, key=key, num_resamples=300, paired=True)
    (rows, rows_again) = jm.bootstrap_indices(key, (80, 80), 300, paired=True)
    np.testing.assert_array_equal(rows, rows_again)
    diff = x[:, 0] - y[:, 0]
    np.testing.assert_allclose(np.asarray(ci.values), diff[np.asarray(rows)].mean(1), rtol=1e-12)
    # Pairing removes the shared variation: the interval is the paired one.
    assert float(ci.std) < 3 * diff.std() / np.sqrt(80)


def test_percentile_interval_covers_the_mean(rng):
    # 60 data sets of 50 normal rows: the 90% interval of the mean should
    # cover the true mean about 90% of the time (binomial sd ~ 4%).
    key = jax.random.key(1)

    def mean(a):
        return jnp.mean(a[:, 0])

    hits = 0
    for _ in range(60):
        data = rng.normal(size=(50, 1))
        ci = jm.bootstrap_ci(mean, data, key=key, num_resamples=400, confidence=0.9)
        key = jax.random.fold_in(key, 1)
        hits += float(ci.low) <= 0.0 <= float(ci.high)
    assert 0.75 <= hits / 60 <= 1.0


def test_key_reproducible_and_independent_of_global_x64(rng, global_x64):
    x, y = _sets(rng)
    ci = jm.bootstrap_ci(jm.frechet_distance, x, y, key=jax.random.key(5), num_resamples=RESAMPLES)
    again = jm.bootstrap_ci(
        jm.frechet_distance, x, y, key=jax.random.key(5), num_resamples=RESAMPLES
    )
    other = jm.bootstrap_ci(
        jm.frechet_distance, x, y, key=jax.random.key(6), num_resamples=RESAMPLES
    )
    np.testing.assert_array_equal(np.asarray(ci.values), np.asarray(again.values))
    assert not np.array_equal(np.asarray(ci.values), np.asarray(other.values))
    with jax.enable_x64(not global_x64):
        flipped = jm.bootstrap_indices(jax.random.key(5), (N_X, N_Y), RESAMPLES)
    plain = jm.bootstrap_indices(jax.random.key(5), (N_X, N_Y), RESAMPLES)
    for a, b in zip(plain, flipped, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert ci.values.dtype == np.float64


def test_float32(rng, key):
    x, y = _sets(rng)
    metric = functools.partial(jm.frechet_distance, precision="float32")
    f32 = jm.bootstrap_ci(metric, x, y, key=key, num_resamples=RESAMPLES, precision="float32")
    f64 = jm.bootstrap_ci(jm.frechet_distance, x, y, key=key, num_resamples=RESAMPLES)
    assert f32.values.dtype == np.float32
    np.testing.assert_allclose(np.asarray(f32.values), np.asarray(f64.values), rtol=1e-4)


def test_second_call_does_not_recompile(rng, key):
    x, y = _sets(rng)
    jm.bootstrap_ci(jm.frechet_distance, x, y, key=key, num_resamples=RESAMPLES)
    before = _bootstrap._resampled_values._cache_size()
    jm.bootstrap_ci(jm.frechet_distance, x + 1, y, key=jax.random.key(2), num_resamples=RESAMPLES)
    assert _bootstrap._resampled_values._cache_size() == before


def test_bad_arguments(rng):
    x, y = rng.normal(size=(20, 3)), rng.normal(size=(15, 3))
    with pytest.raises(TypeError, match="metric must be callable"):
        jm.bootstrap_ci("fad", x, y)
    with pytest.raises(ValueError, match="at least one sample"):
        jm.bootstrap_ci(jm.frechet_distance)
    with pytest.raises(ValueError, match=r"samples\[1\] must be 2-D"):
        jm.bootstrap_ci(jm.frechet_distance, x, y[:, 0])
    bad = y.copy()
    bad[2, 0] = np.inf
    with pytest.raises(ValueError, match=r"samples\[1\] has 1 row"):
        jm.bootstrap_ci(jm.frechet_distance, x, bad)
    with pytest.raises(ValueError, match="confidence"):
        jm.bootstrap_ci(jm.frechet_distance, x, y, confidence=1.0)
    with pytest.raises(TypeError, match="confidence"):
        jm.bootstrap_ci(jm.frechet_distance, x, y, confidence="95%")
    with pytest.raises(ValueError, match="method"):
        jm.bootstrap_ci(jm.frechet_distance, x, y, method="bca")
    with pytest.raises(ValueError, match="num_resamples"):
        jm.bootstrap_ci(jm.frechet_distance, x, y, num_resamples=1)
    with pytest.raises(ValueError, match="paired"):
        jm.bootstrap_ci(jm.frechet_distance, x, y, paired=True)
    with pytest.raises(TypeError, match="paired"):
        jm.bootstrap_ci(jm.frechet_distance, x, y, paired="yes")
    with pytest.raises(ValueError, match="batch_size"):
        jm.bootstrap_ci(jm.frechet_distance, x, y, batch_size=0)
