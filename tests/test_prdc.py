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


@pytest.mark.parametrize("width,k", [(40, 6), (2048, 6), (300, 3), (64, 1), (100, 8)])
def test_tile_k_smallest_keeps_ties(rng, width, k):
    from jaxmetrics._prdc import _k_smallest, _tile_k_smallest

    # Few distinct values: many ties, within and across groups of 32.
    values = rng.integers(0, 5, size=(50, width)).astype(np.float32)
    values[::7, ::3] = np.inf
    expected = np.sort(values, axis=1)[:, :k]
    np.testing.assert_array_equal(np.asarray(_tile_k_smallest(values, k)), expected)
    np.testing.assert_array_equal(np.asarray(_k_smallest(values, k)), expected)
    np.testing.assert_array_equal(
        np.asarray(_tile_k_smallest(values.T.copy(), k, axis=0)), expected
    )
