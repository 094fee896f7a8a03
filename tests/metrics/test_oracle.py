"""Property-based tests of PRDC and FAD against exact references (tests/oracle.py).

Inputs come from adversarial generators: exact ties on integer lattices,
duplicated rows within and across sets, identical "silent" rows, constant
columns, large exact offsets, scales from 1e-150 to 1e150, sizes from k+1 to
several tiles with odd remainders, float32 and float64. CI runs the
derandomised "ci" profile; ``pytest tests/metrics/test_oracle.py
--hypothesis-profile=long`` runs many more examples.

Sizes are drawn from a few values so that the jitted programs are compiled
a bounded number of times.
"""

from __future__ import annotations

import jax
import numpy as np
import oracle
import pytest
from hypothesis import given
from hypothesis import strategies as st

import jaxmetrics as jm

KINDS = (
    "lattice",
    "duplicates",
    "shared_rows",
    "silent",
    "constant_columns",
    "dyadic_offset",
    "scaled",
    "gaussian",
)
SIZES = (9, 17, 40, 67)
BLOCKS = (8, 13, 32, 1024)


def _rows(kind: str, rng: np.random.Generator, n: int, d: int, scale: float) -> np.ndarray:
    if kind == "lattice":
        return rng.integers(-2, 3, size=(n, d)).astype(np.float64)
    if kind == "duplicates":
        base = rng.integers(-3, 4, size=(max(n // 3, 1), d)).astype(np.float64)
        return base[rng.integers(0, base.shape[0], size=n)]
    if kind == "silent":
        x = rng.normal(size=(n, d))
        x[rng.random(n) < 0.5] = 0.0
        return x
    if kind == "constant_columns":
        x = rng.integers(-3, 4, size=(n, d)).astype(np.float64)
        x[:, ::2] = 7.0
        return x
    if kind == "dyadic_offset":
        return rng.integers(-64, 65, size=(n, d)) / 2.0**6
    if kind == "scaled":
        return rng.normal(size=(n, d)) * scale
    return rng.normal(size=(n, d))


@st.composite
def prdc_cases(draw):
    kind = draw(st.sampled_from(KINDS))
    k = draw(st.integers(1, 4))
    d = draw(st.sampled_from((1, 3, 6)))
    n = draw(st.sampled_from(SIZES))
    m = draw(st.sampled_from(SIZES))
    seed = draw(st.integers(0, 2**32 - 1))
    dtype = draw(st.sampled_from((np.float64, np.float32)))
    limit = 30 if dtype == np.float32 else 150  # float32 holds about 1e-38 .. 3e38
    scale = 10.0 ** draw(st.integers(-limit, limit))
    rng = np.random.default_rng(seed)
    real = _rows(kind, rng, n, d, scale)
    fake = _rows(kind, rng, m, d, scale)
    if kind == "shared_rows":  # identical rows across the sets, and within them
        real = rng.integers(-2, 3, size=(n, d)) * 0.5
        fake = rng.normal(size=(m, d))
        take = rng.random(m) < 0.5
        fake[take] = real[rng.integers(0, n, size=int(take.sum()))]
    offset = 0.0
    if kind in ("lattice", "dyadic_offset", "duplicates"):
        offset = float(draw(st.integers(-(10**8), 10**8)))
    if dtype == np.float32:  # the oracle sees the values the library sees
        real, fake = real.astype(np.float32), fake.astype(np.float32)
    return kind, real, fake, k, offset


def _values(result) -> tuple[float, ...]:
    return tuple(float(v) for v in result)


@given(case=prdc_cases(), block=st.sampled_from(BLOCKS))
def test_prdc_equals_exact_arithmetic(case, block):
    jax.clear_caches()  # every example compiles new shapes: see conftest
    kind, real, fake, k, offset = case
    expected = oracle.prdc(real, fake, k)
    assert _values(jm.prdc(real, fake, k=k, block_size=block)) == expected
    # Permuting the rows changes nothing.
    rng = np.random.default_rng(0)
    perm_r, perm_f = rng.permutation(len(real)), rng.permutation(len(fake))
    assert _values(jm.prdc(real[perm_r], fake[perm_f], k=k, block_size=block)) == expected
    if offset:  # an exact common translation changes nothing
        shifted_r = real.astype(np.float64) + offset
        shifted_f = fake.astype(np.float64) + offset
        assert (shifted_r - offset == real).all() and (shifted_f - offset == fake).all()
        assert _values(jm.prdc(shifted_r, shifted_f, k=k, block_size=block)) == expected


@given(case=prdc_cases(), block=st.sampled_from(BLOCKS))
def test_prdc_batch_and_evaluate_batch_equal_exact_arithmetic(case, block):
    jax.clear_caches()  # every example compiles new shapes: see conftest
    kind, real, fake, k, _ = case
    short = fake[: max(k + 1, len(fake) // 2)]  # a padded set beside a full one
    sets = [fake, short]
    expected = [oracle.prdc(real, s, k) for s in sets]
    batch = jm.prdc_batch(real, sets, k=k, block_size=block)
    got = [tuple(float(getattr(batch, f)[i]) for f in jm.PRDC._fields) for i in range(2)]
    assert got == expected
    if min(len(real), len(short)) > 2:
        full = jm.evaluate_batch(real, sets, k=k, block_size=block, num_subsets=2, subset_size=2)[
            "prdc"
        ]
        got = [tuple(float(getattr(full, f)[i]) for f in jm.PRDC._fields) for i in range(2)]
        assert got == expected


@pytest.mark.parametrize(
    "case",
    [
        # The reproductions of the exactness issue, with their exact values.
        "duplicated_reference",
        "repeated_first_hundred",
        "padded_float32",
        "integer_unequal_sizes",
        "offset_1e7",
        "scale_1e-155",
    ],
)
def test_reported_inputs(case):
    rng = np.random.default_rng(0)
    block = None
    if case == "duplicated_reference":
        base = rng.normal(size=(500, 8))
        real, fake = np.concatenate([base, base]), rng.normal(size=(500, 8))
        block = 64
    elif case == "repeated_first_hundred":
        x = np.random.default_rng(1).standard_normal((500, 64))
        real = np.concatenate([x, x[:100]])
        fake = np.random.default_rng(2).standard_normal((700, 64))
    elif case == "padded_float32":
        real, fake = rng.normal(size=(150, 8)), rng.normal(size=(300, 8))
    elif case == "integer_unequal_sizes":
        real = rng.integers(-2, 3, (150, 3)).astype(np.float64)
        fake = rng.integers(-2, 3, (300, 3)).astype(np.float64)
    elif case == "offset_1e7":
        real, fake = rng.normal(size=(300, 8)) + 1e7, rng.normal(size=(300, 8)) + 1e7
    else:
        real, fake = rng.normal(size=(300, 8)) * 1e-155, rng.normal(size=(300, 8)) * 1e-155
    expected = oracle.prdc(real, fake, 5)
    assert _values(jm.prdc(real, fake, k=5)) == expected
    if block:
        assert _values(jm.prdc(real, fake, k=5, block_size=block)) == expected
    if case == "padded_float32":  # float32 differences decide the same here
        got = _values(jm.prdc(real, fake, k=5, precision="float32"))
        np.testing.assert_allclose(got, expected, rtol=2e-7)  # float32 divisions


@st.composite
def fad_cases(draw):
    kind = draw(st.sampled_from(("gaussian", "duplicates", "offset", "scaled", "lattice")))
    d = draw(st.sampled_from((1, 3, 4)))
    n = draw(st.sampled_from((2, 3, 7, 20)))
    m = draw(st.sampled_from((2, 3, 7, 20)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = 10.0 ** draw(st.integers(-150, 150)) if kind == "scaled" else 1.0
    offset = 1e6 if kind == "offset" else 0.0
    if kind == "lattice":
        x = rng.integers(-3, 4, size=(n, d)).astype(np.float64)
        y = rng.integers(-3, 4, size=(m, d)).astype(np.float64)
    else:
        x = rng.normal(size=(n, d)) * scale + offset
        y = (rng.normal(size=(m, d)) * 1.3 + 0.2) * scale + offset
    if kind == "duplicates":
        x = x[rng.integers(0, max(n // 2, 1), size=n)]
    return x, y


@given(case=fad_cases(), method=st.sampled_from(("qr", "eigh", "svd")))
def test_fad_against_40_digit_arithmetic(case, method):
    jax.clear_caches()  # every example compiles new shapes: see conftest
    x, y = case
    expected = oracle.frechet_distance(x, y)
    got = float(jm.frechet_distance(x, y, method=method))
    # Error budget: the trace term cancels against the traces, so the error is
    # relative to their size (1e-10: the eigenvalue route squares a rounding
    # error, see test_linalg); the means are rounded to eps |mean| each.
    cx, cy = x - x.mean(0), y - y.mean(0)
    traces = (cx**2).sum() / (len(x) - 1) + (cy**2).sum() / (len(y) - 1)
    shift = np.abs(x.mean(0) - y.mean(0)).sum()
    rounding = 8 * 2.0**-52 * max(np.abs(x).max(), np.abs(y).max()) * (shift + np.sqrt(traces))
    assert abs(got - expected) <= 1e-10 * (traces + shift**2) + rounding, (got, expected)
