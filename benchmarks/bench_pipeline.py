"""AudioMetrics pipeline throughput beside the bare model and beside audio_metrics.AudioMetrics.

Random weights (written to a temporary ``JAXMETRICS_WEIGHTS`` directory),
torch on ``--threads`` threads, CPU. For each embedder and task the table
gives windows per second of:

- ``forward``: the model alone on inputs prepared beforehand;
- ``embed``: the adapter (``embedder.embed``: checks, features, forward);
- ``ours``: ``jaxmetrics.AudioMetrics`` (``add_reference`` then ``evaluate``);
- ``audio-metrics``: ``audio_metrics.AudioMetrics`` 1.0.4 with the same
  embedder object injected (where that package imports).

Tasks: ``fad`` (stems: one model call per window) and ``fad+apa`` (reference
windows are embedded three times: stem, aligned mix, misaligned mix; L0
mixes). Throughput counts model windows (embedder inputs), so the columns are
comparable; ``overhead`` is ours over ``embed`` minus one. Input is at the
embedder's rate unless ``--input-sr`` is given.

Measured 2026-11-27 (this file's functions in one interleaved process, VGGish
16 windows, median of 3, load average about 7 on 2 shared cores): VGGish
``fad+apa`` 2.29 win/s, bare adapter 2.30, bare forward 2.91, audio-metrics
2.17 (ours 1.06x; overhead over the adapter +0.4%); ``fad`` 2.34 against
audio-metrics 2.41 (0.97x).
CLAP, 4 windows, same run (load falling from 7 to 3 while it ran): ``fad``
0.67 win/s for both (1.00x); ``fad+apa`` 0.61 against audio-metrics 0.32
(1.9x); the adapter alone measured 0.55, slower than the pipeline, so load
drift exceeded the overhead and the CLAP overhead was not resolved.
CLAP on a quiet machine (``--embedders clap-music --clap-windows 8``, nothing
else running, torch 2.14.1): ``fad`` 2.8 win/s against audio-metrics 2.2
(1.27x), ``fad+apa`` 2.6 against 2.2 (1.14x); bare adapter 2.6, bare forward
2.6: overhead +2% (``fad+apa``) and -7% (``fad``, fuller batches than one
8-window adapter call).

Quiet runs (nothing else on the 2 cores), 2026-11-27, VGGish 32 windows:
``fad`` 0.95x and 0.96x audio-metrics, ``fad+apa`` 0.95x and 1.02x, while the
bare model itself moved from 9.7 to 8.7 win/s between the two runs.
``--zero-cost N`` compares the pipelines alone, with an embedder that costs
nothing (two runs at 512 windows, ms per model window): ``fad`` ours 0.106 /
0.138 against 0.139 / 0.152, ``fad+apa`` 2.25 / 2.46 against 5.54 / 5.47.

``--readme-examples N`` instead runs the two examples of the audio-metrics
README (default embedder CLAP music, random audio at 48 kHz, ``N`` windows of
5 s; the README has 100) with only the import line changed, on the random
CLAP checkpoint written here in the released format and loaded through the
real loading path, and prints their results and wall times. At 100 windows
that is 700 CLAP windows, too slow for CI, where the test runs them at 4.
Recorded at 100 (2026-11-27, torch 2.14.1, 2 threads, load average 6-7 on 2
shared cores, beside another benchmark): example 1 printed ``{'fad': 0.00868,
'kernel_distance_mean': 3.8e-09, 'kernel_distance_std': 4.4e-07,
'precision': 0.97, 'recall': 0.87, 'density': 1.112, 'coverage': 1.0}`` in
519.6 s (200 windows), example 2 ``{'fad': 0.00873, 'apa': 0.492}`` in
973.2 s (500 windows); 1,493 s in all.

Usage: python benchmarks/bench_pipeline.py [--windows 64] [--clap-windows 16]
       python benchmarks/bench_pipeline.py --readme-examples 100
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

# The audio-metrics 1.0.4 README examples, import line changed: the text the
# tests run, with a timing line after each example.
README_EXAMPLES = (
    Path(__file__).parents[1] / "tests" / "embedders" / "audio_metrics_readme_examples.txt"
).read_text().replace(
    "\n# To compute APA",
    '_lap("example 1 (prdc, fad, kd)", 2 * n_windows)\n\n# To compute APA',
    1,
) + '_lap("example 2 (fad, apa)", 5 * n_windows)\n'


def _readme_examples(n_windows: int) -> None:
    """Run the README text (with ``_lap`` timing lines added after each example)."""
    laps = [time.perf_counter()]

    def lap(label: str, model_windows: int) -> None:
        laps.append(time.perf_counter())
        wall = laps[-1] - laps[-2]
        rate = model_windows / wall
        print(f"{label}: {wall:.1f} s, {model_windows} CLAP windows, {rate:.2f} win/s")

    code = README_EXAMPLES.replace("n_windows = 100", f"n_windows = {n_windows}")
    np.random.seed(0)
    exec(compile(code, "README", "exec"), {"_lap": lap})  # noqa: S102 - the README's own text
    print(f"total: {laps[-1] - laps[0]:.1f} s")


def _write_weights(directory: Path) -> None:
    import torch

    from embedders import _clap, _vggish

    torch.manual_seed(0)
    torch.save(_vggish.build_network().state_dict(), directory / "vggish-10086976.pth")
    state = {f"module.{k}": v for k, v in _clap.build_network().state_dict().items()}
    torch.save({"state_dict": state}, directory / _clap.CLAP_CHECKPOINTS["music"].filename)


class _Shared:
    """Our embedder in audio-metrics' convention too (``sr``, ``forward``, ``get_device``)."""

    def __init__(self, inner, torch) -> None:
        self.inner, self.torch = inner, torch
        self.name, self.sample_rate, self.sr = inner.name, inner.sample_rate, inner.sample_rate

    def embed(self, audio):
        return self.inner.embed(audio)

    def get_device(self):  # their GPU handler runs the call in place on "cuda:0"
        return self.torch.device("cuda", 0)

    def forward(self, data, sr=None):
        return {
            "embedding": self.torch.from_numpy(self.inner.embed(data["audio"].astype(np.float32)))
        }


def _bare_forward(embedder, audio):
    import torch

    from embedders._clap import CLIP_SAMPLES, prepare
    from embedders._vggish_features import log_mel_examples

    if embedder.name == "vggish":
        ex = log_mel_examples(audio)
        x = torch.from_numpy(ex.reshape(-1, 1, *ex.shape[2:]).copy())
        batch = embedder.batch_size
    else:
        x = torch.from_numpy(prepare(audio).reshape(-1, CLIP_SAMPLES).copy())
        batch = embedder.batch_size

    def run():
        with torch.inference_mode():
            for i in range(0, x.shape[0], batch):
                embedder._model(x[i : i + batch])

    return run


class _ZeroCost:
    """An embedder that costs nothing: what is left is each pipeline's own work."""

    name, sample_rate, sr = "zero-cost", 16000, 16000

    def embed(self, audio):
        rng = np.random.default_rng(audio.shape[0])
        return rng.normal(size=(audio.shape[0], 128)).astype(np.float32)

    def get_device(self):
        import torch

        return torch.device("cuda", 0)

    def forward(self, data, sr=None):
        import torch

        return {"embedding": torch.from_numpy(self.embed(data["audio"]))}


def _pipeline_cost(n: int, seconds: float, repeats: int) -> None:
    """Ours and audio-metrics with a zero-cost embedder: the pipelines' own time per window."""
    import audio_metrics

    from jaxmetrics import AudioMetrics

    embedder = _ZeroCost()
    rng = np.random.default_rng(0)
    win = int(seconds * embedder.sample_rate)
    stems = rng.uniform(-0.5, 0.5, (n, win)).astype(np.float32)
    pairs = rng.uniform(-0.5, 0.5, (n, win, 2)).astype(np.float32)
    rows = []
    for task, metrics, data, calls in (
        ("fad", ["fad"], stems, 2 * n),
        ("fad+apa", ["fad", "apa"], pairs, 5 * n),
    ):

        def ours(m=metrics, d=data):
            am = AudioMetrics(m, embedder=embedder, win_dur=seconds, progress=False)
            am.add_reference(d)
            am.evaluate(d)

        def theirs(m=metrics, d=data):
            am = audio_metrics.AudioMetrics(
                metrics=m, embedder=embedder, device_indices=[0], win_dur=seconds
            )
            am.add_reference(d)
            am.evaluate(iter(d))

        t = _interleaved({"ours": ours, "theirs": theirs}, repeats)
        rows.append((task, calls, t["ours"], t["theirs"]))
    print(f"\nzero-cost embedder, {n} windows per set, median of {repeats} interleaved runs\n")
    print("| task | model windows | ours ms/window | audio-metrics ms/window |")
    print("|---|---|---|---|")
    for task, calls, ours_t, theirs_t in rows:
        print(f"| {task} | {calls} | {1e3 * ours_t / calls:.3f} | {1e3 * theirs_t / calls:.3f} |")


def _interleaved(fns, repeats):
    """Median time of each function, run round-robin so that load drift hits all alike."""
    for fn in fns.values():
        fn()  # warm-up (jit compiles, first-touch allocations)
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=64, help="VGGish windows per set")
    parser.add_argument("--clap-windows", type=int, default=16, help="CLAP windows per set")
    parser.add_argument("--seconds", type=float, default=5.0, help="window length")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--input-sr", type=int, default=None)
    parser.add_argument("--embedders", nargs="+", default=["vggish", "clap-music"])
    parser.add_argument("--readme-examples", type=int, default=None, metavar="N_WINDOWS")
    parser.add_argument(
        "--zero-cost",
        type=int,
        default=None,
        metavar="N_WINDOWS",
        help="only compare the pipelines' own time, with an embedder that costs nothing",
    )
    args = parser.parse_args()
    if args.zero_cost is not None:
        _pipeline_cost(args.zero_cost, args.seconds, max(args.repeats, 5))
        return

    import torch

    torch.set_num_threads(args.threads)
    import embedders
    from jaxmetrics import AudioMetrics

    if args.readme_examples is not None:
        weights = Path(tempfile.mkdtemp())
        _write_weights(weights)
        os.environ["JAXMETRICS_WEIGHTS"] = str(weights)
        os.environ["JAXMETRICS_OFFLINE"] = "1"
        print(f"CPU, torch {torch.__version__}, {args.threads} threads, load {os.getloadavg()}")
        _readme_examples(args.readme_examples)
        return

    try:
        import audio_metrics
    except ImportError as err:
        audio_metrics = None
        print(f"(audio_metrics not importable: {err})")

    weights = Path(tempfile.mkdtemp())
    _write_weights(weights)
    os.environ["JAXMETRICS_WEIGHTS"] = str(weights)
    os.environ["JAXMETRICS_OFFLINE"] = "1"
    rng = np.random.default_rng(0)
    rows = []
    for name in args.embedders:
        inner = embedders.get(name, device="cpu")
        shared = _Shared(inner, torch)
        sr = inner.sample_rate
        n = args.windows if name == "vggish" else args.clap_windows
        win = int(args.seconds * sr)
        in_sr = args.input_sr or sr
        stems = rng.uniform(-0.5, 0.5, (n, win)).astype(np.float32)
        pairs = rng.uniform(-0.5, 0.5, (n, win, 2)).astype(np.float32)
        if in_sr != sr:
            import soxr

            stems_in = np.stack([soxr.resample(x, sr, in_sr) for x in stems])
            pairs_in = np.stack([soxr.resample(x, sr, in_sr) for x in pairs])
        else:
            stems_in, pairs_in = stems, pairs
        fns = {
            "forward": _bare_forward(inner, stems),
            "embed": lambda s=stems, e=inner: e.embed(s),
        }
        tasks = (
            ("fad", ["fad"], stems_in, 2 * n),
            ("fad+apa", ["fad", "apa"], pairs_in, 3 * n + 2 * n),
        )
        for task, metrics, data, _ in tasks:

            def ours(m=metrics, d=data, e=shared, r=in_sr):
                am = AudioMetrics(m, embedder=e, win_dur=args.seconds, input_sr=r, progress=False)
                am.add_reference(d)
                am.evaluate(d)

            fns[f"ours {task}"] = ours
            if audio_metrics is not None:

                def theirs(m=metrics, d=data, e=shared, r=in_sr):
                    am = audio_metrics.AudioMetrics(
                        metrics=m, embedder=e, device_indices=[0], win_dur=args.seconds, input_sr=r
                    )
                    am.add_reference(d)
                    am.evaluate(iter(d))

                fns[f"theirs {task}"] = theirs
        t = _interleaved(fns, args.repeats)
        for task, _, _, calls in tasks:
            theirs_t = t.get(f"theirs {task}")
            rows.append(
                (
                    name,
                    task,
                    calls,
                    t["forward"] / n,
                    t["embed"] / n,
                    t[f"ours {task}"] / calls,
                    None if theirs_t is None else theirs_t / calls,
                )
            )

    print(
        f"\nCPU, torch {torch.__version__}, {args.threads} threads, {args.seconds:g} s windows, "
        f"input at {args.input_sr or 'the embedder rate in'} Hz, "
        f"median of {args.repeats} interleaved runs\n"
    )
    print(
        "| embedder | task | model windows | forward win/s | embed win/s | ours win/s "
        "| audio-metrics win/s | ours / audio-metrics | overhead vs embed |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, task, calls, fwd, emb, ours_t, theirs_t in rows:
        ratio = f"{theirs_t / ours_t:.2f}x" if theirs_t else "n/a"
        theirs_s = f"{1 / theirs_t:.1f}" if theirs_t else "n/a"
        print(
            f"| {name} | {task} | {calls} | {1 / fwd:.1f} | {1 / emb:.1f} | {1 / ours_t:.1f} "
            f"| {theirs_s} | {ratio} | {ours_t / emb - 1:+.0%} |"
        )


if __name__ == "__main__":
    from _results import run_recorded

    run_recorded(main, "Pipeline throughput against audio-metrics")
