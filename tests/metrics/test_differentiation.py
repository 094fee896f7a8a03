"""Gradients of the differentiable metrics, and vmap of the Fréchet distance.

Every public metric that is differentiable in its inputs (FAD on each of its
routes, mmd2, kernel_distance, APA from embeddings) is checked against
central finite differences computed in float64, with the user's x64 flag off
and on, eagerly and under jit. Tolerances: with x64 on the finite difference
with step h has error O(h^2 f''') + O(eps f / h), about 1e-8 relative for
h = 1e-5 here, so rtol 1e-6; with x64 off the gradient itself is computed in
float32 (relative error ~1e-4 after the d x d reductions), so rtol 2e-2.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmetrics as jm

CASES = {
    # name: (n, d, function of x with y fixed)
    "fad_xla": (60, 24, lambda x, y: jm.frechet_distance(x, y)),
    "fad_host_lapack": (400, 200, lambda x, y: jm.frechet_distance(x, y)),
    "fad_fewer_rows_than_dims": (12, 30, lambda x, y: jm.frechet_distance(x, y)),
    "fad_svd": (60, 24, lambda x, y: jm.frechet_distance(x, y, method="svd")),
    "mmd2": (40, 8, lambda x, y: jm.mmd2(x, y)),
    "mmd2_rbf": (40, 8, lambda x, y: jm.mmd2(x, y, kernel="rbf", bandwidth=3.0)),
    "kernel_distance": (
        40,
        8,
        lambda x, y: (
            jm.kernel_distance(x, y, key=jax.random.key(1), num_subsets=4, subset_size=20).mean
        ),
    ),
    "apa": (60, 24, lambda x, y: jm.apa(x, y, y[::-1] * 1.5 + 0.3).score),
}


def _data(n, d):
    rng = np.random.default_rng(n * 1000 + d)
    x = rng.normal(size=(n, d))
    y = rng.normal(size=(n, d)) * 1.2 + 0.2
    v = rng.normal(size=(n, d))
    return x, y, v


@pytest.mark.filterwarnings("ignore:precision='float64' was requested")
@pytest.mark.filterwarnings("ignore:Explicitly requested dtype")
@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_gradient_against_finite_differences(case, jit, global_x64):
    n, d, metric = CASES[case]
    x, y, v = _data(n, d)
    with jax.enable_x64(True):
        h = 1e-5
        xp, xm, yy = (jnp.asarray(a, jnp.float64) for a in (x + h * v, x - h * v, y))
        expected = (float(metric(xp, yy)) - float(metric(xm, yy))) / (2 * h)
    dtype = jnp.float64 if global_x64 else jnp.float32
    xs, ys = jnp.asarray(x, dtype), jnp.asarray(y, dtype)

    def f(x):
        return metric(x, ys)

    grad = jax.jit(jax.grad(f)) if jit else jax.grad(f)
    g = np.asarray(grad(xs), np.float64)
    assert np.isfinite(g).all()
    got = float(np.sum(g * v))
    rtol = 1e-6 if global_x64 else 2e-2
    assert abs(got - expected) <= rtol * max(abs(expected), 1e-3), (got, expected)


def test_trace_term_gradient_in_closed_form_against_finite_differences(rng):
    """d tr sqrt(Σx Σy) = (1/2) tr(Gx dΣx + Gy dΣy), checked on both arguments."""
    from jaxmetrics._src import linalg as _linalg

    a, b = rng.normal(size=(40, 6)), rng.normal(size=(40, 6))
    sx, sy = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    dx = rng.normal(size=(6, 6))
    dx = dx + dx.T
    with jax.enable_x64(True):

        def f(s, t):
            return _linalg.trace_sqrt_product(jnp.asarray(s), jnp.asarray(t))

        h = 1e-6
        for arg in (0, 1):
            plus = [sx, sy]
            minus = [sx, sy]
            plus[arg] = plus[arg] + h * dx
            minus[arg] = minus[arg] - h * dx
            expected = (float(f(*plus)) - float(f(*minus))) / (2 * h)
            _, got = jax.jvp(
                f,
                (jnp.asarray(sx), jnp.asarray(sy)),
                tuple(jnp.asarray(dx if i == arg else np.zeros_like(dx)) for i in (0, 1)),
            )
            np.testing.assert_allclose(float(got), expected, rtol=1e-6)


_VMAP_SCRIPT = textwrap.dedent(
    """
    import numpy as np, jax, jaxmetrics as jm
    x = np.random.default_rng(0).normal(size=(3, 400, 200)).astype(np.float32)
    y = np.random.default_rng(1).normal(size=(3, 400, 200)).astype(np.float32)
    out = jax.jit(jax.vmap(jm.frechet_distance))(x, y)
    single = [float(jm.frechet_distance(a, b, precision="float32")) for a, b in zip(x, y)]
    assert np.allclose(np.asarray(out), single, rtol=1e-4), (out, single)
    print("ok")
    """
)


@pytest.mark.slow
def test_jit_vmap_of_frechet_distance_never_hangs():
    """Before the sequential vmap rule, 4 of 5 fresh processes hung here
    (two batched LAPACK kernels waiting for each other's XLA threads)."""
    for attempt in range(8):
        try:
            done = subprocess.run(
                [sys.executable, "-c", _VMAP_SCRIPT],
                capture_output=True,
                text=True,
                timeout=120,
                env={**os.environ, "JAX_PLATFORMS": "cpu"},
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"jit(vmap(frechet_distance)) hung in fresh process {attempt + 1} of 8")
        assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-2000:]
