"""Bad input fails fast, before tracing, with the argument and the problem named."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmetrics as jm
from jaxmetrics.metrics import frechet as _frechet

GOOD = np.random.default_rng(0).normal(size=(20, 4))


def _with_nans(rows):
    bad = GOOD.copy()
    bad[rows, 1] = np.nan
    return bad


ENTRY_POINTS = {
    "frechet_distance": lambda a, b: jm.frechet_distance(a, b),
    "kernel_distance": lambda a, b: jm.kernel_distance(a, b, num_subsets=2, subset_size=4),
    "mmd2": lambda a, b: jm.mmd2(a, b),
    "prdc": lambda a, b: jm.prdc(a, b, k=3),
    "apa": lambda a, b: jm.apa(a, b, GOOD),
}
FIRST_NAME = {"prdc": "reference", "apa": "candidate"}
SECOND_NAME = {"prdc": "candidate", "apa": "reference"}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_nan_rows_are_counted_and_located(entry):
    fn = ENTRY_POINTS[entry]
    first = FIRST_NAME.get(entry, "x")
    with pytest.raises(
        ValueError, match=rf"{first} has 2 row\(s\) with NaN or inf values \(first at row index 3\)"
    ):
        fn(_with_nans([3, 11]), GOOD)
    inf = GOOD.copy()
    inf[5, 0] = np.inf
    second = SECOND_NAME.get(entry, "y")
    with pytest.raises(ValueError, match=rf"{second} has 1 row\(s\).*row index 5"):
        fn(GOOD, inf)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_shapes(entry):
    fn = ENTRY_POINTS[entry]
    first = FIRST_NAME.get(entry, "x")
    with pytest.raises(
        ValueError, match=rf"{first} must be 2-D with shape \(n, d\), got shape \(20,\)"
    ):
        fn(GOOD[:, 0], GOOD)
    with pytest.raises(ValueError, match=rf"{first} must be 2-D.*\(2, 20, 4\)"):
        fn(np.stack([GOOD, GOOD]), GOOD)
    with pytest.raises(ValueError, match="must have the same embedding dimension, got 3 and 4"):
        fn(GOOD[:, :3], GOOD)
    with pytest.raises(ValueError, match=rf"{first} is empty"):
        fn(GOOD[:0], GOOD)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_dtypes(entry):
    fn = ENTRY_POINTS[entry]
    first = FIRST_NAME.get(entry, "x")
    with pytest.raises(TypeError, match=rf"{first} must have a real numeric dtype, got complex128"):
        fn(GOOD.astype(complex), GOOD)
    with pytest.raises(TypeError, match=rf"{first} must have a real numeric dtype, got bool"):
        fn(GOOD > 0, GOOD)
    with pytest.raises(TypeError, match=rf"{first} must have a real numeric dtype, got <U"):
        fn(GOOD.astype(str), GOOD)
    with pytest.raises(TypeError, match=rf"{first} must be an array"):
        fn(object(), GOOD)


def test_too_few_rows_for_covariance():
    with pytest.raises(ValueError, match="y needs at least 2 rows to estimate a covariance, got 1"):
        jm.frechet_distance(GOOD, GOOD[:1])
    with pytest.raises(ValueError, match="x needs at least 2 rows"):
        jm.gaussian_stats(GOOD[:1])


def test_integer_input_is_promoted():
    ints = np.arange(40).reshape(10, 4) % 7
    value = jm.frechet_distance(ints, ints + 1)
    assert value.dtype == jnp.float64
    np.testing.assert_allclose(float(value), 4.0, rtol=1e-10)


def test_jax_array_inputs_are_checked_too():
    bad = jnp.asarray(_with_nans([2]))
    with pytest.raises(ValueError, match=r"x has 1 row\(s\).*row index 2"):
        jm.frechet_distance(bad, GOOD)


def test_unknown_precision():
    with pytest.raises(ValueError, match="precision must be 'float64' or 'float32', got 'half'"):
        jm.frechet_distance(GOOD, GOOD, precision="half")


def test_errors_raise_before_compilation():
    before = _frechet._frechet_via_stats._cache_size()
    with pytest.raises(ValueError):
        jm.frechet_distance(_with_nans([0]), GOOD)
    assert _frechet._frechet_via_stats._cache_size() == before


def test_mismatched_stats():
    a = jm.gaussian_stats(GOOD)
    with pytest.raises(ValueError, match="covariance shape"):
        jm.frechet_distance_from_stats(jm.GaussianStats(a.count, a.mean, a.covariance[:3]), a)


@pytest.mark.parametrize("as_jax", [False, True])
@pytest.mark.parametrize("field", ["mean", "covariance"])
def test_non_finite_stats_are_rejected(as_jax, field):
    """Statistics with NaN/inf (numpy or JAX arrays) fail with the argument and field
    named, before any computation, for every entry point that takes statistics."""
    good = jm.GaussianStats(*map(np.asarray, jm.gaussian_stats(GOOD)))
    value = np.array(getattr(good, field))
    value.flat[1] = np.nan if field == "mean" else np.inf
    if as_jax:
        with jax.enable_x64(True):
            value = jnp.asarray(value)
    bad = good._replace(**{field: value})
    message = rf"b\.{field} has NaN or inf values"
    with pytest.raises(ValueError, match=message):
        jm.frechet_distance_from_stats(good, bad)
    with pytest.raises(ValueError, match=message):
        jm.merge_stats(good, bad)
    with pytest.raises(ValueError, match=rf"a\.{field} has NaN or inf values"):
        jm.frechet_distance_from_stats(bad, good)


# --------------------------------------------------------------------------
# Hyper-parameters, statistics, keys and narrow floats
# --------------------------------------------------------------------------

KERNEL_CALLS = {
    "mmd2": lambda **kw: jm.mmd2(GOOD, GOOD * 1.1, **kw),
    "kernel_distance": lambda **kw: jm.kernel_distance(
        GOOD, GOOD * 1.1, num_subsets=2, subset_size=4, **kw
    ),
    "kernel_distance_batch": lambda **kw: jm.kernel_distance_batch(
        GOOD, [GOOD * 1.1], num_subsets=2, subset_size=4, **kw
    ),
    "mmd2_sweep": lambda **kw: jm.mmd2_sweep(GOOD, GOOD * 1.1, **kw),
}


@pytest.mark.parametrize("call", KERNEL_CALLS)
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"gamma": 0.0}, "gamma must be > 0"),
        ({"gamma": -1.0}, "gamma must be > 0"),
        ({"gamma": np.nan}, "gamma must be"),
        ({"coef0": np.nan}, "coef0 must be"),
        ({"kernel": "rbf", "bandwidth": 0.0}, "bandwidth must be"),
        ({"kernel": "rbf", "bandwidth": -2.0}, "bandwidth must be"),
        ({"kernel": "rbf", "bandwidth": np.nan}, "bandwidth must be"),
    ],
)
def test_invalid_kernel_parameters_are_errors(call, kwargs, message):
    with pytest.raises(ValueError, match=message):
        KERNEL_CALLS[call](**kwargs)


def test_rbf_median_of_identical_rows_is_an_error():
    same = np.ones((10, 4))
    with pytest.raises(ValueError, match="median pairwise distance of y is 0.*bandwidth="):
        jm.mmd2(GOOD, same, kernel="rbf")
    with pytest.raises(ValueError, match=r"candidates\[0\] is 0"):
        jm.kernel_distance_batch(GOOD, [same], kernel="rbf", num_subsets=2, subset_size=4)


def test_invalid_statistics_are_errors():
    good = jm.gaussian_stats(GOOD)
    d = GOOD.shape[1]
    with pytest.raises(ValueError, match=r"a.count must be a finite number >= 1"):
        jm.merge_stats(jm.GaussianStats(0.0, good.mean, good.covariance), good)
    with pytest.raises(ValueError, match="not positive semi-definite|negative variance"):
        jm.frechet_distance_from_stats(jm.GaussianStats(10.0, np.zeros(d), -np.eye(d)), good)
    indefinite = np.eye(d)
    indefinite[0, 1] = indefinite[1, 0] = 2.0  # eigenvalues -1, 1, 1, 3
    with pytest.raises(ValueError, match="b.covariance is not positive semi-definite"):
        jm.frechet_distance_from_stats(good, jm.GaussianStats(10.0, np.zeros(d), indefinite))
    skew = np.eye(d)
    skew[0, 1] = 0.5
    with pytest.raises(ValueError, match="b.covariance is not symmetric"):
        jm.frechet_distance_from_stats(good, jm.GaussianStats(10.0, np.zeros(d), skew))
    # Singular but PSD statistics (fewer rows than dimensions) are fine.
    few = jm.gaussian_stats(GOOD[:3])
    assert float(jm.frechet_distance_from_stats(few, good)) > 0


def test_keys_and_seeds():
    opts = {"num_subsets": 3, "subset_size": 5, "return_values": True}
    by_seed = jm.kernel_distance(GOOD, GOOD * 1.1, key=7, **opts)[1]
    by_key = jm.kernel_distance(GOOD, GOOD * 1.1, key=jax.random.key(7), **opts)[1]
    legacy = jm.kernel_distance(GOOD, GOOD * 1.1, key=jax.random.PRNGKey(7), **opts)[1]
    np.testing.assert_array_equal(np.asarray(by_seed), np.asarray(by_key))
    np.testing.assert_array_equal(np.asarray(legacy), np.asarray(by_key))
    with pytest.raises(TypeError, match="key must be jax.random.key"):
        jm.kernel_distance(GOOD, GOOD, key="seven", **opts)
    with pytest.raises(ValueError, match="key as an integer seed must be >= 0"):
        jm.kernel_distance(GOOD, GOOD, key=-1, **opts)


def test_bfloat16_input_is_computed_in_full_precision():
    low = jnp.asarray(GOOD, jnp.bfloat16)
    wide = np.asarray(low, np.float32)
    assert float(jm.frechet_distance(low, low * 1.5)) == pytest.approx(
        float(jm.frechet_distance(wide, np.asarray(low * 1.5, np.float32))), rel=1e-12
    )
    as_numpy = np.asarray(low)  # ml_dtypes bfloat16 array
    got = jm.prdc(as_numpy, as_numpy, k=3)
    assert float(got.precision) == 1.0
