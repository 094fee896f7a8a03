"""File-level bootstrap intervals: coverage by simulation, resamples that keep files whole."""

from __future__ import annotations

import numpy as np
import pytest

import jaxmetrics as jm


def test_resamples_take_whole_files_and_are_reproducible():
    files = np.array([0, 0, 0, 1, 2, 2, 3])
    idx, counts = jm.file_resamples(files, 50, seed=3)
    again, _ = jm.file_resamples(files, 50, seed=3)
    np.testing.assert_array_equal(idx, again)
    assert idx.shape[1] % 64 == 0
    for rows, n in zip(idx, counts, strict=True):
        drawn = files[rows[:n]]
        for f in np.unique(drawn):  # a file drawn t times brings all its windows t times
            assert (drawn == f).sum() % (files == f).sum() == 0


def _clustered(rng, files, shift):
    # each file has its own offset: windows of one file are correlated; marginally N(shift, I)
    offsets = rng.normal(size=(files.max() + 1, 2)) * np.sqrt(0.5)
    return shift + offsets[files] + rng.normal(size=(files.size, 2)) * np.sqrt(0.5)


def test_fad_interval_covers_the_truth_about_95_percent_of_the_time():
    """200 simulated candidate sets of 100 files x 4 windows; the truth is FD = |shift|^2 = 1."""
    rng = np.random.default_rng(0)
    truth = jm.GaussianStats(np.float64(1e9), np.zeros(2), np.eye(2))
    reference = rng.normal(size=(40, 2))  # unused by FAD (statistics given)
    files = np.repeat(np.arange(100), 4)
    hits = 0
    for rep in range(200):
        y = _clustered(rng, files, np.array([1.0, 0.0]))
        iv = jm.file_bootstrap_intervals(
            reference, y, files, metrics=("fad",), seed=rep, reference_stats=truth
        )
        hits += iv.low["fad"] <= 1.0 <= iv.high["fad"]
    assert 0.90 <= hits / 200 <= 0.99


def test_intervals_of_every_metric_and_bad_options():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(120, 3))
    files = np.repeat(np.arange(30), 3)
    y = rng.normal(0.3, size=(90, 3))
    iv = jm.file_bootstrap_intervals(x, y, files, num_resamples=20, prdc_k=3, kd_subset_size=40)
    expected = {"fad", "kernel_distance_mean", "precision", "recall", "density", "coverage"}
    assert set(iv.low) == expected
    for name in expected:
        assert iv.low[name] <= iv.high[name]
        assert iv.values[name].shape == (20,)
    with pytest.raises(ValueError, match="level"):
        jm.file_bootstrap_intervals(x, y, files, level=95)
    with pytest.raises(ValueError, match="unknown"):
        jm.file_bootstrap_intervals(x, y, files, metrics=("apa",))
    with pytest.raises(ValueError, match="candidate_files"):
        jm.file_bootstrap_intervals(x, y, files[:10])
