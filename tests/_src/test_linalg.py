"""The dense kernels behind the Fréchet distance: values-only eigenvalues,
covariance factors and the two routes to tr sqrt(Σx Σy).

References: NumPy's ``eigvalsh``/``cholesky`` (LAPACK through NumPy, not
jaxlib), SciPy's singular values, and a 40-digit mpmath computation.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
import references as ref
import scipy.linalg

import jaxmetrics as jm
from jaxmetrics._src import host_lapack as _host_lapack
from jaxmetrics._src import linalg as _linalg
from jaxmetrics._src import precision as _precision
from jaxmetrics._src import routing


def _random_psd(rng, d, spectrum):
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return (q * spectrum) @ q.T


@pytest.fixture
def x64():
    with _precision.precision_scope("float64", False):
        yield


@pytest.mark.parametrize("d", [1, 7, 300])
def test_symmetric_eigenvalues_match_numpy(rng, x64, d):
    a = rng.normal(size=(d, d))
    m = a @ a.T
    expected = np.linalg.eigvalsh(m)
    scale = np.abs(expected).max()
    # Backward-stable symmetric solvers: each eigenvalue within ~d * eps * ||M||.
    got = np.asarray(jax.jit(_linalg.symmetric_eigenvalues)(jnp.asarray(m)))
    np.testing.assert_allclose(got, expected, rtol=0, atol=d * 1e-15 * scale)
    got32 = np.asarray(_linalg.symmetric_eigenvalues(jnp.asarray(m, jnp.float32)))
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, expected, rtol=0, atol=d * 1e-6 * scale)


def test_symmetric_eigenvalues_batched_and_vmapped(rng, x64):
    a = rng.normal(size=(4, 9, 9))
    m = jnp.asarray(a @ np.swapaxes(a, 1, 2))
    expected = np.linalg.eigvalsh(np.asarray(m))
    np.testing.assert_allclose(_linalg.symmetric_eigenvalues(m), expected, atol=1e-12)
    vmapped = jax.jit(jax.vmap(_linalg.symmetric_eigenvalues))(m)
    np.testing.assert_allclose(vmapped, expected, atol=1e-12)


def test_symmetric_eigenvalues_without_the_lapack_kernel(rng, x64, monkeypatch):
    """Where jaxlib's values-only kernel is missing, eigvalsh gives the same values."""
    a = rng.normal(size=(11, 11))
    m = jnp.asarray(a @ a.T)
    fast = np.asarray(_linalg.symmetric_eigenvalues(m))
    monkeypatch.setattr(_host_lapack, "has_lapack_eigenvalues", lambda dtype: False)
    np.testing.assert_allclose(_linalg.symmetric_eigenvalues(m), fast, atol=1e-12)


def test_covariance_factor_of_a_definite_matrix_is_cholesky(rng, x64):
    sigma = _random_psd(rng, 20, np.geomspace(1.0, 1e-9, 20))
    out = _linalg.covariance_factor(jnp.asarray(sigma))
    assert bool(out.definite)
    np.testing.assert_allclose(out.factor, np.linalg.cholesky(sigma), atol=1e-12)


@pytest.mark.parametrize("case", ["low_rank", "rounding_pivot", "zero_dimension"])
def test_covariance_factor_of_a_singular_matrix_uses_eigh(rng, x64, case):
    d = 16
    if case == "low_rank":
        a = rng.normal(size=(d, 5))
        sigma = a @ a.T
    elif case == "rounding_pivot":
        # Cholesky succeeds here, but with a pivot far below rounding level.
        sigma = np.diag(np.r_[np.ones(d - 1), 1e-20])
        assert np.isfinite(np.linalg.cholesky(sigma)).all()
    else:
        sigma = _random_psd(rng, d, np.linspace(1.0, 2.0, d))
        sigma[3, :] = sigma[:, 3] = 0.0
    out = _linalg.covariance_factor(jnp.asarray(sigma))
    assert not bool(out.definite)
    factor = np.asarray(out.factor)
    np.testing.assert_allclose(factor @ factor.T, sigma, atol=1e-12 * np.abs(sigma).max())


@pytest.mark.parametrize("condition", [1e2, 1e6, 1e10])
def test_eigenvalue_and_singular_value_routes_agree(rng, x64, condition):
    """Both definite: the eigenvalue routes; forcing the flag off: singular values.

    d = 192 is above the dimension from which float64 on CPU runs on the host
    (``routing.HOST_MIN_DIM``), so ``trace_sqrt_product`` checks that route
    and ``trace_sqrt_of_factors`` the XLA one.
    """
    d = 192
    assert d >= routing.HOST_MIN_DIM
    sx = _random_psd(rng, d, np.geomspace(1.0, 1.0 / condition, d))
    sy = _random_psd(rng, d, 1.3 * np.geomspace(1.0, 1.0 / condition, d))
    fx = _linalg.covariance_factor(jnp.asarray(sx))
    fy = _linalg.covariance_factor(jnp.asarray(sy))
    assert bool(fx.definite) and bool(fy.definite)
    forced = fx._replace(definite=jnp.asarray(False))
    svd = float(_linalg.trace_sqrt_of_factors(forced, fy))
    expected = scipy.linalg.svdvals(np.linalg.cholesky(sx).T @ np.linalg.cholesky(sy)).sum()
    # tr sqrt is a sum of d positive terms; every route within 1e-13 of it,
    # in XLA (these factor-level calls) and on the host (trace_sqrt_product).
    np.testing.assert_allclose(svd, expected, rtol=1e-13)
    for method in _linalg.TRACE_METHODS:
        fast = float(_linalg.trace_sqrt_of_factors(fx, fy, method=method))
        np.testing.assert_allclose(fast, expected, rtol=1e-13, err_msg=method)
        host = float(_linalg.trace_sqrt_product(jnp.asarray(sx), jnp.asarray(sy), method=method))
        np.testing.assert_allclose(host, expected, rtol=1e-13, err_msg=method)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_trace_term_against_40_digit_reference(seed):
    """Two samples of one distribution: FAD is 1e-3 of the traces, so the trace
    term's error is amplified ~1000x. Each error is a draw of round-off, so the
    routes are compared with each other and with sqrtm on these four seeds
    (measured errors in the comments below).
    """
    rng = np.random.default_rng(seed)
    d = 24
    mix = rng.normal(size=(d, d)) * np.sqrt(np.arange(1, d + 1) ** -1.5)
    x = rng.normal(size=(2000, d)) @ mix.T
    y = rng.normal(size=(2000, d)) @ mix.T
    mx, sx = ref.stats(x)
    my, sy = ref.stats(y)
    with mpmath.workdps(40):
        msx, msy = mpmath.matrix(sx.tolist()), mpmath.matrix(sy.tolist())
        lx = mpmath.cholesky(msx)
        product = lx.T * msy * lx
        eig = mpmath.eigsy((product + product.T) / 2, eigvals_only=True)
        trace_sqrt = mpmath.fsum(mpmath.sqrt(e) for e in eig)
        traces = mpmath.fsum(msx[i, i] + msy[i, i] for i in range(d))
        diff = mpmath.fsum(mpmath.mpf(float(v)) ** 2 for v in mx - my)
        expected = float(diff + traces - 2 * trace_sqrt)
    assert expected < 0.05 * float(np.trace(sx) + np.trace(sy))
    # From raw embeddings our covariances differ from NumPy's by summation-order
    # round-off (1e-16 relative per entry), which the cancellation amplifies.
    np.testing.assert_allclose(float(jm.frechet_distance(x, y)), expected, rtol=1e-11)
    # From the very statistics mpmath started from, the trace route alone is
    # compared with sqrtm's.
    n = np.float64(x.shape[0])
    stats_x, stats_y = jm.GaussianStats(n, mx, sx), jm.GaussianStats(n, my, sy)
    # Measured relative errors on these seeds, on the host's LAPACK (the
    # route of eager calls from d = 160 on) / in XLA (eager calls at d = 24):
    # default "qr" 9.5e-15 ... 2.6e-13 / 9.5e-15 ... 6.0e-13, "svd" 9.4e-16
    # ... 1.5e-13 / 6.1e-14 ... 2.4e-13, "eigh" 2.3e-13 ... 2.2e-12 / 6.0e-13
    # ... 2.2e-12 (it squares the small singular values), sqrtm 5.2e-11 ...
    # 6.1e-8. Tolerances: about 5x the largest. The routes' errors are not
    # compared with each other: two routes can round to the same value.
    routes = {
        "host": lambda m: _host_lapack.frechet_from_stats(mx, sx, my, sy, m),
        "xla": lambda m: float(jm.frechet_distance_from_stats(stats_x, stats_y, method=m)),
    }
    for route, fd in routes.items():
        got = {m: fd(m) for m in ("qr", "eigh", "svd")}
        err = {m: abs(v - expected) / expected for m, v in got.items()}
        assert err["qr"] < 3e-12 and err["svd"] < 3e-12 and err["eigh"] < 1e-11, (route, err)
    assert float(jm.frechet_distance_from_stats(stats_x, stats_y)) == routes["xla"]("qr")


@pytest.mark.parametrize("d", [96, 200])  # XLA; from d = 160 on the host's LAPACK
def test_singular_covariances_take_the_singular_value_route(rng, d):
    """n < d statistics: the zero part of the spectrum must not add noise
    (the eigenvalue route measured 4.6e-8 here; singular values 1e-14).
    From d = 160, eager calls on NumPy statistics take SciPy's LAPACK
    directly and jitted ones the host callback."""
    n = 40
    x = rng.normal(size=(n, d))
    y = rng.normal(size=(n, d)) * 1.2 + 0.1
    expected = ref.frechet_from_data_svd(x, y)
    sx, sy = jm.gaussian_stats(x), jm.gaussian_stats(y)
    stats_x, stats_y = (jm.GaussianStats(*map(np.asarray, s)) for s in (sx, sy))
    np.testing.assert_allclose(
        float(jm.frechet_distance_from_stats(stats_x, stats_y)), expected, rtol=1e-11
    )
    with jax.enable_x64(True):
        jitted = float(jax.jit(jm.frechet_distance_from_stats)(sx, sy))
    np.testing.assert_allclose(jitted, expected, rtol=1e-11)


@pytest.mark.parametrize("global_flag", [False, True])
@pytest.mark.parametrize("shape", [(2, 1), (9, 3), (1000, 600)])
def test_mean_and_scatter_match_numpy_in_float64(rng, shape, global_flag):
    """Float32 rows wanted in float64 go through BLAS syrk on the host (CPU).

    Reference: NumPy float64 of the same float32 values. Tolerance: the
    round-off of length-n float64 sums, n * eps * max|entry|; a float32
    rounding anywhere on the way would show as 1e-7.
    """
    x = (rng.normal(size=shape) + 3.0).astype(np.float32)
    wide = x.astype(np.float64)
    mean = wide.mean(axis=0)
    scatter = (wide - mean).T @ (wide - mean)
    before = bool(jax.config.jax_enable_x64)
    jax.config.update("jax_enable_x64", global_flag)
    try:
        with _precision.precision_scope("float64", False):
            fn = jax.jit(lambda v: _linalg.mean_and_scatter(v, jnp.float64))
            got_mean, got = (np.asarray(v) for v in fn(jnp.asarray(x)))
            looped = jax.jit(jax.vmap(lambda v: _linalg.mean_and_scatter(v, jnp.float64)[1]))(
                jnp.asarray(np.stack([x, x[::-1]]))
            )
    finally:
        jax.config.update("jax_enable_x64", before)
    assert got.dtype == np.float64 and got_mean.dtype == np.float64
    np.testing.assert_array_equal(got, got.T)
    bound = shape[0] * np.finfo(np.float64).eps * np.abs(scatter).max()
    np.testing.assert_allclose(got, scatter, rtol=0, atol=bound)
    np.testing.assert_allclose(got_mean, mean, rtol=0, atol=4 * np.finfo(np.float64).eps * 4.0)
    np.testing.assert_allclose(looped, np.stack([scatter, scatter]), rtol=0, atol=2 * bound)


def test_mean_and_scatter_device_route_for_other_dtypes(rng, x64):
    """Float64 rows (and float32 results) stay in XLA: same values."""
    x = rng.normal(size=(300, 40))
    mean, scatter = _linalg.mean_and_scatter(jnp.asarray(x), jnp.float64)
    centred = x - x.mean(axis=0)
    np.testing.assert_allclose(scatter, centred.T @ centred, rtol=1e-12)
    np.testing.assert_allclose(mean, x.mean(axis=0), rtol=1e-13)
    mean32, scatter32 = _linalg.mean_and_scatter(jnp.asarray(x, jnp.float32), jnp.float32)
    assert scatter32.dtype == jnp.float32
    np.testing.assert_allclose(scatter32, centred.T @ centred, rtol=1e-4, atol=1e-3)
