"""Whole-set MMD² and KAD against plain NumPy formulas and kadtk's."""

from __future__ import annotations

import numpy as np
import pytest
import references as ref

import jaxmetrics as jm
from jaxmetrics._src import routing

# Both sides sum the same float64 kernel values in different orders; sums of
# ~1e6 terms of size ~1 agree to ~1e-13 relative. The MMD² is a difference of
# such sums, so compare with an absolute tolerance scaled by the kernel size.
ATOL_KD = 1e-11


@pytest.mark.parametrize("estimator", ["unbiased", "biased", "u-statistic"])
def test_mmd2_polynomial_matches_numpy(rng, estimator):
    x = rng.normal(size=(150, 20))
    y = rng.normal(0.2, size=(150, 20))
    kxx, kxy, kyy = (ref.polynomial_kernel(a, b) for a, b in ((x, x), (x, y), (y, y)))
    expected = ref.mmd2(kxx, kxy, kyy, estimator)
    got = float(jm.mmd2(x, y, estimator=estimator))
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=ATOL_KD)


def test_mmd2_unequal_sizes_and_blocks(rng, monkeypatch):
    # Force tiny row blocks so the blocked accumulation and its padding are used.
    monkeypatch.setattr(routing, "KERNEL_BLOCK_ENTRIES", 64 * 37)
    x = rng.normal(size=(101, 7))
    y = rng.normal(size=(37, 7)) * 1.5
    kxx, kxy, kyy = (
        ref.polynomial_kernel(a, b, degree=2, gamma=0.3, coef0=0.5)
        for a, b in ((x, x), (x, y), (y, y))
    )
    expected = ref.mmd2(kxx, kxy, kyy)
    got = float(jm.mmd2(x, y, degree=2, gamma=0.3, coef0=0.5))
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=ATOL_KD)


def test_mmd2_rbf_with_median_heuristic(rng):
    x = rng.normal(size=(120, 5))
    y = rng.normal(0.5, size=(90, 5))
    d = np.sqrt(((y[:, None] - y[None]) ** 2).sum(-1))
    bandwidth = np.median(d[np.triu_indices(len(y), 1)])
    np.testing.assert_allclose(float(jm.median_pairwise_distance(y)), bandwidth, rtol=1e-12)
    kxx, kxy, kyy = (ref.rbf_kernel(a, b, bandwidth) for a, b in ((x, x), (x, y), (y, y)))
    expected = ref.mmd2(kxx, kxy, kyy)
    np.testing.assert_allclose(float(jm.mmd2(x, y, kernel="rbf")), expected, rtol=1e-10)
    np.testing.assert_allclose(
        float(jm.mmd2(x, y, kernel="rbf", bandwidth=2.0)),
        ref.mmd2(*(ref.rbf_kernel(a, b, 2.0) for a, b in ((x, x), (x, y), (y, y)))),
        rtol=1e-10,
    )


def _kadtk_formula(x, y, sigma):
    """kadtk's calc_kernel_audio_distance restated in NumPy float64 (its Gram formula)."""
    gamma = 1.0 / (2.0 * sigma**2 + 1e-8)

    def kernel(a, b):
        d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
        return np.exp(-gamma * d2)

    m, n = len(x), len(y)
    kxx, kyy = kernel(x, x), kernel(y, y)
    np.fill_diagonal(kxx, 0.0)
    np.fill_diagonal(kyy, 0.0)
    return 100.0 * (kxx.sum() / (m * (m - 1)) + kyy.sum() / (n * (n - 1)) - 2 * kernel(x, y).mean())


def test_kad_preset_reproduces_kadtk(rng):
    from scipy.spatial.distance import pdist

    x = rng.normal(size=(300, 16))
    y = rng.normal(size=(250, 16)) * 1.1 + 0.05
    dist = np.sort(pdist(y))
    sigma = dist[(dist.size - 1) // 2]  # torch.median: the lower median
    np.testing.assert_allclose(float(jm.kad(x, y)), _kadtk_formula(x, y, sigma), rtol=1e-11)
    np.testing.assert_allclose(
        float(jm.kad(x, y, bandwidth=2.5)), _kadtk_formula(x, y, 2.5), rtol=1e-11
    )
    with pytest.raises(ValueError, match="median pairwise distance of candidate is 0"):
        jm.kad(x, np.ones((10, 16)))
