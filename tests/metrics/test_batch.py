"""Batched metrics equal a loop of single calls; sharded equals single-device."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest
from references import correlated_gaussian

import jaxmetrics as jm

D = 12


@pytest.fixture
def sets(rng):
    """A reference and four candidate sets of different sizes and drift."""
    reference = correlated_gaussian(rng, 500, D)
    candidates = [
        correlated_gaussian(rng, m, D, shift=0.1 * i, scale=1.0 + 0.05 * i)
        for i, m in enumerate([260, 200, 240, 130])
    ]
    return reference, candidates


def test_stack_sets_pads_with_counts(sets):
    _, candidates = sets
    stack, counts = jm.stack_sets(candidates)
    assert stack.shape == (4, 260, D)
    assert counts.tolist() == [260, 200, 240, 130]
    np.testing.assert_array_equal(stack[3, :130], candidates[3])
    assert not stack[3, 130:].any()


def test_frechet_batch_equals_loop(sets):
    reference, candidates = sets
    stack, counts = jm.stack_sets(candidates)
    stack[1, 200:] = np.nan  # padding content must not matter
    batched = jm.frechet_distance_batch(reference, stack, counts=counts)
    loop = [float(jm.frechet_distance(reference, c)) for c in candidates]
    # Same algorithm, same reference factor; only summation order differs.
    np.testing.assert_allclose(np.asarray(batched), loop, rtol=1e-10)
    from_list = jm.frechet_distance_batch(jm.gaussian_stats(reference), candidates)
    np.testing.assert_allclose(np.asarray(from_list), loop, rtol=1e-10)


def test_frechet_batch_float32(sets):
    reference, candidates = sets
    single = [float(jm.frechet_distance(reference, c, precision="float32")) for c in candidates]
    batched = jm.frechet_distance_batch(reference, candidates, precision="float32")
    assert batched.dtype == np.float32
    np.testing.assert_allclose(np.asarray(batched), single, rtol=1e-4)


def test_prdc_batch_equals_loop_exactly(sets):
    reference, candidates = sets
    batched = jm.prdc_batch(reference, candidates, k=4, block_size=64)
    for i, cand in enumerate(candidates):
        single = jm.prdc(reference, cand, k=4, block_size=64)
        for name in single._fields:
            assert float(getattr(batched, name)[i]) == float(getattr(single, name)), (i, name)


@pytest.mark.parametrize("kernel", ["polynomial", "rbf"])
def test_kernel_distance_batch_equals_loop(sets, kernel):
    reference, candidates = sets
    key = jax.random.key(11)
    opts = {"num_subsets": 8, "subset_size": 64, "kernel": kernel}
    batched, values = jm.kernel_distance_batch(
        reference, candidates, key=key, return_values=True, **opts
    )
    for i, cand in enumerate(candidates):
        single, single_values = jm.kernel_distance(
            reference, cand, key=key, return_values=True, **opts
        )
        np.testing.assert_allclose(
            np.asarray(values[i]), np.asarray(single_values), rtol=1e-9, atol=1e-13
        )
        np.testing.assert_allclose(
            float(batched.mean[i]), float(single.mean), rtol=1e-9, atol=1e-13
        )


def test_evaluate_batch_equals_the_separate_calls(sets):
    reference, candidates = sets
    key = jax.random.key(5)
    opts = {"num_subsets": 8, "subset_size": 100}
    fused = jm.evaluate_batch(reference, candidates, key=key, k=4, block_size=64, **opts)
    kd = jm.kernel_distance_batch(reference, candidates, key=key, **opts)
    pr = jm.prdc_batch(reference, candidates, k=4, block_size=64)
    fd = jm.frechet_distance_batch(reference, candidates)
    np.testing.assert_allclose(np.asarray(fused["fad"]), np.asarray(fd), rtol=1e-12)
    # Same kernel values summed tile by tile instead of row block by row block.
    np.testing.assert_allclose(
        np.asarray(fused["kernel_distance"].mean), np.asarray(kd.mean), rtol=1e-9, atol=1e-13
    )
    np.testing.assert_allclose(
        np.asarray(fused["kernel_distance"].std), np.asarray(kd.std), rtol=1e-8, atol=1e-13
    )
    for name in pr._fields:
        np.testing.assert_array_equal(
            np.asarray(getattr(fused["prdc"], name)), np.asarray(getattr(pr, name))
        )


def test_apa_batch_equals_loop(sets):
    reference, candidates = sets
    anti = reference[::-1] * 1.3 + 0.4
    batched = jm.apa_batch(candidates, reference, anti)
    for i, cand in enumerate(candidates):
        single = jm.apa(cand, reference, anti)
        np.testing.assert_allclose(float(batched.score[i]), float(single.score), rtol=1e-9)
        np.testing.assert_allclose(
            float(batched.reference_anti_reference[i]), float(single.reference_anti_reference)
        )


def test_batch_bad_input(sets):
    reference, candidates = sets
    stack, counts = jm.stack_sets(candidates)
    with pytest.raises(ValueError, match="must be a 3-D stack"):
        jm.frechet_distance_batch(reference, stack[0])
    with pytest.raises(ValueError, match="counts must be 4 integers"):
        jm.frechet_distance_batch(reference, stack, counts=[1, 2])
    with pytest.raises(ValueError, match=r"candidates\[1\] has 1 rows"):
        jm.frechet_distance_batch(reference, stack, counts=[260, 1, 240, 130])
    bad = stack.copy()
    bad[2, 5, 0] = np.inf
    with pytest.raises(ValueError, match="first in set 2 at row index 5"):
        jm.prdc_batch(reference, bad, counts=counts)
    with pytest.raises(ValueError, match=r"candidates\[1\] has 3 rows; every set needs at least 4"):
        jm.kernel_distance_batch(reference, stack, counts=[260, 3, 240, 130])
    with pytest.raises(ValueError, match="same embedding dimension"):
        jm.frechet_distance_batch(reference[:, :5], candidates)
    with pytest.raises(ValueError, match="devices must be None, 'all'"):
        jm.frechet_distance_batch(reference, candidates, devices="gpus")


def test_oversized_subset_size_is_reduced_for_every_set_as_the_single_call_reduces_it(sets):
    """One subset size for all sets: the single call's reduction for the smallest set."""
    reference, candidates = sets
    key = jax.random.key(3)
    smallest = min(len(c) for c in candidates)
    with pytest.warns(UserWarning, match=f"using subset_size={smallest // 2} instead"):
        batched = jm.kernel_distance_batch(
            reference, candidates, key=key, num_subsets=4, subset_size=200
        )
    with pytest.warns(UserWarning, match=f"using subset_size={smallest // 2} instead"):
        fused = jm.evaluate_batch(
            reference, candidates, key=key, num_subsets=4, subset_size=200, k=3
        )
    for i, cand in enumerate(candidates):
        single = jm.kernel_distance(
            reference, cand, key=key, num_subsets=4, subset_size=smallest // 2
        )
        np.testing.assert_allclose(float(batched.mean[i]), float(single.mean), rtol=1e-9)
        np.testing.assert_allclose(
            float(fused["kernel_distance"].mean[i]), float(single.mean), rtol=1e-9
        )


def test_frechet_batch_method_is_the_single_call_method(sets):
    reference, candidates = sets
    for method in ("qr", "eigh", "svd"):
        batched = jm.frechet_distance_batch(reference, candidates, method=method)
        for i, cand in enumerate(candidates):
            single = jm.frechet_distance_from_stats(
                jm.gaussian_stats(reference), jm.gaussian_stats(cand), method=method
            )
            np.testing.assert_allclose(float(batched[i]), float(single), rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="method must be one of"):
        jm.frechet_distance_batch(reference, candidates, method="sqrtm")


def test_merged_host_shards_give_the_global_distances(rng):
    """Simulated multi-host: each 'host' summarises its shard; a tree of
    merge_stats gives the statistics, FD and APA of the whole data."""
    reference = correlated_gaussian(rng, 3000, D)
    anti = correlated_gaussian(rng, 2000, D, shift=0.5)
    candidate = correlated_gaussian(rng, 2500, D, shift=0.2)
    hosts = 5

    def host_stats(x):
        shards = np.array_split(x, hosts)  # e.g. jax.process_index()'s slice
        per_host = [jm.gaussian_stats(s) for s in shards]
        return functools.reduce(jm.merge_stats, per_host)

    merged = [host_stats(x) for x in (candidate, reference, anti)]
    np.testing.assert_allclose(
        float(jm.frechet_distance_from_stats(merged[1], merged[0])),
        float(jm.frechet_distance(reference, candidate)),
        rtol=1e-10,
    )
    np.testing.assert_allclose(
        float(jm.apa(*merged).score), float(jm.apa(candidate, reference, anti).score), rtol=1e-10
    )


SHARDED_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import jax, numpy as np
    import jaxmetrics as jm

    assert len(jax.devices()) == 8, jax.devices()
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(700, 16))
    cand = rng.normal(0.2, size=(650, 16))
    sets = [rng.normal(0.1 * i, size=(300 - 10 * i, 16)) for i in range(5)]
    out = {}
    for devices in (None, "all"):
        tag = "single" if devices is None else "sharded"
        out[tag] = {
            "prdc": [float(v) for v in jm.prdc(ref, cand, block_size=64, devices=devices)],
            "kd": [float(v) for v in jm.kernel_distance(
                ref, cand, num_subsets=10, subset_size=100, devices=devices)],
            "fd_batch": jm.frechet_distance_batch(ref, sets, devices=devices).tolist(),
            "prdc_batch": [v.tolist() for v in jm.prdc_batch(
                ref, sets, block_size=64, devices=devices)],
            "kd_batch": jm.kernel_distance_batch(
                ref, sets, num_subsets=5, subset_size=100, devices=devices).mean.tolist(),
            "apa_batch": jm.apa_batch(sets, ref, ref + 0.3, devices=devices).score.tolist(),
            "evaluate_kd": jm.evaluate_batch(
                ref, sets, num_subsets=5, subset_size=100, block_size=64, devices=devices
            )["kernel_distance"].mean.tolist(),
        }
    json.dump(out, sys.stdout)
    """
)


@pytest.mark.slow
def test_eight_forced_host_devices_give_identical_results():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8")
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    proc = subprocess.run(
        [sys.executable, "-c", SHARDED_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    single, sharded = out["single"], out["sharded"]
    assert sharded["prdc"] == single["prdc"]
    assert sharded["prdc_batch"] == single["prdc_batch"]
    for name in ("kd", "fd_batch", "kd_batch", "apa_batch", "evaluate_kd"):
        # Work is split, never approximated: the same float64 operations run
        # on each set; only XLA's partitioned reductions may reorder sums.
        np.testing.assert_allclose(sharded[name], single[name], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("n,m,d", [(40, 30, 64), (500, 30, 64), (40, 300, 64), (250, 20, 200)])
def test_batched_fd_equals_the_single_call_on_singular_sets(rng, n, m, d):
    # Sets with fewer rows than dimensions: the single call takes the n x m
    # cross-Gram route, the batch the covariance factors. With the zero part
    # of the spectrum removed from the factors both reach ~1e-15 (they were
    # 1e-8 apart when sqrt(rounding-level eigenvalues) entered the factors).
    reference = rng.normal(size=(n, d))
    sets = [rng.normal(size=(m, d)) * 1.1, rng.normal(size=(m, d)) + 0.1]
    batched = np.asarray(jm.frechet_distance_batch(reference, sets))
    single = [float(jm.frechet_distance(reference, s)) for s in sets]
    np.testing.assert_allclose(batched, single, rtol=1e-12)
