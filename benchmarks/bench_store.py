"""Embedding into a store: in-process against Ray Data; streaming a large store into statistics.

Throughput (``embed_to_store``, windows of 5 s at 16 kHz written as wav
files, the store written to a fresh folder each run): in-process, and on a
local Ray instance (started once, outside the timings) with 1 and 2
embedding actors. Each configuration runs on ``n`` and on ``2n`` windows,
so the table separates the fixed cost of a job (Ray: starting the actors,
importing jax and torch, building the model; in-process: building the model)
from the steady rate: ``rate = n / (t(2n) - t(n))``, ``fixed = 2 t(n) -
t(2n)``. Ray's CPU actors get one CPU each, and Ray sets one thread per
actor, so the in-process runs use one torch thread too (``--threads``).
VGGish runs with random weights through the real loading path
(``JAXMETRICS_WEIGHTS``), logmel needs none.

A warm-up job per actor count runs first (untimed): Ray's first jobs also
start its worker processes. The machine's load average is printed with each
row: other work on the same cores lowers every figure.

Statistics: a synthetic store of ``--stats-windows`` windows (128-d, 10
windows per file, 10,000 windows per shard) is streamed into Gaussian
statistics by ``EmbeddingStore.stats()`` in a fresh process, whose peak RSS
(``VmHWM``) is compared with its RSS before the call (after reading one
shard once, so that pyarrow's Parquet code is loaded) and with the size of
the rows; two store sizes show how it grows.

Projection: from the steady VGGish rate per actor measured here, the wall
time of 1,000,000 clips of 10 s (two 5-s windows each) on N such CPU actors,
assuming linear scaling (the actors share nothing but the driver, which only
writes shards). No GPU was measured, so no GPU rate is assumed: for 8 and
64 GPUs the wall time is written as a formula of the GPU actor's rate, with
the lower bound that the measured CPU side of a window (decode, resample,
cut; the logmel in-process rate) sets for a given number of cores per GPU.

Usage: python benchmarks/bench_store.py [--logmel-windows 800] [--vggish-windows 96]
       [--stats-windows 100000 1000000] [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import run_recorded  # noqa: E402

SR = 16000
SECONDS = 5.0


def _folder(root: Path, windows: int, per_file: int = 4) -> Path:
    import soundfile as sf

    rng = np.random.default_rng(windows)
    root.mkdir(parents=True)
    for i in range(0, windows, per_file):
        n = min(per_file, windows - i)
        audio = rng.uniform(-0.5, 0.5, int(n * SECONDS * SR)).astype(np.float32)
        sf.write(root / f"f{i:06d}.wav", audio, SR)
    return root


def _time_run(folder: Path, store: Path, embedder: str, executor: str, workers: int) -> float:
    from jaxmetrics.audio.embed_store import embed_to_store

    start = time.perf_counter()
    report = embed_to_store(
        str(folder), store, embedder=embedder, win_dur=SECONDS, progress=False,
        executor=executor, workers=workers, files_per_shard=16,
    )  # fmt: skip
    wall = time.perf_counter() - start
    assert report.already_stored == 0 and report.windows > 0
    return wall


CONFIGS = (("in-process", "local", 1), ("Ray, 1 actor", "ray", 1), ("Ray, 2 actors", "ray", 2))


def _throughput(work: Path, embedder: str, n: int, repeats: int) -> dict[str, tuple[float, float]]:
    folders = {k: _folder(work / f"{embedder}-{k}", k) for k in (n, 2 * n)}
    times: dict[tuple[str, int], list[float]] = {}
    loads = []
    for _ in range(repeats):  # rounds interleave the executors: load drift hits them alike
        for label, executor, workers in CONFIGS:
            for k, folder in folders.items():
                store = work / f"store-{embedder}-{executor}-{workers}-{k}"
                wall = _time_run(folder, store, embedder, executor, workers)
                times.setdefault((label, k), []).append(wall)
                shutil.rmtree(store)
        loads.append(os.getloadavg()[0])
    print(f"\n### {embedder}: {n} and {2 * n} windows of {SECONDS:g} s, medians of {repeats}\n")
    print(f"Load average after each round: {', '.join(f'{x:.1f}' for x in loads)}\n")
    print("| executor | t(n) s | t(2n) s | steady win/s | fixed s | all t(n), t(2n) s |")
    print("|---|---|---|---|---|---|")
    rows = {}
    for label, _, _ in CONFIGS:
        t1, t2 = (float(np.median(times[label, k])) for k in (n, 2 * n))
        rate, fixed = n / (t2 - t1), 2 * t1 - t2
        rows[label] = (rate, fixed)
        every = "; ".join(f"{', '.join(f'{t:.1f}' for t in times[label, k])}" for k in (n, 2 * n))
        print(f"| {label} | {t1:.1f} | {t2:.1f} | {rate:.2f} | {fixed:.1f} | {every} |")
    base = rows["in-process"][0]
    one = rows["Ray, 1 actor"][0]
    print(f"\nRay at 1 actor, steady rate against in-process: {one / base - 1:+.1%}")
    return rows


def _stats_worker(store: str) -> None:
    from jaxmetrics.audio.store import open_store

    def rss(key: str) -> float:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1]) / 2**10
        return float("nan")

    from jaxmetrics.audio.state import merge, stats_of

    warm = np.zeros((1024, 128), np.float32)
    merge(stats_of(warm), stats_of(warm))  # compile the chunk's statistics and the merge
    st = open_store(store)
    import pyarrow.parquet as pq

    pq.read_table(st.shards()[0])  # load pyarrow's Parquet code once: a fixed cost
    before = rss("VmRSS")
    start = time.perf_counter()
    stats = st.stats()
    wall = time.perf_counter() - start
    print(f"{int(stats.count)} {wall:.2f} {before:.0f} {rss('VmHWM'):.0f}")


def _stats_memory(work: Path, windows: int) -> None:
    from jaxmetrics.audio.store import FileEmbeddings, StoreIdentity, open_store

    dim, per_file, per_shard = 128, 10, 10_000
    st = open_store(work / f"big-{windows}", StoreIdentity("synthetic", "", "", 80000, SR))
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for s in range(0, windows, per_shard):
        rows = rng.normal(size=(min(per_shard, windows - s), dim)).astype(np.float32)
        files = [
            FileEmbeddings(f"f{(s + i) // per_file:08d}.wav", "0" * 32, rows[i : i + per_file])
            for i in range(0, len(rows), per_file)
        ]
        st.write_shard(files)
    written = time.perf_counter() - start
    size = sum(p.stat().st_size for p in st.shards()) / 2**20
    out = subprocess.run(
        [sys.executable, __file__, "--stats-worker", str(st.path)],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    count, wall, before, peak = int(out[0]), float(out[1]), float(out[2]), float(out[3])
    rows_mib = windows * dim * 4 / 2**20
    print(f"\n### Statistics of a store of {windows:,} windows x {dim} (float32)\n")
    print(f"- store: {len(st.shards())} shards, {size:.0f} MiB on disk, written in {written:.1f} s")
    print(f"- `stats()` over {count:,} windows: {wall:.1f} s")
    print(
        f"- driver RSS before the call (imports, compiled statistics, one shard read once, "
        f"the index not read) {before:.0f} MiB, peak {peak:.0f} MiB: {peak - before:.0f} MiB above "
        f"(the index of {windows // per_file:,} files, two shards, one chunk), against "
        f"{rows_mib:.0f} MiB for all rows"
    )


def _gpu_on_paper(windows: int, feed: float, fixed: float) -> None:
    """The GPU projection from what was measured here: no GPU rate is assumed."""
    core_hours = windows / feed / 3600
    print("\n### On paper: the same clips on 8 and 64 GPUs\n")
    print(
        "No GPU was measured here, so no GPU embedding rate is assumed. What was measured: "
        f"the CPU side of a window (decode, resample, cut, and the cheap logmel) at {feed:.0f} "
        f"windows/s on one core, {core_hours:.2f} core-hours for all {windows:,} windows; "
        f"Ray's fixed cost per job, {fixed:.1f} s. With n GPU actors, c CPU cores feeding "
        "each and r_gpu the VGGish windows/s of one GPU actor (time `jaxmetrics embed "
        "... --ray --num-gpus 1` on n and 2n windows, as above),\n"
    )
    print("    wall ~ fixed + W / (n min(r_gpu, c feed)),   GPU-hours = n wall\n")
    print("The CPU side alone bounds the wall time from below (r_gpu unlimited):\n")
    print("| GPUs | c = 4 cores each | c = 8 | c = 16 |")
    print("|---|---|---|---|")
    for n in (8, 64):
        cells = [f"{(fixed + windows / (n * c * feed)) / 60:.1f} min" for c in (4, 8, 16)]
        print(f"| {n} | {' | '.join(cells)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # logmel is cheap: at 800 windows Ray's fixed cost swamped the steady rate (noise)
    parser.add_argument("--logmel-windows", type=int, default=2400)
    parser.add_argument("--vggish-windows", type=int, default=96)
    parser.add_argument("--stats-windows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads in-process")
    parser.add_argument("--quick", action="store_true", help="small sizes, not recorded")
    parser.add_argument("--stats-worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stats_worker:
        _stats_worker(args.stats_worker)
        return
    if args.quick:
        args.logmel_windows, args.vggish_windows, args.stats_windows = 16, 4, [20_000]
        args.repeats = 1

    work = Path(tempfile.mkdtemp(prefix="bench_store-"))
    try:
        import ray
        import torch

        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from bench_pipeline import _write_weights

        torch.set_num_threads(args.threads)
        weights = work / "weights"
        weights.mkdir()
        _write_weights(weights)
        env = {"JAXMETRICS_WEIGHTS": str(weights), "JAXMETRICS_OFFLINE": "1"}
        os.environ.update(env)
        start = time.perf_counter()
        ray.init(num_cpus=3, include_dashboard=False, logging_level="WARNING",
                 runtime_env={"env_vars": env})  # fmt: skip
        print(f"Ray {ray.__version__} local instance (3 logical CPUs on {os.cpu_count()} cores) "
              f"started in {time.perf_counter() - start:.1f} s; in-process torch threads: "
              f"{args.threads}")  # fmt: skip
        warm = _folder(work / "warm-up", 8)
        for workers in (1, 2):  # Ray's first jobs start its worker processes: not timed
            _time_run(warm, work / f"warm-store-{workers}", "vggish", "ray", workers)
        logmel = _throughput(work, "logmel", args.logmel_windows, args.repeats)
        vggish = _throughput(work, "vggish", args.vggish_windows, args.repeats)
        ray.shutdown()
        for windows in args.stats_windows:
            _stats_memory(work, windows)
        rate = vggish["Ray, 1 actor"][0]
        windows = 2 * 1_000_000
        print("\n### Projection: 1,000,000 clips of 10 s (2,000,000 VGGish windows)\n")
        print(f"At the steady rate of one CPU actor here ({rate:.2f} win/s), linear scaling:")
        for n in (8, 64):
            print(f"- {n} CPU actors: {windows / (rate * n) / 3600:.1f} h")
        _gpu_on_paper(windows, logmel["in-process"][0], vggish["Ray, 1 actor"][1])
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if "--stats-worker" in sys.argv or "--quick" in sys.argv:
        main()
    else:
        run_recorded(main, "bench_store: embedding store, Ray Data, streamed statistics")
