"""FAD∞ and metric-∞ against np.polyfit on a NumPy/SciPy loop over the same resamples."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import references as ref

import jaxmetrics as jm
from jaxmetrics.analysis import extrapolation as _extrapolation

# One shape for most tests, so the compiled FAD∞ program is shared between them.
N_REF, N_CAND, DIM, STEPS, MIN_N = 500, 400, 6, 5, 50


def _sets(rng, shift=0.1):
    reference = ref.correlated_gaussian(rng, N_REF, DIM)
    return reference, ref.correlated_gaussian(rng, N_CAND, DIM, shift=shift)


def _numpy_fit(ns, values):
    """What fadtk's score_inf computes from its (n, FAD) points."""
    xs = 1.0 / np.asarray(ns, np.float64)
    ys = np.asarray(values, np.float64)
    slope, intercept = np.polyfit(xs, ys, 1)
    r2 = 1 - np.sum((ys - (slope * xs + intercept)) ** 2) / np.sum((ys - ys.mean()) ** 2)
    return intercept, slope, r2


def _numpy_fad_inf(reference, candidate, rows_per_n):
    mu, cov = ref.stats(reference)
    values = []
    for rows in rows_per_n:
        mu_c, cov_c = ref.stats(candidate[rows])
        values.append(ref.frechet_sqrtm(mu, cov, mu_c, cov_c))
    return np.array(values)


def test_fit_matches_polyfit(rng):
    ns = np.array([50, 80, 130, 200, 400, 1000])
    values = 0.7 + 35.0 / ns + rng.normal(scale=0.01, size=ns.size)
    fit = jm.fit_inverse_n(ns, values)
    intercept, slope, r2 = _numpy_fit(ns, values)
    np.testing.assert_allclose(float(fit.score), intercept, rtol=1e-12)
    np.testing.assert_allclose(float(fit.slope), slope, rtol=1e-12)
    np.testing.assert_allclose(float(fit.r2), r2, rtol=1e-12)
    np.testing.assert_array_equal(np.asarray(fit.points), np.stack([ns, values], 1))
    assert fit.score.dtype == np.float64


def test_fit_exact_line_and_float32():
    ns = np.array([100.0, 200.0, 400.0, 800.0])
    values = 2.5 + 300.0 / ns
    fit = jm.fit_inverse_n(ns, values)
    np.testing.assert_allclose([float(fit.score), float(fit.slope), float(fit.r2)], [2.5, 300, 1])
    fit32 = jm.fit_inverse_n(ns, values, precision="float32")
    assert fit32.score.dtype == np.float32
    # Centred sums over 4 points of size ~3: error a few eps32 times the slope's scale.
    np.testing.assert_allclose(float(fit32.score), 2.5, atol=50 * np.finfo(np.float32).eps)
    np.testing.assert_allclose(float(fit32.slope), 300.0, rtol=1e-4)


def test_fit_of_constant_values_has_nan_r2():
    fit = jm.fit_inverse_n([10, 20, 30], [1.0, 1.0, 1.0])
    assert float(fit.score) == 1.0 and float(fit.slope) == 0.0 and np.isnan(float(fit.r2))


def test_sample_sizes_as_fadtk():
    assert jm.sample_sizes(2000) == tuple(int(n) for n in np.linspace(500, 2000, 25))
    assert jm.sample_sizes(1000, num_steps=4, min_n=100, max_n=700) == (100, 300, 500, 700)


@pytest.mark.parametrize("replace", [True, False])
def test_frechet_distance_inf_matches_numpy_loop(rng, key, replace):
    reference, candidate = _sets(rng)
    fit = jm.frechet_distance_inf(
        reference, candidate, key=key, num_steps=STEPS, min_n=MIN_N, replace=replace
    )
    ns = jm.sample_sizes(N_CAND, num_steps=STEPS, min_n=MIN_N)
    rows = jm.resample_indices(key, N_CAND, ns, replace=replace)
    assert [len(r) for r in rows] == list(ns)
    if not replace:
        assert all(np.unique(r).size == r.size for r in rows)
    values = _numpy_fad_inf(reference, candidate, rows)
    np.testing.assert_allclose(np.asarray(fit.points[:, 0]), ns)
    np.testing.assert_allclose(np.asarray(fit.points[:, 1]), values, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        [float(fit.score), float(fit.slope), float(fit.r2)],
        _numpy_fit(ns, values),
        rtol=1e-8,
    )


def test_reference_statistics_give_the_same_fit(rng, key):
    reference, candidate = _sets(rng)
    kwargs = {"key": key, "num_steps": STEPS, "min_n": MIN_N}
    a = jm.frechet_distance_inf(reference, candidate, **kwargs)
    b = jm.frechet_distance_inf(jm.gaussian_stats(reference), candidate, **kwargs)
    np.testing.assert_allclose(np.asarray(a.points), np.asarray(b.points), rtol=1e-12)


def test_fad_inf_removes_the_bias_of_identical_distributions(rng):
    # Same distribution, so the true FAD is 0 and FAD at n has a positive 1/n
    # bias. Subsets without replacement are genuine samples of size n: the
    # intercept is near 0 (the 20,000-row reference leaves ~slope/20,000).
    # Resampling with replacement (fadtk) samples the candidate set's own
    # empirical distribution: the intercept lands near the FAD of the whole
    # candidate set, keeping that set's finite-size bias.
    reference = rng.normal(size=(20000, 16))
    candidate = rng.normal(size=(4000, 16))
    whole = float(jm.frechet_distance(reference, candidate))
    subsets = jm.frechet_distance_inf(reference, candidate, num_steps=8, min_n=400, replace=False)
    assert float(subsets.slope) > 0 and float(subsets.r2) > 0.8
    assert abs(float(subsets.score)) < 2.0 * float(subsets.slope) / 20000 < 0.3 * whole
    resampled = jm.frechet_distance_inf(reference, candidate, num_steps=8, min_n=400)
    assert float(resampled.slope) > 0 and float(resampled.r2) > 0.8
    assert abs(float(resampled.score) - whole) < 0.3 * whole


def test_key_reproducible_and_independent_of_global_x64(rng, global_x64):
    reference, candidate = _sets(rng)
    ns = jm.sample_sizes(N_CAND, num_steps=STEPS, min_n=MIN_N)
    rows = jm.resample_indices(jax.random.key(3), N_CAND, ns)
    with jax.enable_x64(not global_x64):
        again = jm.resample_indices(jax.random.key(3), N_CAND, ns)
    for a, b in zip(rows, again, strict=True):
        np.testing.assert_array_equal(a, b)
    kwargs = {"num_steps": STEPS, "min_n": MIN_N}
    fit = jm.frechet_distance_inf(reference, candidate, key=jax.random.key(3), **kwargs)
    fit2 = jm.frechet_distance_inf(reference, candidate, key=jax.random.key(3), **kwargs)
    other = jm.frechet_distance_inf(reference, candidate, key=jax.random.key(4), **kwargs)
    np.testing.assert_array_equal(np.asarray(fit.points), np.asarray(fit2.points))
    assert not np.array_equal(np.asarray(fit.points), np.asarray(other.points))
    assert fit.score.dtype == np.float64


def test_metric_inf_uses_the_same_resamples(rng, key):
    reference, candidate = _sets(rng)
    kwargs = {"key": key, "num_steps": 3, "min_n": MIN_N}
    ns = jm.sample_sizes(N_CAND, num_steps=3, min_n=MIN_N)
    rows = jm.resample_indices(key, N_CAND, ns)
    fad = jm.frechet_distance_inf(reference, candidate, **kwargs)
    generic = jm.metric_inf(jm.frechet_distance, reference, candidate, **kwargs)
    np.testing.assert_allclose(np.asarray(generic.points), np.asarray(fad.points), rtol=1e-10)

    def mean_gap(a, b):  # a cheap metric with a plain NumPy twin
        return jnp.sum((jnp.mean(a, 0) - jnp.mean(b, 0)) ** 2)

    fit = jm.metric_inf(mean_gap, reference, candidate, **kwargs)
    expected = [np.sum((reference.mean(0) - candidate[r].mean(0)) ** 2) for r in rows]
    np.testing.assert_allclose(np.asarray(fit.points[:, 1]), expected, rtol=1e-12)
    np.testing.assert_allclose(
        [float(fit.score), float(fit.slope), float(fit.r2)], _numpy_fit(ns, expected), rtol=1e-8
    )


def test_float32_close_to_float64(rng, key):
    reference, candidate = _sets(rng, shift=0.2)
    kwargs = {"key": key, "num_steps": STEPS, "min_n": MIN_N}
    f64 = jm.frechet_distance_inf(reference, candidate, **kwargs)
    f32 = jm.frechet_distance_inf(reference, candidate, precision="float32", **kwargs)
    assert f32.points.dtype == np.float32
    np.testing.assert_allclose(np.asarray(f32.points), np.asarray(f64.points), rtol=1e-4)


def test_second_call_does_not_recompile(rng):
    reference, candidate = _sets(rng)
    kwargs = {"num_steps": STEPS, "min_n": MIN_N}
    jm.frechet_distance_inf(reference, candidate, **kwargs)
    before = _extrapolation._frechet_inf_values._cache_size()
    jm.frechet_distance_inf(reference + 1, candidate, key=jax.random.key(9), **kwargs)
    assert _extrapolation._frechet_inf_values._cache_size() == before


def test_bad_arguments(rng):
    x, y = rng.normal(size=(100, 3)), rng.normal(size=(80, 3))
    with pytest.raises(ValueError, match="max_n"):
        jm.frechet_distance_inf(x, y)  # min_n=500 > 80 rows
    with pytest.raises(ValueError, match="replace=False"):
        jm.frechet_distance_inf(x, y, min_n=10, max_n=90, replace=False)
    with pytest.raises(TypeError, match="replace"):
        jm.frechet_distance_inf(x, y, min_n=10, replace=1)
    with pytest.raises(ValueError, match="same embedding dimension"):
        jm.frechet_distance_inf(x[:, :2], y, min_n=10)
    with pytest.raises(ValueError, match="candidate has 1 row"):
        bad = y.copy()
        bad[3, 1] = np.nan
        jm.frechet_distance_inf(x, bad, min_n=10)
    with pytest.raises(ValueError, match="num_steps"):
        jm.frechet_distance_inf(x, y, min_n=10, num_steps=1)
    with pytest.raises(TypeError, match="metric must be callable"):
        jm.metric_inf("fad", x, y, min_n=10)
    with pytest.raises(TypeError, match="scalar"):
        jm.metric_inf(lambda a, b: b.mean(0), x, y, min_n=10, num_steps=3)
    with pytest.raises(ValueError, match="two distinct"):
        jm.fit_inverse_n([10, 10], [1.0, 2.0])
    with pytest.raises(ValueError, match="same shape"):
        jm.fit_inverse_n([10, 20], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="positive"):
        jm.fit_inverse_n([0, 20], [1.0, 2.0])
    with pytest.raises(ValueError, match="NaN"):
        jm.fit_inverse_n([10, 20], [1.0, np.inf])
