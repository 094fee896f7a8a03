"""Before/after: the public metric calls of bench_core, timed on two versions of the package.

The package's layout changed (layers as folders, one implementation per
metric); its users' calls did not. This script times the same public calls,
with the same data, on the code of two git revisions: ``--before`` (checked
out into a temporary worktree) and the working tree. The revisions alternate
in fresh subprocesses, ``--rounds`` times, so drift of the machine falls on
both alike; each subprocess compiles, then times ``--repeats`` calls per case
after 0.3 s idle. The table gives the median over rounds of each round's
median, and the run-to-run spread (largest over smallest round median) of
each version beside it.

Usage: python benchmarks/bench_layout.py --before 4372c7d [--rounds 3] [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

# (case, what it runs); sizes as bench_core's sections (quick: smaller).
CASES = {
    "fad_stats_512": "frechet_distance_from_stats, float64 statistics, d = 512",
    "fad_stats_2048": "frechet_distance_from_stats, float64 statistics, d = 2048",
    "fad_e2e": "frechet_distance on float32 embeddings, 20,000 x 2,048 each",
    "kd": "kernel_distance, 100 subsets of 1,000 from 10,000 x 512, float64",
    "prdc": "prdc, N = M = 10,000, d = 512, k = 5",
    "kad": "kad, 3,000 x 512",
}
QUICK = {"d_big": 256, "e2e": (2000, 256), "kd": (2000, 20, 200), "prdc": 2000, "kad": 500}
FULL = {"d_big": 2048, "e2e": (20000, 2048), "kd": (10000, 100, 1000), "prdc": 10000, "kad": 3000}


def _cases(quick: bool) -> dict[str, Callable[[], float]]:
    """The calls to time, each returning a host float (so the time includes the work)."""
    from bench_core import make_pair, numpy_stats

    import jaxmetrics as jm

    sizes = QUICK if quick else FULL
    calls: dict[str, Callable[[], float]] = {}
    for name, d in (("fad_stats_512", 512), ("fad_stats_2048", sizes["d_big"])):
        x, y = make_pair(max(4 * d, 2000), d, seed=d)
        (mx, cx), (my, cy) = numpy_stats(x), numpy_stats(y)
        sx, sy = jm.GaussianStats(len(x), mx, cx), jm.GaussianStats(len(y), my, cy)
        calls[name] = lambda sx=sx, sy=sy: float(jm.frechet_distance_from_stats(sx, sy))
    n, d = sizes["e2e"]
    ex, ey = make_pair(n, d, seed=7)
    calls["fad_e2e"] = lambda: float(jm.frechet_distance(ex, ey))
    n, subsets, size = sizes["kd"]
    kx, ky = make_pair(n, 512, seed=11)
    idx = jm.numpy_subset_indices(n, n, num_subsets=subsets, subset_size=size)
    calls["kd"] = lambda: float(jm.kernel_distance(kx, ky, subset_indices=idx).mean)
    px, py = make_pair(sizes["prdc"], 512, seed=13)
    calls["prdc"] = lambda: float(jm.prdc(px, py, k=5).precision)
    ax, ay = make_pair(sizes["kad"], 512, seed=17)
    calls["kad"] = lambda: float(jm.kad(ax, ay))
    return calls


def worker(repeats: int, quick: bool) -> None:
    """Compile every case, then time it; print ``{case: median seconds}`` as JSON."""
    sys.path.insert(0, str(HERE))
    out = {}
    for name, call in _cases(quick).items():
        call()
        times = []
        for _ in range(repeats):
            time.sleep(0.3)
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        out[name] = statistics.median(times)
    import jaxmetrics

    out["package"] = str(Path(jaxmetrics.__file__).resolve().parents[1])
    print(json.dumps(out))


def _run_worker(tree: Path, repeats: int, quick: bool) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    args = [sys.executable, str(Path(__file__)), "--worker", "--repeats", str(repeats)]
    proc = subprocess.run(
        args + (["--quick"] if quick else []),
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=tempfile.gettempdir(),
    )
    if proc.returncode != 0:
        raise RuntimeError(f"worker on {tree} failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if Path(out.pop("package")) != tree.resolve():
        raise RuntimeError(f"the worker for {tree} imported jaxmetrics from elsewhere")
    return out


def _spread(values: list[float]) -> float:
    return max(values) / min(values)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", help="git revision of the 'before' code")
    parser.add_argument("--rounds", type=int, default=3, help="alternations of the two versions")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per case and round")
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.repeats, args.quick)
        return
    if not args.before:
        parser.error("--before REVISION is required")
    with tempfile.TemporaryDirectory() as tmp:
        before_tree = Path(tmp) / "before"
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", str(before_tree), args.before],
            check=True,
            capture_output=True,
        )
        try:
            trees = {"before": before_tree, "after": REPO}
            rounds: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
            for i in range(args.rounds):
                for version, tree in trees.items():
                    rounds[version].append(_run_worker(tree, args.repeats, args.quick))
                    print(f"round {i + 1}/{args.rounds}: {version} done", file=sys.stderr)
        finally:
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "remove", "--force", str(before_tree)],
                check=False,
                capture_output=True,
            )
    print(
        f"### Public calls on the code of `{args.before}` (before) and of this tree (after): "
        f"medians over {args.rounds} alternating rounds of {args.repeats} calls each, "
        "seconds; spread = largest / smallest round median of that version.\n"
    )
    if args.quick:
        print("(--quick: smaller sizes than the cases name; a smoke run, not recorded)\n")
    print("| case | before s | after s | after / before | spread before | spread after |")
    print("|---|---|---|---|---|---|")
    for case, what in CASES.items():
        b = [r[case] for r in rounds["before"]]
        a = [r[case] for r in rounds["after"]]
        mb, ma = float(np.median(b)), float(np.median(a))
        print(
            f"| {what} | {mb:.3f} | {ma:.3f} | {ma / mb:.2f} | "
            f"{_spread(b):.2f} | {_spread(a):.2f} |"
        )


if __name__ == "__main__":
    if "--worker" in sys.argv or "--quick" in sys.argv:
        main()
    else:
        sys.path.insert(0, str(HERE))
        import _results

        _results.run_recorded(main, "bench_layout: the public calls before and after the layout")
