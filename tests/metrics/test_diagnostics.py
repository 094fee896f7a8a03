"""Per-window diagnostics against brute-force NumPy searches and PRDC's own values."""

from __future__ import annotations

import numpy as np
import prdc as prdc_package
import pytest

import jaxmetrics as jm


def _brute(x, y):
    """All Euclidean distances between rows of ``y`` and ``x``, in float64."""
    return np.sqrt(((y[:, None, :] - x[None, :, :]) ** 2).sum(-1))


def _radii(x, k):
    d = _brute(x, x)
    return np.sort(d, axis=1)[:, k]  # column 0 is the row itself


def _sets(kind, rng):
    if kind == "gaussian":
        return rng.normal(size=(180, 6)), rng.normal(0.4, size=(150, 6))
    if kind == "lattice":  # ties everywhere: integer grid data
        return (
            rng.integers(0, 4, size=(160, 3)).astype(float),
            rng.integers(0, 5, size=(140, 3)).astype(float),
        )
    x = rng.normal(size=(170, 5))  # duplicated rows and copies of references
    y = np.concatenate([x[:20], x[:20], rng.normal(size=(100, 5))])
    return np.concatenate([x, x[:10]]), y


@pytest.mark.parametrize("kind", ["gaussian", "lattice", "duplicates"])
def test_memberships_add_up_to_prdc_exactly(kind):
    x, y = _sets(kind, np.random.default_rng(3))
    k = 5
    d = jm.window_diagnostics(x, y, k=k)
    ours = jm.prdc(x, y, k=k)
    m, n = y.shape[0], x.shape[0]
    assert np.sum(d.in_manifold) / m == float(ours.precision)
    assert (1.0 / k) * (np.sum(d.ball_count, dtype=np.float64) / m) == float(ours.density)
    assert np.sum(d.covered) / n == float(ours.coverage)
    assert np.sum(d.in_candidate_manifold) / n == float(ours.recall)
    package = prdc_package.compute_prdc(x, y, k)
    assert np.sum(d.in_manifold) / m == package["precision"]
    assert np.sum(d.covered) / n == package["coverage"]
    assert np.sum(d.in_candidate_manifold) / n == package["recall"]
    # the ball counts themselves, pair by pair
    radii = _radii(x, k)
    expected = (_brute(x, y) < radii[None, :]).sum(axis=1)
    np.testing.assert_array_equal(d.ball_count, expected)


def test_nearest_reference_is_the_brute_force_one():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(230, 7)), rng.normal(0.2, size=(190, 7))
    d = jm.window_diagnostics(x, y, k=3, block_size=64)
    dist = _brute(x, y)
    np.testing.assert_array_equal(d.nearest, dist.argmin(axis=1))
    np.testing.assert_allclose(d.nearest_distance, dist.min(axis=1), rtol=1e-13)


def test_nearest_takes_the_first_of_tied_references():
    x = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 0.0], [5.0, 5.0], [0.0, 3.0], [2.0, 2.0]])
    y = np.array([[1.0, 0.0], [0.5, 0.0], [4.0, 4.0], [9.0, 9.0], [0.0, 0.0]])
    d = jm.window_diagnostics(x, y, k=1)
    np.testing.assert_array_equal(d.nearest, [1, 0, 3, 3, 0])
    assert d.nearest_distance[0] == 0.0
    # on x[0], whose ball (radius 1, below the median) is kept: infinitely real;
    # on the duplicated x[1] = x[2], whose balls are empty (radius 0): finite
    assert np.isinf(d.realism[4])
    assert np.isfinite(d.realism[0])


def test_realism_is_kynkaanniemi_with_the_larger_half_of_the_balls_dropped():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(200, 4)), rng.normal(0.3, size=(120, 4))
    k = 4
    d = jm.window_diagnostics(x, y, k=k)
    radii = _radii(x, k)
    kept = radii <= np.median(radii)
    expected = (radii[kept][None, :] / _brute(x, y)[:, kept]).max(axis=1)
    np.testing.assert_allclose(d.realism, expected, rtol=1e-13)
    # inside a kept ball iff realism > 1
    inside = (_brute(x, y)[:, kept] < radii[kept][None, :]).any(axis=1)
    np.testing.assert_array_equal(d.realism > 1, inside)


def test_copies_of_reference_windows_are_flagged_and_other_files_set_the_threshold():
    rng = np.random.default_rng(2)
    groups = np.repeat(np.arange(60), 3)  # 60 reference files of 3 windows
    centres = rng.normal(size=(60, 8)) * 3
    x = centres[groups] + 0.1 * rng.normal(size=(180, 8))
    fresh = rng.normal(size=(40, 8)) * 3
    y = np.concatenate([x[:10] + 1e-6, fresh])
    d = jm.window_diagnostics(x, y, k=5, reference_groups=groups)
    # the reference's own nearest neighbours are in other files
    dist = _brute(x, x)
    dist[groups[:, None] == groups[None, :]] = np.inf
    np.testing.assert_array_equal(d.reference_nearest, dist.argmin(axis=1))
    np.testing.assert_allclose(d.reference_nearest_distance, dist.min(axis=1), rtol=1e-13)
    assert d.copy_threshold == pytest.approx(np.quantile(dist.min(axis=1), 0.05), rel=1e-12)
    assert d.likely_copy[:10].all()
    assert d.likely_copy[10:].mean() < 0.2


def test_batch_equals_single_calls_and_padding_is_ignored():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(120, 5))
    sets = [rng.normal(0.1 * i, size=(m, 5)) for i, m in enumerate((60, 45, 80))]
    batch = jm.window_diagnostics_batch(x, sets, k=4)
    for one, y in zip(batch, sets, strict=True):
        single = jm.window_diagnostics(x, y, k=4)
        for name in single._fields:
            np.testing.assert_array_equal(getattr(one, name), getattr(single, name), err_msg=name)


def test_the_input_is_not_modified_and_bad_input_is_named():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(50, 3)), rng.normal(size=(40, 3))
    before = (x.copy(), y.copy())
    jm.window_diagnostics(x, y, k=3)
    np.testing.assert_array_equal(x, before[0])
    np.testing.assert_array_equal(y, before[1])
    with pytest.raises(ValueError, match="reference_groups"):
        jm.window_diagnostics(x, y, k=3, reference_groups=np.zeros(10, int))
    with pytest.raises(ValueError, match="copy_quantile"):
        jm.window_diagnostics(x, y, k=3, copy_quantile=1.5)
    with pytest.raises(ValueError, match="candidate"):
        jm.window_diagnostics(x, y[:3], k=3)
    with pytest.raises(ValueError, match="reference"):
        jm.window_diagnostics(x[:, :2], y, k=3)
