"""Embedder throughput: windows/s of ``embed`` beside the bare model forward.

Random weights (written to a temporary ``JAXMETRICS_WEIGHTS`` directory in
the released layouts), torch on 2 threads, 5 s windows of noise. For each
batch size the table gives the median over several runs of the adapter's
``embed`` (input checks, preprocessing, batching, device transfers, forward,
pooling) and of the model's forward alone on inputs prepared beforehand, so
the adapter's overhead is the difference. Each cell stops repeating once it
has used ``--cell-seconds``; the run count is printed.

Usage: python benchmarks/bench_embedders.py [--clap-batches 1 8 32]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def _median(fn: Callable[[], object], repeats: int, budget: float) -> tuple[float, int]:
    fn()  # warm-up
    times: list[float] = []
    while len(times) < repeats:
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        if sum(times) > budget:
            break
    return statistics.median(times), len(times)


def _write_weights(directory: Path) -> None:
    import torch

    from embedders import _clap, _vggish

    torch.manual_seed(0)
    torch.save(_vggish.build_network().state_dict(), directory / "vggish-10086976.pth")
    # the reference checkpoint layout with the audio entries only: the text
    # branch is never read, so writing it would only cost time here
    state = {f"module.{k}": v for k, v in _clap.build_network().state_dict().items()}
    torch.save({"state_dict": state}, directory / _clap.CLAP_CHECKPOINTS["music"].filename)


def _forward(embedder, audio: np.ndarray) -> Callable[[], object]:
    """The bare model call on inputs prepared outside the timed region."""
    import torch

    from embedders._clap import CLIP_SAMPLES, prepare
    from embedders._vggish_features import log_mel_examples

    model = embedder._model
    if embedder.name == "vggish":
        ex = log_mel_examples(audio)
        x = torch.from_numpy(ex.reshape(-1, 1, *ex.shape[2:]).copy())
    else:
        x = torch.from_numpy(prepare(audio).reshape(-1, CLIP_SAMPLES).copy())

    def run() -> object:
        with torch.inference_mode():
            return model(x)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="window length")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--clap-batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cell-seconds", type=float, default=8.0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    import embedders

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        _write_weights(Path(tmp))
        os.environ["JAXMETRICS_WEIGHTS"] = tmp
        os.environ["JAXMETRICS_OFFLINE"] = "1"
        plan = [
            ("logmel", args.batches),
            ("vggish", args.batches),
            ("clap-music", args.clap_batches),
        ]
        rng = np.random.default_rng(0)
        for name, batches in plan:
            kwargs = {} if name == "logmel" else {"device": "cpu", "batch_size": 512}
            emb = embedders.get(name, **kwargs)
            for batch in batches:
                samples = int(args.seconds * emb.sample_rate)
                audio = (0.1 * rng.standard_normal((batch, samples))).astype(np.float32)
                t_embed, n_embed = _median(
                    lambda emb=emb, audio=audio: emb.embed(audio), args.repeats, args.cell_seconds
                )
                if name == "logmel":
                    t_fwd, n_fwd = float("nan"), 0
                else:
                    t_fwd, n_fwd = _median(_forward(emb, audio), args.repeats, args.cell_seconds)
                rows.append((name, batch, t_embed, n_embed, t_fwd, n_fwd))
                print(
                    f"# {name} batch {batch}: embed {t_embed:.3f} s, forward {t_fwd:.3f} s",
                    flush=True,
                )

    print(
        f"\n{args.seconds:g} s windows, torch {torch.__version__}, "
        f"{args.threads} threads, random weights; medians (runs)\n"
    )
    print(
        "| embedder | batch | embed windows/s | forward windows/s | embed ms/window "
        "| overhead vs forward |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, batch, t_embed, n_embed, t_fwd, n_fwd in rows:
        fwd = "-" if n_fwd == 0 else f"{batch / t_fwd:.2f} ({n_fwd})"
        overhead = "-" if n_fwd == 0 else f"{100 * (t_embed - t_fwd) / t_fwd:+.1f}%"
        print(
            f"| {name} | {batch} | {batch / t_embed:.2f} ({n_embed}) | {fwd} "
            f"| {1000 * t_embed / batch:.1f} | {overhead} |"
        )


if __name__ == "__main__":
    from _results import run_recorded

    run_recorded(main, "Embedder throughput")
