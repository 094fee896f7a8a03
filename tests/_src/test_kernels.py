"""The exact median pairwise distance (radix selection over distance tiles)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmetrics as jm

# Both sides sum the same float64 kernel values in different orders; sums of
# ~1e6 terms of size ~1 agree to ~1e-13 relative. The MMD² is a difference of
# such sums, so compare with an absolute tolerance scaled by the kernel size.
ATOL_KD = 1e-11


@pytest.mark.parametrize("n", [2, 3, 4, 57, 300, 600])
def test_median_pairwise_distance_is_exact_at_any_size(rng, n):
    from scipy.spatial.distance import pdist

    x = rng.normal(size=(n, 6))
    if n > 50:
        x[: n // 3] = x[0]  # a third identical rows: a mass of exact ties at 0
    dist = np.sort(pdist(x))
    lower = dist[(dist.size - 1) // 2]
    # The selection returns one of the distances; ours come from the Gram
    # formula of the centred rows, within a few ulps of pdist's differences.
    np.testing.assert_allclose(float(jm.median_pairwise_distance(x, lower=True)), lower, rtol=1e-13)
    np.testing.assert_allclose(float(jm.median_pairwise_distance(x)), np.median(dist), rtol=1e-13)
    got32 = float(jm.median_pairwise_distance(x, precision="float32", lower=True))
    np.testing.assert_allclose(got32, lower, rtol=1e-5)


def test_median_beyond_the_old_subsample_limit(rng):
    # 4,097 rows: every one of the 8.4 million pairs counts (no subsample).
    from scipy.spatial.distance import pdist

    x = rng.normal(size=(4097, 3)).astype(np.float32)
    expected = np.median(pdist(x.astype(np.float64)))
    np.testing.assert_allclose(float(jm.median_pairwise_distance(x)), expected, rtol=1e-13)


@pytest.mark.parametrize("n", [2, 5, 57, 600, 2100])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_radix_selection_returns_the_exact_order_statistic(rng, n, dtype):
    # On a small integer lattice every squared distance is computed exactly
    # (whatever the product's order), so the selection must return exactly the
    # entry of each rank of numpy's sort of the exact distances, whatever the
    # digit widths chosen for n and with masses of ties (a third of the rows
    # identical, many equal distances).
    from scipy.spatial.distance import pdist

    from jaxmetrics._src import kernels as _kernels

    x = rng.integers(-3, 4, size=(n, 6)).astype(np.float64)
    x[: n // 3] = x[0]
    exact = np.sort(pdist(x, "sqeuclidean"))
    pairs = exact.size
    ranks = sorted({0, (pairs - 1) // 2, pairs // 2, pairs - 1})
    with jax.enable_x64(True):
        got = _kernels._select_pair_distances(jnp.asarray(x, dtype), jnp.asarray(ranks))
    np.testing.assert_array_equal(np.asarray(got, np.float64), exact[ranks])
