"""Gaussian statistics and their associative merge."""

from __future__ import annotations

import functools

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxmetrics as jm


def test_matches_numpy(rng):
    x = rng.normal(size=(500, 12)).astype(np.float32)
    stats = jm.gaussian_stats(x)
    assert int(stats.count) == 500
    np.testing.assert_allclose(stats.mean, x.astype(np.float64).mean(0), rtol=1e-12)
    np.testing.assert_allclose(
        stats.covariance, np.cov(x.astype(np.float64), rowvar=False), rtol=1e-10, atol=1e-14
    )


def test_wide_embeddings_use_blocked_gram(rng):
    # d > 512 exercises the upper-block Gram assembly.
    x = rng.normal(size=(700, 600))
    np.testing.assert_allclose(
        jm.gaussian_stats(x).covariance, np.cov(x, rowvar=False), rtol=1e-10, atol=1e-13
    )


def test_large_offset_is_centred_first(rng):
    # E[xx^T] - mu mu^T would lose ~8 digits here; centring first does not.
    x = rng.normal(size=(1000, 4)) + 1e4
    np.testing.assert_allclose(jm.gaussian_stats(x).covariance, np.cov(x, rowvar=False), rtol=1e-8)


@settings(max_examples=15, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=2, max_value=40), min_size=2, max_size=5),
    seed=st.integers(0, 2**16),
)
def test_merge_equals_concatenation_in_any_order(sizes, seed):
    rng = np.random.default_rng(seed)
    parts = [rng.normal(rng.normal(), 2.0, size=(n, 5)) for n in sizes]
    stats = [jm.gaussian_stats(p) for p in parts]
    left = functools.reduce(jm.merge_stats, stats)
    right = functools.reduce(lambda a, b: jm.merge_stats(b, a), stats[::-1])
    whole = np.concatenate(parts)
    for merged in (left, right):
        assert int(merged.count) == len(whole)
        np.testing.assert_allclose(merged.mean, whole.mean(0), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(
            merged.covariance, np.cov(whole, rowvar=False), rtol=1e-9, atol=1e-11
        )


def test_merge_accepts_plain_triples_and_checks_dims(rng):
    a = jm.gaussian_stats(rng.normal(size=(10, 3)))
    merged = jm.merge_stats(tuple(a), a)
    assert int(merged.count) == 20
    b = jm.gaussian_stats(rng.normal(size=(10, 4)))
    with pytest.raises(ValueError, match="same embedding dimension"):
        jm.merge_stats(a, b)
    with pytest.raises(TypeError, match="GaussianStats"):
        jm.merge_stats(a, "nope")


def test_stats_are_a_pytree(rng):
    stats = jm.gaussian_stats(rng.normal(size=(10, 3)))
    leaves = jax.tree_util.tree_leaves(stats)
    assert len(leaves) == 3
    saved = {k: np.asarray(v) for k, v in stats._asdict().items()}
    restored = jm.GaussianStats(**saved)
    np.testing.assert_array_equal(restored.covariance, stats.covariance)
