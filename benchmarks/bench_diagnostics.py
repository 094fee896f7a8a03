"""What ``--per-file --ci --inf --report`` add to ``jaxmetrics evaluate`` on 1,000 windows per set.

Writes a reference and two candidate folders of synthetic chords
(``degraded_audio_sets``, levels 0.25 and 1), fills the embedding cache
once (not timed), then times the same command with and without the
diagnostics options, alternating, in fresh processes (what a user waits
for: start-up and compilation included):

    jaxmetrics evaluate ref cand_a cand_b --embedder logmel --win-dur 1 --metrics fad,kd,prdc
    ... --ci 0.95 --inf --per-file per_file.csv --report report.html

and then each part in one process on the embeddings of that run (first
call, with compilation, and a second call): window diagnostics, per-file
FAD, the file bootstrap (200 resamples), FAD∞ and the report.

    python benchmarks/bench_diagnostics.py            # recorded in RESULTS.md
    python benchmarks/bench_diagnostics.py --quick    # small, not recorded
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import run_recorded  # noqa: E402
from report_screenshot import LEVELS, write_audio  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
COMMON = ["--embedder", "logmel", "--win-dur", "1", "--metrics", "fad,kd,prdc", "--no-progress"]
EXTRAS = ["--ci", "0.95", "--inf", "--per-file", "per_file.csv", "--report", "report.html"]


def _run(folder: Path, cache: Path, extra: list[str]) -> float:
    env = dict(os.environ, PYTHONPATH=str(ROOT), XDG_CACHE_HOME=str(cache))
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "jaxmetrics.cli", "evaluate", "ref", *LEVELS, *COMMON, *extra],
        cwd=folder,
        env=env,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def _parts(folder: Path, cache: Path) -> None:
    """Each diagnostic on the embeddings of the run, first and second call."""
    import jax

    import jaxmetrics as jm
    from jaxmetrics.audio.state import prdc_k
    from jaxmetrics.report import write_report

    env = dict(os.environ, PYTHONPATH=str(ROOT), XDG_CACHE_HOME=str(cache))
    rows = {}
    for name in ("ref", "cand_a"):
        out = folder / f"{name}.npz"
        subprocess.run(
            [sys.executable, "-m", "jaxmetrics.cli", "embed", name, "-o", str(out),
             "--embedder", "logmel", "--win-dur", "1", "--no-progress"],
            cwd=folder, env=env, check=True, capture_output=True,
        )  # fmt: skip
        with np.load(out, allow_pickle=False) as npz:
            rows[name] = (npz["embeddings"], npz["file_index"])
    (ref, ref_files), (cand, cand_files) = rows["ref"], rows["cand_a"]
    k = prdc_k(ref.shape[0], cand.shape[0])
    stats = jm.gaussian_stats(ref)
    parts = {
        "window diagnostics (k-NN memberships, nearest, realism)": lambda: jm.window_diagnostics(
            ref, cand, k=k, reference_groups=ref_files
        ),
        "per-file FAD": lambda: jm.file_frechet_distances(stats, cand, cand_files),
        "file bootstrap, 200 resamples (fad, kd, prdc)": lambda: jm.file_bootstrap_intervals(
            ref, cand, cand_files, reference_stats=stats, prdc_k=k
        ),
        "FAD-inf (25 sizes)": lambda: jm.frechet_distance_inf(
            stats, cand, min_n=min(500, cand.shape[0] // 2)
        ),
        "plain set metrics: jm.prdc": lambda: jm.prdc(ref, cand, k=k),
    }
    print(f"\nEach part on the embeddings ({ref.shape[0]} x {ref.shape[1]} reference, "
          f"{cand.shape[0]} candidate windows), seconds:\n")  # fmt: skip
    print("| part | first call (with compilation) | second call |")
    print("|---|---|---|")
    for name, fn in parts.items():
        times = []
        for _ in range(2):
            start = time.perf_counter()
            jax.block_until_ready(fn())
            times.append(time.perf_counter() - start)
        print(f"| {name} | {times[0]:.2f} | {times[1]:.2f} |")
    summary = json.loads((folder / "results.json").read_text())
    start = time.perf_counter()
    write_report(summary, folder / "again.html")
    print(f"| report from results.json (2 sets, figures) | {time.perf_counter() - start:.2f} | |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=100, help="clips per set (default 100)")
    parser.add_argument("--seconds", type=float, default=10.0, help="clip length (default 10)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="small sizes, not recorded")
    args = parser.parse_args()
    if args.quick:
        args.clips, args.seconds, args.repeats = 10, 4.0, 1
    work = Path(tempfile.mkdtemp(prefix="bench_diagnostics-"))
    try:
        cache = work / "cache"
        write_audio(work, args.clips, args.seconds, seed=0)
        windows = int(args.clips * args.seconds)
        start = time.perf_counter()
        _run(work, cache, [])  # fills the embedding cache: both timed runs read it
        print(f"{windows} windows per set (3 sets, logmel, 1 s windows); embedding them "
              f"took {time.perf_counter() - start:.1f} s (not counted below).\n")  # fmt: skip
        plain, full = [], []
        for _ in range(args.repeats):
            plain.append(_run(work, cache, []))
            full.append(_run(work, cache, [*EXTRAS, "--json", "results.json"]))
        p, f = statistics.median(plain), statistics.median(full)
        print("| command (embeddings from the cache) | seconds, median of "
              f"{args.repeats} |")  # fmt: skip
        print("|---|---|")
        print(f"| `evaluate ref cand_a cand_b --metrics fad,kd,prdc` | {p:.1f} |")
        print(f"| the same with `{' '.join(EXTRAS)}` | {f:.1f} |")
        print(f"| added by the diagnostics | {f - p:.1f} ({f / p:.1f}x) |")
        _parts(work, cache)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if "--quick" in sys.argv:
        main()
    else:
        run_recorded(main, "bench_diagnostics: what --per-file --ci --inf --report add")
