"""The measurements behind three tuning choices of the metric core, rerunnable.

Each section times the alternatives interleaved in one process (0.3 s idle
before each call, as ``bench_core.py`` does), medians in seconds, on the
benchmark data of ``bench_core.py``:

- ``fad-route``: at d = 512, the jitted FAD from float64 statistics (host
  callback) against the eager call (SciPy's LAPACK directly); at d = 128,
  eager calls with XLA (the shipped route below d = 160) against SciPy's
  LAPACK (the eager route of ``_frechet._on_cpu_host`` from d = 160),
  interleaved with the references as in ``bench_core.py`` (their BLAS
  threads are part of the setting).
- ``kd-batch``: KD subsets per vmapped batch (``kernel_distance.subsets_per_batch``):
  1, 2 (the CPU rule) and the accelerators' 256 MiB rule, float32 and
  float64.
- ``prdc-block``: PRDC's tile edge (``block_size``): 768, 1024 (default),
  1280, 2048.

Usage: python benchmarks/bench_choices.py [--sections fad-route,kd-batch,prdc-block]
"""

from __future__ import annotations

import argparse

import jax
from _timing import time_interleaved
from bench_core import (
    DataCache,
    fd_numpy_eigh,
    fd_sqrtm,
    fd_torch_eigvals,
    make_pair,
    print_table,
    stats_case,
)

import jaxmetrics as jm
from jaxmetrics._src import routing
from jaxmetrics.metrics import kernel_distance as _kernel_distance


def fad_route(cache: DataCache) -> None:
    """Eager ``frechet_distance_from_stats`` on NumPy statistics with the route
    threshold as shipped (XLA below d = 160) and lowered to 100 (SciPy's LAPACK
    at d = 128 too), each alone among the references and both together."""
    (mx, sx, my, sy), _, _, (a, b) = stats_case(20_000, 128, cache)
    shipped = routing.HOST_MIN_DIM

    def ours(threshold):
        def run():
            routing.HOST_MIN_DIM = threshold
            try:
                return float(jm.frechet_distance_from_stats(a, b))
            finally:
                routing.HOST_MIN_DIM = shipped

        return run

    refs = {
        "sqrtm": lambda: fd_sqrtm(mx, sx, my, sy),
        "eigvals": lambda: fd_torch_eigvals(mx, sx, my, sy),
        "eigh": lambda: fd_numpy_eigh(mx, sx, my, sy),
    }
    variants = {"xla": ours(shipped), "host": ours(100)}
    rows = []
    for label, jitted in (
        ("XLA route alone", {"xla": variants["xla"]}),
        ("host route alone", {"host": variants["host"]}),
        ("both", variants),
    ):
        for _ in range(2):
            timings, _ = time_interleaved(jitted, refs, 25)
            cells = [f"{timings[k].median * 1e3:.1f}" if k in timings else "–" for k in variants]
            rows.append([label, *cells, *(f"{timings[k].median * 1e3:.1f}" for k in refs)])
    (mx, sx, my, sy), _, _, (a, b) = stats_case(20_000, 512, cache)
    jitted = jax.jit(jm.frechet_distance_from_stats)

    def through_callback():
        with jax.enable_x64(True):
            return float(jitted(a, b))

    def eager():
        return float(jm.frechet_distance_from_stats(a, b))

    timings, _ = time_interleaved(
        {"callback": through_callback, "eager": eager},
        {"sqrtm": lambda: fd_sqrtm(mx, sx, my, sy)},
        7,
    )
    print_table(
        "FAD from float64 statistics at d = 512, ms (medians of 7): jitted (the host"
        " callback) against the eager call (SciPy's LAPACK directly)",
        ["case", "jitted", "eager", "sqrtm"],
        [["d = 512", *(f"{timings[k].median * 1e3:.1f}" for k in ("callback", "eager", "sqrtm"))]],
    )
    print_table(
        "FAD from float64 statistics at d = 128, eager calls, ms (medians of 25), interleaved"
        " with the references as in bench_core.py; each line one interleaving",
        ["run", "ours, XLA", "ours, host", "sqrtm", "eigvals (torch)", "eigh (numpy)"],
        rows,
    )


def kd_batch(cache: DataCache) -> None:
    n, d, s, size = 10_000, 512, 100, 1_000
    x, y = cache.pair(n, d)
    idx = jm.numpy_subset_indices(n, n, num_subsets=s, subset_size=size, seed=1234)
    original = _kernel_distance.subsets_per_batch
    rows = []
    for precision, itemsize in (("float32", 4), ("float64", 8)):
        old_rule = max(1, min(s, (256 << 20) // (3 * size**2 * itemsize)))
        batches = sorted({1, 2, old_rule})

        def run(batch, precision=precision):
            _kernel_distance.subsets_per_batch = lambda *args: batch
            try:
                kd = jm.kernel_distance(x, y, subset_indices=idx, precision=precision)
                return float(kd.mean)
            finally:
                _kernel_distance.subsets_per_batch = original

        fns = {f"batch {b}": (lambda b=b: run(b)) for b in batches}
        timings, _ = time_interleaved(fns, {}, 4)
        cells = ", ".join(f"{name}: {t.median:.2f}" for name, t in timings.items())
        rows.append([precision, f"{old_rule}", cells])
    print_table(
        f"KD, {s} subsets of {size:,} from {n:,} x {d}, s, by subsets per vmapped batch",
        ["precision", "256 MiB rule (accelerators)", "medians of 4"],
        rows,
    )


def prdc_block() -> None:
    x, y = make_pair(10_000, 512, seed=7)
    fns = {
        f"block {b}": (lambda b=b: tuple(float(v) for v in jm.prdc(x, y, k=5, block_size=b)))
        for b in (768, 1024, 1280, 2048)
    }
    timings, outs = time_interleaved(fns, {}, 5)
    assert len(set(outs.values())) == 1, outs  # the result does not depend on the tile edge
    print_table(
        "PRDC, N = M = 10,000, d = 512, k = 5, s, by tile edge (medians of 5)",
        ["tile edge", "time"],
        [[name, f"{t.median:.2f}"] for name, t in timings.items()],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", default="fad-route,kd-batch,prdc-block")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    sections = set(args.sections.split(","))
    cache = DataCache()
    if "fad-route" in sections:
        fad_route(cache)
    if "kd-batch" in sections:
        kd_batch(cache)
    if "prdc-block" in sections:
        prdc_block()


if __name__ == "__main__":
    from _results import run_recorded

    run_recorded(main, "The measurements behind three tuning choices")
