"""PRDC against the prdc package (Naeem et al.'s reference code)."""

from __future__ import annotations

import numpy as np
import pytest
from prdc import compute_prdc

import jaxmetrics as jm


def _reference(real, fake, k):
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):  # the package prints sizes
        return compute_prdc(real, fake, k)


@pytest.mark.parametrize(
    "n,m,d,k,block",
    [(300, 250, 16, 5, 2048), (300, 250, 16, 5, 64), (517, 389, 32, 3, 100), (200, 400, 8, 1, 33)],
)
def test_matches_prdc_package_exactly(rng, n, m, d, k, block):
    real = rng.normal(size=(n, d))
    fake = rng.normal(0.3, 1.1, size=(m, d))
    expected = _reference(real, fake, k)
    got = jm.prdc(real, fake, k=k, block_size=block)
    for name in ("precision", "recall", "density", "coverage"):
        # Exact: the metrics are counts of strict comparisons over the same
        # float64 squared distances, divided by the same integers.
        assert float(getattr(got, name)) == expected[name], name


def test_float32_embeddings(rng):
    real = rng.normal(size=(400, 64)).astype(np.float32)
    fake = (rng.normal(size=(300, 64)) * 0.9).astype(np.float32)
    expected = _reference(real, fake, 5)
    got = jm.prdc(real, fake, k=5)
    for name in ("precision", "recall", "density", "coverage"):
        assert float(getattr(got, name)) == expected[name], name


def test_duplicates_and_ranges(rng):
    base = rng.normal(size=(60, 4))
    real = np.concatenate([base, base[:10]])  # duplicated rows: zero distances
    fake = rng.normal(size=(80, 4))
    expected = _reference(real, fake, 4)
    got = jm.prdc(real, fake, k=4, block_size=16)
    for name in ("precision", "recall", "density", "coverage"):
        assert float(getattr(got, name)) == expected[name], name
    for value in (got.precision, got.recall, got.coverage):
        assert 0.0 <= float(value) <= 1.0
    assert float(got.density) >= 0.0


def test_identical_sets_are_perfect(rng):
    x = rng.normal(size=(100, 5))
    got = jm.prdc(x, x, k=3)
    assert float(got.precision) == 1.0 and float(got.recall) == 1.0
    assert float(got.coverage) == 1.0


def test_bad_k(rng):
    x = rng.normal(size=(5, 3))
    with pytest.raises(ValueError, match="k=5 must be smaller than the number of reference rows"):
        jm.prdc(x, rng.normal(size=(50, 3)), k=5)
    with pytest.raises(ValueError, match="candidate rows"):
        jm.prdc(rng.normal(size=(50, 3)), x, k=5)
    with pytest.raises(ValueError, match="k must be >= 1"):
        jm.prdc(x, x, k=0)


# --------------------------------------------------------------------------
# The screening bound and the difference formula
# --------------------------------------------------------------------------


def _bounds_and_exact(x):
    """Float32 tile bounds and exact (integer) squared distances of rows ``x``."""
    import jax
    import jax.numpy as jnp
    import oracle

    from jaxmetrics._src import distance_bounds as db
    from jaxmetrics._src import linalg as _linalg

    with jax.enable_x64(True):
        rows = jnp.asarray(x)
        scaling = db.normalise(rows, rows[None], jnp.asarray([len(x)]), jnp.float64)
        ref = db.scaled(rows, scaling)
        scr = db.screen(ref, scaling.mu)
        inner = _linalg.matmul(scr.rows, scr.rows.T)
        low = np.asarray(db.lower(inner, scr.low, scr.low), np.float64)
        high = np.asarray(db.upper(inner, scr.high, scr.high), np.float64)
        formula = np.asarray(db.pair_sq_distances(ref[:, None, :], ref[None, :, :]))
        scaled = np.asarray(ref)
    (ints,) = oracle.exact_integers(scaled)
    exact = oracle.sq_distances(ints, ints)
    return low, high, formula, exact, scaled


@pytest.mark.parametrize("kind", ["gaussian", "offset", "float32", "lattice", "wide", "tiny"])
def test_float32_bounds_enclose_the_difference_formula(rng, kind):
    from fractions import Fraction

    d = 2048 if kind == "wide" else 64
    x = rng.normal(size=(120, d))
    if kind == "offset":
        x = 50.0 + x * 1e-2
    elif kind == "float32":
        x = x.astype(np.float32).astype(np.float64)
    elif kind == "lattice":
        x = rng.integers(-3, 4, size=(120, d)).astype(np.float64)
    elif kind == "tiny":
        x = x * 1e-200
    low, high, formula, exact, scaled = _bounds_and_exact(x)
    assert (low <= formula).all() and (formula <= high).all()
    # The formula is within its stated relative error of exact arithmetic.
    unit = Fraction(2) ** int(np.frexp(np.abs(scaled[scaled != 0]).min())[1] - 53)
    levels = (d - 1).bit_length()
    gamma = (levels + 3) * 2.0**-53 / (1 - (levels + 3) * 2.0**-53)
    i, j = np.triu_indices(len(x), 1)
    for a, b in list(zip(i, j, strict=True))[:2000]:
        true = exact[a, b] * unit**2
        assert abs(Fraction(float(formula[a, b])) - true) <= Fraction(gamma) * true
    if kind == "lattice":  # integer data: the formula is exact
        np.testing.assert_array_equal(formula, (exact * unit**2).astype(float))


def test_difference_formula_has_the_same_bits_in_any_shape(rng):
    import jax
    import jax.numpy as jnp

    from jaxmetrics._src.distance_bounds import pair_sq_distances

    for d in (1, 5, 100, 512, 1000):
        a, b = rng.normal(size=(64, d)), rng.normal(size=(64, d))
        with jax.enable_x64(True):
            rows = np.asarray(pair_sq_distances(jnp.asarray(a), jnp.asarray(b)))
            grid = np.asarray(pair_sq_distances(jnp.asarray(a)[:, None], jnp.asarray(b)[None]))
            one = [float(pair_sq_distances(jnp.asarray(a[i]), jnp.asarray(b[i]))) for i in (0, 9)]
            symmetric = np.asarray(pair_sq_distances(jnp.asarray(b), jnp.asarray(a)))
        np.testing.assert_array_equal(rows, np.diagonal(grid))
        np.testing.assert_array_equal(rows, symmetric)
        assert one == [rows[0], rows[9]]


@pytest.mark.parametrize("kind", ["lattice", "duplicates", "perturbed", "offset", "float32"])
def test_results_do_not_depend_on_the_block_size(rng, kind):
    real = _adversarial(rng, kind, 230, 6)
    fake = _adversarial(rng, kind, 170, 6)
    if kind == "perturbed":
        fake = real[:170] * (1.0 + 1e-7 * rng.standard_normal((170, 6)))
    blocks = (8, 64, 229)
    results = {tuple(float(v) for v in jm.prdc(real, fake, k=4, block_size=b)) for b in blocks}
    assert len(results) == 1


def _adversarial(rng, kind, n, d):
    if kind == "lattice":  # exact arithmetic: masses of exact ties at the radii
        return rng.integers(-2, 3, size=(n, d)).astype(np.float64)
    if kind == "duplicates":  # exact zero distances, radii of exactly 0
        base = rng.integers(-3, 4, size=(n // 4, d)).astype(np.float64)
        return base[rng.integers(0, n // 4, size=n)]
    if kind == "perturbed":  # near-ties 1e-7 apart: open in float32
        base = rng.integers(-2, 3, size=(n, d)).astype(np.float64)
        return base * (1.0 + 1e-7 * rng.standard_normal((n, d)))
    if kind == "offset":  # a large common offset: the bound is relative to the spread
        return 1e3 + rng.normal(size=(n, d))
    if kind == "float32":
        return rng.normal(size=(n, d)).astype(np.float32)
    raise ValueError(kind)


@pytest.mark.parametrize("d,block", [(2048, 96), (700, 2048), (33, 40)])
def test_large_d_and_odd_blocks_match_the_package(rng, d, block):
    # At d = 2048 the bound is ~1.5e-4 relative: many open comparisons.
    real = rng.normal(size=(260, d)) * np.linspace(1.0, 0.1, d)
    fake = rng.normal(0.05, 1.0, size=(190, d)) * np.linspace(1.0, 0.1, d)
    got = jm.prdc(real, fake, k=5, block_size=block)
    expected = _reference(real, fake, 5)
    for name in FIELDS:
        assert float(getattr(got, name)) == expected[name], name


FIELDS = ("precision", "recall", "density", "coverage")


def test_same_result_inside_a_callers_jit(rng):
    # Inside a caller's jit the set sizes are constants; the divisions must
    # stay divisions (a reciprocal multiply was 1 ulp off: 0.9400000000000001).
    import jax

    x, y = rng.normal(size=(60, 4)), rng.normal(size=(50, 4))
    eager = [float(v) for v in jm.prdc(x, y, k=3)]
    with jax.enable_x64(True):
        jitted = [float(v) for v in jax.jit(lambda a, b: jm.prdc(a, b, k=3))(x, y)]
    assert jitted == eager


@pytest.mark.parametrize(
    "scale,dtype,precision,as_jax",
    [
        (2.0**-1040, np.float64, "float64", False),  # subnormal float64
        (2.0**-1040, np.float64, "float64", True),
        (2.0**-140, np.float32, "float32", False),  # subnormal float32
        (2.0**-140, np.float32, "float32", True),
        (2.0**200, np.float64, "float32", False),  # beyond float32's range
        (2.0**1000, np.float64, "float64", True),
    ],
)
def test_lattice_at_the_ends_of_the_format(rng, scale, dtype, precision, as_jax):
    # XLA:CPU flushes subnormals to zero; PRDC is scale-invariant, so a lattice
    # scaled by a power of two (exact, even into the subnormal range) must give
    # the unscaled lattice's values, which the exact integer oracle certifies.
    import jax
    import jax.numpy as jnp
    import oracle

    a = rng.integers(-2, 3, (150, 3))
    b = rng.integers(-2, 3, (300, 3))
    exact = oracle.prdc(a.astype(np.float64), b.astype(np.float64), 5)
    expected = dict(zip(FIELDS, exact, strict=True))
    x, y = (np.ldexp(v.astype(np.float64), int(np.log2(scale))).astype(dtype) for v in (a, b))
    assert (np.abs(x[x != 0]) > 0).all()  # the scaled data really are representable
    kept = x.copy()
    with jax.enable_x64(True):
        args = (jnp.asarray(x), jnp.asarray(y)) if as_jax else (x, y)
        got = jm.prdc(*args, k=5, precision=precision)
        stack = jm.prdc_batch(args[0], np.asarray(args[1])[None], k=5, precision=precision)
    tol = 1e-6 if precision == "float32" else 0.0
    for name in FIELDS:
        assert abs(float(getattr(got, name)) - expected[name]) <= tol, name
        assert abs(float(getattr(stack, name)[0]) - expected[name]) <= tol, name
    np.testing.assert_array_equal(x, kept)  # the caller's array is not modified
