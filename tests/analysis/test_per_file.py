"""Per-file FAD against fadtk's formula, and the per-file table against a NumPy loop.

fadtk 1.1.0 does not import here (its fad.py imports torchaudio at the top),
so its ``calc_embd_statistics`` and ``calc_frechet_distance`` (the
eigenvalue route it reports) are restated below, line for line in NumPy/SciPy.
"""

from __future__ import annotations

import numpy as np
import oracle
import pytest
import scipy.linalg
from numpy.lib.scimath import sqrt as scisqrt
from references import frechet_svd

import jaxmetrics as jm
from jaxmetrics.analysis.per_file import as_rows


def _fadtk_statistics(embd):
    assert embd.shape[0] >= 2
    return np.mean(embd, axis=0), np.cov(embd, rowvar=False)


def _fadtk_frechet(mu1, cov1, mu2, cov2):
    diff = mu1 - mu2
    d, v = scipy.linalg.eig(cov1.dot(cov2))
    covmean = (v * scisqrt(d)) @ scipy.linalg.inv(v)
    covmean = covmean.real if np.iscomplexobj(covmean) else covmean
    return float(diff.dot(diff) + np.trace(cov1) + np.trace(cov2) - 2 * np.trace(covmean))


def test_file_fad_is_fadtks_score_individual():
    rng = np.random.default_rng(0)
    d = 6
    x = rng.normal(size=(400, d))
    sizes = rng.integers(10, 30, size=12)
    files = np.repeat(np.arange(12), sizes)
    y = rng.normal(0.5, 1.3, size=(files.size, d))
    ours = jm.file_frechet_distances(x, y, files)
    mu, cov = _fadtk_statistics(x)
    for f in range(12):
        expected = _fadtk_frechet(mu, cov, *_fadtk_statistics(y[files == f]))
        assert ours[f] == pytest.approx(expected, rel=1e-10)
    # statistics in, the same numbers out
    from_stats = jm.file_frechet_distances(jm.gaussian_stats(x), y, files)
    np.testing.assert_allclose(from_stats, ours, rtol=1e-12)


def test_files_shorter_than_the_dimension_and_single_windows():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(100, 8))
    files = np.array([0, 0, 0, 1, 2, 2])  # 3 windows < 8 dims; one window; two
    y = rng.normal(size=(6, 8))
    ours = jm.file_frechet_distances(x, y, files)
    assert np.isnan(ours[1])
    mu, cov = np.mean(x, 0), np.cov(x, rowvar=False)
    for f in (0, 2):
        rows = y[files == f]
        # singular covariance: the 40-digit oracle is the reference; fadtk's eig
        # route and an SVD in float64 are only good to ~1e-8 here
        assert ours[f] == pytest.approx(oracle.frechet_distance(rows, x), rel=1e-12)
        assert ours[f] == pytest.approx(
            frechet_svd(rows.mean(0), np.cov(rows, rowvar=False), mu, cov), rel=1e-6
        )


def test_file_table_against_a_numpy_loop_and_worst_first():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(150, 4))
    files = np.repeat(np.arange(20), 5)
    rng.shuffle(files)  # rows of a file need not be contiguous
    y = rng.normal(0.2, size=(100, 4))
    windows = jm.window_diagnostics(x, y, k=5)
    fad = jm.file_frechet_distances(x, y, files)
    table = jm.file_diagnostics(windows, files, fad)
    for f in range(20):
        rows = np.flatnonzero(files == f)
        assert table.windows[f] == rows.size
        assert table.in_manifold[f] == pytest.approx(windows.in_manifold[rows].mean())
        assert table.ball_count_mean[f] == pytest.approx(windows.ball_count[rows].mean())
        assert table.realism_min[f] == windows.realism[rows].min()
        assert table.realism_mean[f] == pytest.approx(windows.realism[rows].mean())
        best = rows[np.argmin(windows.nearest_distance[rows])]
        assert table.nearest[f] == windows.nearest[best]
        assert table.nearest_distance[f] == windows.nearest_distance[best]
        assert table.nearest_window[f] == np.flatnonzero(rows == best)[0]
        assert table.likely_copies[f] == windows.likely_copy[rows].sum()
    order = jm.worst_first(table)
    assert list(order) == list(np.argsort(-fad, kind="stable"))
    rows = as_rows(table, order)
    assert rows[0]["fad"] == fad.max() and isinstance(rows[0]["windows"], int)


def test_bad_file_indices_are_named():
    x, y = np.ones((10, 2)) * np.arange(10)[:, None], np.ones((4, 2)) * np.arange(4)[:, None]
    with pytest.raises(ValueError, match="candidate_files"):
        jm.file_frechet_distances(x, y, np.array([0, 0, 2, 2]))  # file 1 has no rows
    with pytest.raises(ValueError, match="candidate_files"):
        jm.file_frechet_distances(x, y, np.array([0, 1]))
