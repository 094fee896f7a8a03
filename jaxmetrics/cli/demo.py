"""``jaxmetrics demo``: synthetic audio (or embeddings) of known, increasing degradation.

Scores a synthetic reference against candidate sets from clean to degraded
with the weight-free ``logmel`` embedder (offline, no torch), so a new user
sees the metrics order the sets before pointing them at their own audio.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from jaxmetrics.cli import output
from jaxmetrics.cli.embedding import build_metrics
from jaxmetrics.cli.preflight import check_device, check_output
from jaxmetrics.cli.score import score_sets

__all__ = ["run_demo"]

NEXT_STEPS = """
The logmel embedder is a weight-free baseline: its numbers are not comparable with published
FAD figures. The same with a learned embedder (downloads its weights once; needs the
embedders extra, see the README):
  jaxmetrics demo --embedder vggish
  jaxmetrics demo --embedder clap-music
and on your own audio:
  jaxmetrics evaluate REFERENCE_DIR CANDIDATE_DIR --metrics fad,kd,prdc --embedder clap-music"""


def _save_audio(folder: Path, reference: Any, candidates: dict, sr: int) -> None:
    import soundfile

    for name, clips in {"reference": reference, **candidates}.items():
        sub = folder / name.replace("=", "-")
        sub.mkdir(parents=True, exist_ok=True)
        for i, clip in enumerate(clips):
            soundfile.write(str(sub / f"clip{i:03d}.wav"), clip, sr, subtype="FLOAT")
    print(f"wrote the demo audio under {folder}/ (reference/, level-0/, ...)\n")


def run_demo(args: argparse.Namespace) -> int:
    """Run ``demo``; the exit status."""
    start = time.perf_counter()
    if args.json:
        check_output(args.json, "--json", [])
    summary: dict[str, Any]
    if args.embeddings:
        from jaxmetrics.cli.synthetic import degraded_embedding_sets

        reference, candidates = degraded_embedding_sets(num_rows=args.rows, seed=args.seed)
        print(
            f"Synthetic embeddings: reference {reference.shape}, {len(candidates)} candidate "
            "sets at increasing degradation (mean shift, spread, mode collapse).\n"
        )
        rows = {name: score_sets(reference, c, args.metrics) for name, c in candidates.items()}
        summary = {"results": rows}
    else:
        from jaxmetrics.audio.synthetic_audio import degraded_audio_sets

        check_device(args.device, args.embedder)
        args.weights = None
        am = build_metrics(args, args.metrics, progress=not args.no_progress)
        reference, candidates = degraded_audio_sets(
            clips=args.clips, seconds=args.seconds, sr=am.sample_rate, seed=args.seed
        )
        print(
            f"Synthetic audio: a reference set of {len(reference)} clips of {args.seconds:g} s "
            "of chords, and candidate sets at increasing degradation (level 0: clean; level "
            f"1: detuned, low-passed, clipped, noisy), {am.win_dur:g} s windows, embedder "
            f"{am.embedder_identity}.\n"
        )
        if args.save_audio:
            _save_audio(Path(args.save_audio), reference, candidates, am.sample_rate)
        am.add_reference(reference)
        summary = {"results": am.evaluate_many(candidates), "embedder": am.embedder_identity}
    table = output.ResultsTable(args.metrics, list(summary["results"]), windows=False)
    for name, values in summary["results"].items():
        table.row(name, values)
    output.write_json(args.json, summary)
    print(f"\n({time.perf_counter() - start:.1f} s)")
    if not args.embeddings:
        print(NEXT_STEPS)
    if args.json:
        print(f"wrote {args.json}")
    return 0
