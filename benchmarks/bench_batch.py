"""Batched evaluation of many candidate sets: one batched call vs loops, same run.

Scenario: ``--sets`` candidate sets of ``--rows`` x ``--dim``
against a ``--ref-rows`` x ``--dim`` reference; FD + KD (100 subsets of 1000)
+ PRDC (k = 5). Three ways, timed in the same run:

1. ours, batched: ``evaluate_batch`` (reference work done once per metric);
2. ours, a Python loop of single calls (``frechet_distance``,
   ``kernel_distance``, ``prdc``), all compiled once beforehand;
3. the audio-metrics package's metric functions (1.0.4) in a loop, when it
   is installed (torch + NumPy; its KD loop is run on ``--am-sets`` sets and
   scaled, as it is by far the slowest; the scaling is printed).

With ``--devices N`` (N > 1), the batched call is repeated with the set axis
over N forced host devices (in a subprocess, since XLA_FLAGS must be set before
jax starts), and its results are compared with the single-device ones.

Usage: python benchmarks/bench_batch.py [--sets 64] [--quick] [--devices 8]
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_data(sets: int, rows: int, ref_rows: int, dim: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    scales = np.sqrt(np.geomspace(1.0, 1e-2, dim))

    def sample(n, shift=0.0):
        return ((rng.normal(size=(n, dim)) * scales) @ basis.T + shift).astype(np.float32)

    reference = sample(ref_rows)
    candidates = np.stack([sample(rows, shift=0.02 * i) for i in range(sets)])
    return reference, candidates


def run_batched(jm, jax, reference, candidates, devices=None):
    out = jm.evaluate_batch(reference, candidates, key=jax.random.key(0), k=5, devices=devices)
    pr = out["prdc"]
    return {
        "fad": np.asarray(out["fad"]).tolist(),
        "kd": np.asarray(out["kernel_distance"].mean).tolist(),
        "precision": np.asarray(pr.precision).tolist(),
        "coverage": np.asarray(pr.coverage).tolist(),
    }


def run_loop(jm, jax, reference, candidates):
    key = jax.random.key(0)
    out = {"fad": [], "kd": [], "precision": [], "coverage": []}
    for cand in candidates:
        out["fad"].append(float(jm.frechet_distance(reference, cand)))
        out["kd"].append(float(jm.kernel_distance(reference, cand, key=key).mean))
        pr = jm.prdc(reference, cand, k=5)
        out["precision"].append(float(pr.precision))
        out["coverage"].append(float(pr.coverage))
    return out


def load_audio_metrics():
    """audio-metrics' metric modules without its top-level import (which needs laion_clap)."""
    spec = importlib.util.find_spec("audio_metrics")
    if spec is None or spec.submodule_search_locations is None:
        return None
    package = types.ModuleType("audio_metrics")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["audio_metrics"] = package
    try:
        return types.SimpleNamespace(
            data=importlib.import_module("audio_metrics.data"),
            fad=importlib.import_module("audio_metrics.metrics.fad"),
            kd=importlib.import_module("audio_metrics.metrics.kd"),
            prdc=importlib.import_module("audio_metrics.metrics.prdc"),
        )
    except ImportError:
        return None


def run_audio_metrics(am, reference, candidates, kd_sets):
    import torch

    torch.set_num_threads(os.cpu_count() or 1)

    def data(x):
        d = am.data.AudioMetricsData()
        d.add(torch.as_tensor(x))
        return d

    timings = {}
    ref = data(reference)
    start = time.perf_counter()
    for cand in candidates:
        c = data(cand)
        am.fad.frechet_distance(ref, c)
        am.prdc.prdc(ref, c, 5)
    timings["fd+prdc"] = time.perf_counter() - start
    start = time.perf_counter()
    for cand in candidates[:kd_sets]:
        am.kd.kernel_distance(ref, data(cand))
    timings["kd"] = (time.perf_counter() - start) * len(candidates) / kd_sets
    return timings


def device_run(args) -> dict:
    """The batched call on N forced host devices, in a fresh interpreter."""
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={args.devices}")
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        "--sets",
        str(args.sets),
        "--rows",
        str(args.rows),
        "--ref-rows",
        str(args.ref_rows),
        "--dim",
        str(args.dim),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def worker(args) -> None:
    import jax

    import jaxmetrics as jm

    reference, candidates = make_data(args.sets, args.rows, args.ref_rows, args.dim)
    run_batched(jm, jax, reference, candidates, devices="all")  # compile
    start = time.perf_counter()
    out = run_batched(jm, jax, reference, candidates, devices="all")
    out["seconds"] = time.perf_counter() - start
    out["devices"] = len(jax.devices())
    json.dump(out, sys.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", type=int, default=64)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--ref-rows", type=int, default=10000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--am-sets", type=int, default=2, help="sets for audio-metrics' KD loop")
    parser.add_argument("--devices", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="8 sets of 1500 vs 4000 rows, d=256")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.sets, args.rows, args.ref_rows, args.dim = 8, 1500, 4000, 256
    if args.worker:
        worker(args)
        return

    import jax

    import jaxmetrics as jm

    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"jax {jax.__version__} on {jax.devices()[0].platform}"
    )
    print(
        f"Scenario: {args.sets} candidate sets of {args.rows} x {args.dim} vs a "
        f"{args.ref_rows} x {args.dim} reference; FD + KD (100 x 1000) + PRDC (k=5), float64\n"
    )
    reference, candidates = make_data(args.sets, args.rows, args.ref_rows, args.dim)

    # First calls compile (the batched call for this stack's shape, the single
    # calls for one set's shape); their time is reported apart.
    start = time.perf_counter()
    run_batched(jm, jax, reference, candidates)
    first_batched = time.perf_counter() - start
    start = time.perf_counter()
    run_loop(jm, jax, reference, candidates[:1])
    first_single = time.perf_counter() - start

    start = time.perf_counter()
    batched = run_batched(jm, jax, reference, candidates)
    t_batched = time.perf_counter() - start
    start = time.perf_counter()
    loop = run_loop(jm, jax, reference, candidates)
    t_loop = time.perf_counter() - start
    for name in batched:
        np.testing.assert_allclose(batched[name], loop[name], rtol=1e-8, atol=1e-12)

    rows = [("ours, batched call", t_batched), ("ours, loop of single calls", t_loop)]
    am = load_audio_metrics()
    if am is not None:
        am_t = run_audio_metrics(am, reference, candidates, args.am_sets)
        rows.append(
            (
                f"audio-metrics 1.0.4 functions in a loop (KD scaled from {args.am_sets} sets)",
                am_t["fd+prdc"] + am_t["kd"],
            )
        )
    print("| implementation | time (s) | per set (s) | batched speed-up |")
    print("|---|---|---|---|")
    for label, seconds in rows:
        print(
            f"| {label} | {seconds:.1f} | {seconds / args.sets:.2f} | {seconds / t_batched:.1f}x |"
        )
    print(
        f"\n(first calls, compiling, reported apart: batched {first_batched:.1f} s "
        f"for all sets, single {first_single:.1f} s for one set)"
    )
    print("Batched results equal the loop's (checked to 1e-8 relative, PRDC exactly).")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"Peak RSS of this process: {peak:.2f} GiB")

    if args.devices > 1:
        sharded = device_run(args)
        same = all(
            np.allclose(sharded[name], batched[name], rtol=1e-12, atol=1e-15) for name in batched
        )
        print(
            f"\nBatched call on {sharded['devices']} forced host devices (same 2 cores): "
            f"{sharded['seconds']:.1f} s; results equal to single-device: {same}"
        )


if __name__ == "__main__":
    from _results import run_recorded

    run_recorded(main, "Batched evaluation: evaluate_batch against loops of single calls")
