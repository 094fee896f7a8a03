"""Fréchet distance: values against SciPy references, properties, precision."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import references as ref
from references import correlated_gaussian

import jaxmetrics as jm
from jaxmetrics._src import routing
from jaxmetrics.metrics import frechet as _frechet

# Both our route (Cholesky/eigh factor + symmetric eigenvalues) and scipy's
# Schur sqrtm are backward stable in float64 on well-conditioned covariances;
# observed agreement is ~1e-13 relative. 1e-9 leaves margin while staying
# three orders tighter than the 1e-6 the project promises.
RTOL_WELL_CONDITIONED = 1e-9


@pytest.mark.parametrize("n,m,d", [(400, 500, 8), (3000, 2500, 64), (4000, 4000, 256)])
def test_matches_scipy_sqrtm(rng, n, m, d, global_x64):
    x = correlated_gaussian(rng, n, d).astype(np.float32)
    y = correlated_gaussian(rng, m, d, shift=0.05, scale=1.1).astype(np.float32)
    expected = ref.frechet_sqrtm(*ref.stats(x), *ref.stats(y))
    got = jm.frechet_distance(x, y)
    assert got.dtype == jnp.float64
    np.testing.assert_allclose(float(got), expected, rtol=RTOL_WELL_CONDITIONED)
    # The user's global flag is untouched by the call.
    assert bool(jax.config.jax_enable_x64) == global_x64


def test_from_stats_matches_scipy(rng):
    x = correlated_gaussian(rng, 2000, 96)
    y = correlated_gaussian(rng, 1500, 96, shift=0.3)
    sx, sy = jm.gaussian_stats(x), jm.gaussian_stats(y)
    expected = ref.frechet_sqrtm(*ref.stats(x), *ref.stats(y))
    np.testing.assert_allclose(
        float(jm.frechet_distance_from_stats(sx, sy)), expected, rtol=RTOL_WELL_CONDITIONED
    )


@pytest.mark.parametrize("d", [96, 200])  # XLA; the host's LAPACK on CPU from d = 160
def test_every_method_matches_scipy_and_the_others(rng, d):
    x = correlated_gaussian(rng, 2000, d)
    y = correlated_gaussian(rng, 1500, d, shift=0.3)
    sx, sy = jm.gaussian_stats(x), jm.gaussian_stats(y)
    expected = ref.frechet_sqrtm(*ref.stats(x), *ref.stats(y))
    via_svd = float(jm.frechet_distance_from_stats(sx, sy, method="svd"))
    np.testing.assert_allclose(via_svd, expected, rtol=RTOL_WELL_CONDITIONED)
    # Float64 routes to one spectrum: they differ by round-off only.
    for method in ("qr", "eigh"):
        got = float(jm.frechet_distance_from_stats(sx, sy, method=method))
        np.testing.assert_allclose(got, via_svd, rtol=1e-11, err_msg=method)
    np.testing.assert_allclose(float(jm.frechet_distance(x, y, method="svd")), via_svd, rtol=1e-11)


@pytest.mark.parametrize("call", ["raw", "stats"])
def test_unknown_method_is_rejected_before_any_work(rng, call):
    x = rng.normal(size=(10, 3))
    with pytest.raises(
        ValueError, match="method must be one of .*'qr'.*'eigh'.*'svd'.*got 'sqrtm'"
    ):
        if call == "raw":
            jm.frechet_distance(x, x, method="sqrtm")
        else:
            stats = jm.gaussian_stats(x)
            jm.frechet_distance_from_stats(stats, stats, method="sqrtm")


@pytest.mark.parametrize("n,m,d", [(50, 80, 128), (300, 200, 512)])
def test_fewer_rows_than_dimensions(rng, n, m, d):
    """Singular covariances (n < d): sqrtm is unreliable there, so the reference
    is the SVD of the centred cross-Gram matrix, accurate to eps*||C|| per
    singular value. Our cross-Gram route and our stats route must both agree."""
    x = rng.normal(size=(n, d))
    y = rng.normal(0.1, 1.2, size=(m, d))
    expected = ref.frechet_from_data_svd(x, y)
    direct = float(jm.frechet_distance(x, y))
    via_stats = float(jm.frechet_distance_from_stats(jm.gaussian_stats(x), jm.gaussian_stats(y)))
    np.testing.assert_allclose(direct, expected, rtol=1e-10)
    # The d x d route takes square roots of round-off-sized eigenvalues in the
    # null space: ~sqrt(eps * lambda_max) each, which bounds it near 1e-7.
    np.testing.assert_allclose(via_stats, expected, rtol=1e-7)


def test_singular_cases_never_nan_or_negative(rng):
    d = 32
    x = rng.normal(size=(200, d))
    x[:, 5] = 0.0  # zero-variance dimension
    dup = np.repeat(rng.normal(size=(10, d)), 20, axis=0)  # duplicated rows, rank 9
    few = rng.normal(size=(5, d))  # n < d
    for a, b in [(x, x), (x, dup), (dup, dup), (few, x), (few, few), (x, few)]:
        value = float(jm.frechet_distance(a, b))
        via_stats = float(
            jm.frechet_distance_from_stats(jm.gaussian_stats(a), jm.gaussian_stats(b))
        )
        assert np.isfinite(value) and value >= 0.0
        assert np.isfinite(via_stats) and via_stats >= 0.0
        np.testing.assert_allclose(value, ref.frechet_from_data_svd(a, b), rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(via_stats, value, rtol=1e-6, atol=1e-7)


def test_near_singular_against_svd_reference(rng):
    """Covariances with a spectrum spanning 12 orders of magnitude."""
    d = 48
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    cov_x = (q * np.geomspace(1.0, 1e-12, d)) @ q.T
    cov_y = (q[:, ::-1] * np.geomspace(1.0, 1e-12, d)) @ q[:, ::-1].T
    mu = np.zeros(d)
    sx = jm.GaussianStats(np.float64(100), mu, cov_x)
    sy = jm.GaussianStats(np.float64(100), mu + 0.01, cov_y)
    expected = ref.frechet_svd(mu, cov_x, mu + 0.01, cov_y)
    got = float(jm.frechet_distance_from_stats(sx, sy))
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_identity_symmetry_translation_permutation(rng):
    x = correlated_gaussian(rng, 600, 24)
    y = correlated_gaussian(rng, 700, 24, shift=0.2)
    assert float(jm.frechet_distance(x, x)) == pytest.approx(0.0, abs=1e-10)
    fxy = float(jm.frechet_distance(x, y))
    np.testing.assert_allclose(float(jm.frechet_distance(y, x)), fxy, rtol=1e-10)
    np.testing.assert_allclose(float(jm.frechet_distance(x + 7.0, y + 7.0)), fxy, rtol=1e-9)
    perm = rng.permutation(len(x))
    np.testing.assert_allclose(float(jm.frechet_distance(x[perm], y)), fxy, rtol=1e-10)


def test_known_value_shifted_identity():
    # Same covariance, mean shift of 1 in each of 4 dims -> FD = 4 exactly.
    x = np.random.default_rng(1).normal(size=(1000, 4))
    np.testing.assert_allclose(float(jm.frechet_distance(x, x + 1.0)), 4.0, rtol=1e-10)


def test_jit_and_eager_agree_and_no_recompile(rng):
    x = rng.normal(size=(300, 16))
    y = rng.normal(0.3, size=(300, 16))
    eager = float(jm.frechet_distance(x, y))
    with jax.enable_x64(True):
        sx, sy = jm.gaussian_stats(x), jm.gaussian_stats(y)
        jitted = jax.jit(jm.frechet_distance_from_stats)
        np.testing.assert_allclose(float(jitted(sx, sy)), eager, rtol=1e-10)
        counted = chex.assert_max_traces(_frechet.frechet_of_stats.__wrapped__, n=1)
        fn = jax.jit(counted)
        fn(sx, sy)
        fn(jm.gaussian_stats(x + 1.0), sy)  # same shapes: no new trace


def test_second_call_does_not_recompile(rng):
    x = rng.normal(size=(120, 12))
    jm.frechet_distance(x, x + 1.0)
    before = _frechet._frechet_via_stats._cache_size()
    jm.frechet_distance(x * 2.0, x - 1.0)
    assert _frechet._frechet_via_stats._cache_size() == before


@pytest.mark.parametrize("d", [24, 192, 320])
@pytest.mark.parametrize("method", ["qr", "eigh", "svd"])
def test_eager_host_route_matches_the_jitted_route(rng, d, method):
    """From d = 160, concrete float64 statistics on the CPU go straight to
    SciPy's LAPACK (``_host_lapack.frechet_from_stats``); below it, eager
    calls take XLA as jitted ones do. The result is the jitted one to
    round-off (a few ulps of the trace term, amplified by the cancellation:
    FAD here is ~1e-2 of the traces), and the statistics are left unchanged."""
    x = correlated_gaussian(rng, 3000, d)
    y = correlated_gaussian(rng, 3000, d, shift=0.05)
    sx, sy = (jm.GaussianStats(*map(np.asarray, jm.gaussian_stats(v))) for v in (x, y))
    copies = [np.array(v) for s in (sx, sy) for v in s]
    on_host = d >= routing.HOST_MIN_DIM
    assert _frechet._on_cpu_host(sx, sy) == on_host
    eager = float(jm.frechet_distance_from_stats(sx, sy, method=method))
    with jax.enable_x64(True):
        jitted = float(
            jax.jit(jm.frechet_distance_from_stats, static_argnames="method")(sx, sy, method=method)
        )
        on_device = jax.tree.map(jnp.asarray, (sx, sy))  # JAX arrays on the CPU: same route
        assert _frechet._on_cpu_host(*on_device) == on_host
        from_jax = float(jm.frechet_distance_from_stats(*on_device, method=method))
    np.testing.assert_allclose(eager, jitted, rtol=1e-11)
    assert from_jax == eager
    for before, after in zip(copies, [v for s in (sx, sy) for v in s], strict=True):
        np.testing.assert_array_equal(before, after)


def test_host_route_is_only_for_concrete_float64_cpu_statistics(rng):
    x = rng.normal(size=(400, 192))
    s64 = jm.GaussianStats(*map(np.asarray, jm.gaussian_stats(x)))
    s32 = jm.GaussianStats(*(np.asarray(v, np.float32) for v in s64))
    assert _frechet._on_cpu_host(s64, s64)
    assert not _frechet._on_cpu_host(s32, s64)
    small = jm.GaussianStats(*map(np.asarray, jm.gaussian_stats(x[:, :16])))
    assert not _frechet._on_cpu_host(small, small)  # below d = 160: XLA
    seen = []

    def probe(a):
        seen.append(_frechet._on_cpu_host(a, a))
        return a.mean.sum()

    with jax.enable_x64(True):
        jax.jit(probe)(s64)
    assert seen == [False]


@pytest.mark.parametrize("d", [6, 192])  # 192: the host callback, mapped one by one
def test_vmap_over_stats(rng, d):
    xs = rng.normal(size=(3, 400, d))
    ref_stats = jm.gaussian_stats(rng.normal(size=(400, d)))
    with jax.enable_x64(True):
        stacked = jax.vmap(lambda x: jm.gaussian_stats(x))(jnp.asarray(xs))
        fd = jax.vmap(lambda s: jm.frechet_distance_from_stats(s, ref_stats))
        values = fd(stacked)
        np.testing.assert_allclose(jax.jit(fd)(stacked), values, rtol=1e-12)
    for i in range(3):
        expected = jm.frechet_distance_from_stats(jm.gaussian_stats(xs[i]), ref_stats)
        np.testing.assert_allclose(float(values[i]), float(expected), rtol=1e-9)


@pytest.mark.parametrize("d", [16, 128])
def test_float32_path_is_close(rng, d):
    x = correlated_gaussian(rng, 2000, d).astype(np.float32)
    y = correlated_gaussian(rng, 2000, d, shift=0.1).astype(np.float32)
    exact = float(jm.frechet_distance(x, y))
    single = jm.frechet_distance(x, y, precision="float32")
    assert single.dtype == jnp.float32
    # float32 accumulates ~d * eps32 relative error in the covariance products;
    # measured 1e-5..1e-4 here (see benchmarks/precision_float32.py).
    np.testing.assert_allclose(float(single), exact, rtol=2e-3)


def test_inputs_not_modified(rng):
    x = rng.normal(size=(50, 4)).astype(np.float32)
    y = rng.normal(size=(60, 4))
    x0, y0 = x.copy(), y.copy()
    jm.frechet_distance(x, y)
    jm.gaussian_stats(x)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)
    assert x.dtype == np.float32


@pytest.mark.parametrize("d", [8, 200])
@pytest.mark.parametrize("scale", [1e-150, 1e-77, 1e77, 1e150])
def test_fad_over_the_whole_float64_range(rng, d, scale):
    # FAD(s x, s y) = s^2 FAD(x, y): the data are scaled by a power of two
    # before anything is squared, so nothing overflows (FAD was NaN around
    # 1e77) or underflows. Each route stays within its usual relative error.
    x = rng.normal(size=(300, d))
    y = rng.normal(size=(300, d)) * 1.1 + 0.2
    base = float(jm.frechet_distance(x, y))
    for method in ("qr", "eigh", "svd"):
        got = float(jm.frechet_distance(x * scale, y * scale, method=method))
        np.testing.assert_allclose(got / scale**2, base, rtol=1e-12)
    if scale > 1e-100:  # statistics of 1e-150 data lose digits to underflow in the squares
        stats = jm.gaussian_stats(x * scale), jm.gaussian_stats(y * scale)
        got = float(jm.frechet_distance_from_stats(*stats))
        np.testing.assert_allclose(got / scale**2, base, rtol=1e-12)
