"""Large-N runs of the metric core on one machine: time and peak memory, ours only.

- ``kd``: kernel distance, 1,000 subsets of 1,000 from two 200,000 x 512 sets.
- ``prdc``: PRDC at N = M = ``--rows`` (default 200,000), d = 512, k = 5; the
  prdc package would need three dense N x N float64 matrices (N = 200,000:
  960 GB), so it is not run beside it.

Usage: python benchmarks/bench_large.py kd|prdc [--rows N]
"""

from __future__ import annotations

import argparse
import resource
import time

import jax
import numpy as np

import jaxmetrics as jm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["kd", "prdc"])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.rows, 512)).astype(np.float32)
    y = (rng.normal(size=(args.rows, 512)) * 1.01).astype(np.float32)
    start = time.perf_counter()
    if args.what == "kd":
        result = jm.kernel_distance(x, y, key=jax.random.key(0), num_subsets=1000, subset_size=1000)
        label = f"KD, 1,000 subsets of 1,000 from {args.rows:,} x 512"
    else:
        result = jm.prdc(x, y, k=5)
        label = f"PRDC, N = M = {args.rows:,}, d = 512, k = 5"
    values = [float(v) for v in result]
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    data = (x.nbytes + y.nbytes) / 2**30
    print(
        f"{label} (float64): {values}; {seconds:.1f} s including compile; "
        f"peak RSS {peak:.2f} GiB (input data {data:.2f} GiB)"
    )


if __name__ == "__main__":
    from _results import run_recorded

    run_recorded(main, "Large-N runs of the metric core")
