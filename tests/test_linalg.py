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
from jaxmetrics import _linalg, _precision


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
    monkeypatch.setattr(_linalg, "_has_lapack_eigenvalues", lambda dtype: False)
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
    """Both definite: the eigenvalue route; forcing the flag off: singular values."""
    d = 64
    sx = _random_psd(rng, d, np.geomspace(1.0, 1.0 / condition, d))
    sy = _random_psd(rng, d, 1.3 * np.geomspace(1.0, 1.0 / condition, d))
    fx = _linalg.covariance_factor(jnp.asarray(sx))
    fy = _linalg.covariance_factor(jnp.asarray(sy))
    assert bool(fx.definite) and bool(fy.definite)
    fast = float(_linalg.trace_sqrt_of_factors(fx, fy))
    forced = fx._replace(definite=jnp.asarray(False))
    svd = float(_linalg.trace_sqrt_of_factors(forced, fy))
    expected = scipy.linalg.svdvals(np.linalg.cholesky(sx).T @ np.linalg.cholesky(sy)).sum()
    # tr sqrt is a sum of d positive terms; both routes within 1e-13 of it.
    np.testing.assert_allclose(fast, expected, rtol=1e-13)
    np.testing.assert_allclose(svd, expected, rtol=1e-13)


def test_trace_term_against_40_digit_reference(rng):
    """Two samples of one distribution: FAD is 1e-2 of the traces, so the trace
    term's error is amplified ~100x; still within 1e-11 of mpmath's value
    (measured 6.7e-13 at d = 96; sqrtm and eigvals were 5.3e-9 there)."""
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
    got = float(jm.frechet_distance(x, y))
    assert expected < 0.05 * float(np.trace(sx) + np.trace(sy))
    np.testing.assert_allclose(got, expected, rtol=1e-11)
    via_sqrtm = ref.frechet_sqrtm(mx, sx, my, sy)
    assert abs(got - expected) <= abs(via_sqrtm - expected) + 1e-15 * expected


def test_singular_covariances_take_the_singular_value_route(rng):
    """n < d statistics: the zero part of the spectrum must not add noise
    (the eigenvalue route measured 4.6e-8 here; singular values 1e-14)."""
    d, n = 96, 40
    x = rng.normal(size=(n, d))
    y = rng.normal(size=(n, d)) * 1.2 + 0.1
    got = float(jm.frechet_distance_from_stats(jm.gaussian_stats(x), jm.gaussian_stats(y)))
    np.testing.assert_allclose(got, ref.frechet_from_data_svd(x, y), rtol=1e-11)
