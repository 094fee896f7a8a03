"""The ``jaxmetrics`` command line.

- ``jaxmetrics demo``: synthesises a reference set and candidate sets at known,
  increasing degradation, scores them with the weight-free ``logmel`` embedder
  (offline, well under a minute) and prints a table;
- ``jaxmetrics evaluate REFERENCE CANDIDATE...``: FAD, KD, PRDC, APA between
  folders (or globs) of audio files;
- ``jaxmetrics embed FOLDER -o FILE``: caches stem embeddings in an ``.npz``;
- ``jaxmetrics score REF CAND...``: metrics from cached embeddings (``.npz``
  from ``embed``, or ``.npy``); imports neither torch nor the embedders.

Bad input (no audio, unknown metric or embedder, missing weights, every file
unreadable) ends with a message and exit status 2; files that cannot be used
are skipped, counted and listed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jaxmetrics.audio import metric_names

AUDIO_METRICS = metric_names.METRICS
# From stored embeddings: APA needs the audio (its mixes), so `score` cannot compute it.
METRICS: tuple[str, ...] = tuple(m for m in AUDIO_METRICS if m != "apa")
EMBEDDINGS_FORMAT = "jaxmetrics.embeddings"


class CliError(Exception):
    """An error reported as ``error: ...`` with exit status 2."""


def _metric_parser(allowed: tuple[str, ...]):
    def parse(text: str) -> list[str]:
        try:
            return metric_names.parse_metric_names(text, allowed)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from err

    return parse


parse_metrics = _metric_parser(METRICS)


def score_sets(
    reference: np.ndarray, candidate: np.ndarray, metrics: Sequence[str]
) -> dict[str, float]:
    """FAD/KD/PRDC between two embedding sets, as :class:`jaxmetrics.AudioMetrics` scores them.

    Result keys follow the audio-metrics package: ``fad``,
    ``kernel_distance_mean``, ``kernel_distance_std``, ``precision``,
    ``recall``, ``density``, ``coverage``.
    """
    from jaxmetrics.audio.state import score_embeddings

    return score_embeddings(metrics, reference=reference, candidate=candidate)


def _print_table(rows: dict[str, dict[str, float]]) -> None:
    columns = list(dict.fromkeys(c for values in rows.values() for c in values))
    short = {"kernel_distance_mean": "kd_mean", "kernel_distance_std": "kd_std"}
    width = max(len("set"), *(len(name) for name in rows))
    print(" | ".join([f"{'set':<{width}}", *[f"{short.get(c, c):>11}" for c in columns]]))
    print("-+-".join(["-" * width, *["-" * 11 for _ in columns]]))
    for name, values in rows.items():
        cells = [f"{values[c]:>11.5g}" if c in values else f"{'':>11}" for c in columns]
        print(" | ".join([f"{name:<{width}}", *cells]))


def _report_skipped(label: str, files: Any) -> list[dict[str, str]]:
    if files.skipped:
        print(
            f"warning: {label}: skipped {len(files.skipped)} of {files.total} files:",
            file=sys.stderr,
        )
        for skip in files.skipped:
            print(f"  {skip.path}: {skip.reason}", file=sys.stderr)
    return [{"path": s.path, "reason": s.reason} for s in files.skipped]


# ---------------------------------------------------------------------------
# score (no torch)
# ---------------------------------------------------------------------------


def _load_embeddings(path: str) -> tuple[np.ndarray, dict[str, Any]]:
    file = Path(path)
    if not file.is_file():
        raise CliError(f"{path}: no such file")
    try:
        data = np.load(file, allow_pickle=False)
    except Exception as err:  # noqa: BLE001 - any unreadable file gets the same message
        raise CliError(f"{path}: not a readable .npy/.npz file ({err})") from err
    meta: dict[str, Any] = {}
    if isinstance(data, np.lib.npyio.NpzFile):
        with data:
            if not data.files:
                raise CliError(f"{path}: empty .npz file")
            key = "embeddings" if "embeddings" in data.files else data.files[0]
            for name in ("embedder", "win_dur", "sample_rate"):
                if name in data.files:
                    meta[name] = data[name].item()
            data = data[key]
    if data.ndim != 2 or data.shape[0] < 2:
        raise CliError(f"{path}: expected embeddings of shape (n >= 2, dim), got {data.shape}")
    return data, meta


def _run_score(args: argparse.Namespace) -> dict[str, Any]:
    reference, ref_meta = _load_embeddings(args.reference)
    rows = {}
    for path in args.candidates:
        candidate, meta = _load_embeddings(path)
        for key in ("embedder", "win_dur", "sample_rate"):
            if key in meta and key in ref_meta and meta[key] != ref_meta[key]:
                raise CliError(
                    f"{path} was embedded with {key}={meta[key]!r} but {args.reference} with "
                    f"{key}={ref_meta[key]!r}: embeddings are not comparable"
                )
        rows[path] = score_sets(reference, candidate, args.metrics)
    return {"results": rows, **ref_meta}


# ---------------------------------------------------------------------------
# audio: evaluate, embed, demo
# ---------------------------------------------------------------------------


def _build_metrics(args: argparse.Namespace, metrics: Sequence[str]) -> Any:
    from jaxmetrics.audio.audio_metrics import AudioMetrics

    try:
        return AudioMetrics(
            metrics=list(metrics),
            embedder=args.embedder,
            win_dur=args.win_dur,
            device=args.device,
            seed=args.seed,
            n_pca=getattr(args, "n_pca", None),
            mix_function=getattr(args, "mix_function", None),
            progress=not args.no_progress,
        )
    except ImportError as err:
        raise CliError(f"embedder {args.embedder!r} cannot be built: {err}") from err
    except FileNotFoundError as err:  # embedders.WeightsNotFoundError
        raise CliError(f"weights for {args.embedder!r} not available: {err}") from err


def _audio_files(spec: str, am: Any, context: str | None = None) -> Any:
    from jaxmetrics.audio.files import AudioFiles, InputError, Skipped, find_audio, pair_by_name

    try:
        files: list = find_audio(spec)
        unmatched = []
        if context is not None:
            files, unmatched = pair_by_name(files, spec, find_audio(context), context)
    except InputError as err:
        raise CliError(str(err)) from err
    skipped = [Skipped(str(f), f"no context file of the same name in {context}") for f in unmatched]
    return AudioFiles(files, am.sample_rate, am.window_length, am.win_dur, skipped)


def _no_windows(label: str, reader: Any) -> CliError:
    _report_skipped(label, reader)
    return CliError(
        f"{label}: no usable audio ({len(reader.skipped)} of {reader.total} files skipped, "
        "see above)"
    )


def _run_evaluate(args: argparse.Namespace) -> dict[str, Any]:
    if "apa" in args.metrics:
        if not args.reference_context or not args.candidate_context:
            raise CliError(
                "apa needs context/stem pairs: give --reference-context DIR and "
                "--candidate-context DIR (files are paired with the stems by name)"
            )
        if len(args.candidate_context) != len(args.candidates):
            raise CliError("give one --candidate-context per candidate folder, in the same order")
    am = _build_metrics(args, args.metrics)
    reference = _audio_files(args.reference, am, args.reference_context)
    try:
        am.add_reference(reference)
    except ValueError as err:
        raise _no_windows(f"reference {args.reference}", reference) from err
    summary: dict[str, Any] = {
        "embedder": am.embedder_identity,
        "win_dur": am.win_dur,
        "reference": {
            "path": args.reference,
            "files": len(reference.used),
            "windows": reference.windows,
            "skipped": _report_skipped(f"reference {args.reference}", reference),
        },
        "candidates": {},
        "results": {},
    }
    contexts = args.candidate_context or [None] * len(args.candidates)
    for spec, context in zip(args.candidates, contexts, strict=True):
        candidate = _audio_files(spec, am, context)
        try:
            summary["results"][spec] = am.evaluate(candidate)
        except ValueError as err:
            if candidate.windows == 0:
                raise _no_windows(f"candidate {spec}", candidate) from err
            raise
        summary["candidates"][spec] = {
            "files": len(candidate.used),
            "windows": candidate.windows,
            "skipped": _report_skipped(f"candidate {spec}", candidate),
        }
    return summary


def _run_embed(args: argparse.Namespace) -> dict[str, Any]:
    am = _build_metrics(args, ["kd"])
    reader = _audio_files(args.folder, am)
    try:
        embeddings = am.embed_stems(reader)
    except ValueError as err:
        raise _no_windows(args.folder, reader) from err
    skipped = _report_skipped(args.folder, reader)
    out = Path(args.output)
    file_index = np.repeat(np.arange(len(reader.used)), reader.windows_per_file)
    with open(out, "wb") as f:
        np.savez(
            f,
            embeddings=embeddings,
            format=np.array(EMBEDDINGS_FORMAT),
            embedder=np.array(am.embedder_identity),
            win_dur=np.array(am.win_dur),
            sample_rate=np.array(am.sample_rate),
            files=np.array(reader.used),
            file_index=file_index,
            skipped=np.array([f"{s.path}: {s.reason}" for s in reader.skipped]),
        )
    print(
        f"wrote {out}: {embeddings.shape[0]} windows x {embeddings.shape[1]} from "
        f"{len(reader.used)} files ({am.embedder_identity}, win_dur {am.win_dur:g} s)"
    )
    return {"output": str(out), "windows": int(embeddings.shape[0]), "skipped": skipped}


def _run_demo(args: argparse.Namespace) -> dict[str, Any]:
    if args.embeddings:
        from jaxmetrics.cli.synthetic import degraded_embedding_sets

        reference, candidates = degraded_embedding_sets(num_rows=args.rows, seed=args.seed)
        print(
            f"Synthetic embeddings: reference {reference.shape}, {len(candidates)} candidate "
            "sets at increasing degradation (mean shift, spread, mode collapse).\n"
        )
        rows = {name: score_sets(reference, c, args.metrics) for name, c in candidates.items()}
        return {"results": rows}
    from jaxmetrics.audio.synthetic_audio import degraded_audio_sets

    am = _build_metrics(args, args.metrics)
    reference, candidates = degraded_audio_sets(
        clips=args.clips, seconds=args.seconds, sr=am.sample_rate, seed=args.seed
    )
    print(
        f"Synthetic audio: a reference set of {len(reference)} clips of {args.seconds:g} s of "
        f"chords, and candidate sets at increasing degradation (level 0: clean; level 1: "
        f"detuned, low-passed, clipped, noisy), {am.win_dur:g} s windows, embedder "
        f"{am.embedder_identity}.\n"
    )
    if args.save_audio:
        _save_demo_audio(Path(args.save_audio), reference, candidates, am.sample_rate)
    am.add_reference(reference)
    return {"results": am.evaluate_many(candidates), "embedder": am.embedder_identity}


def _save_demo_audio(folder: Path, reference, candidates, sr: int) -> None:
    import soundfile

    for name, clips in {"reference": reference, **candidates}.items():
        sub = folder / name.replace("=", "-")
        sub.mkdir(parents=True, exist_ok=True)
        for i, clip in enumerate(clips):
            soundfile.write(str(sub / f"clip{i:03d}.wav"), clip, sr, subtype="FLOAT")
    print(f"wrote the demo audio under {folder}/ (reference/, level-0/, ...)\n")


# ---------------------------------------------------------------------------
# parser and entry point
# ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``jaxmetrics`` command."""
    parser = argparse.ArgumentParser(prog="jaxmetrics", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--seed", type=int, default=0, help="seed for data and APA pairing")
    common.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    audio = argparse.ArgumentParser(add_help=False)
    audio.add_argument(
        "--win-dur", type=float, default=5.0, help="window duration in seconds (default 5)"
    )
    audio.add_argument("--device", default=None, help="torch device (default: best available)")
    audio.add_argument("--no-progress", action="store_true", help="hide progress bars")

    demo = sub.add_parser(
        "demo", parents=[common, audio], help="score synthetic audio of known degradation"
    )
    demo.add_argument(
        "--metrics",
        type=parse_metrics,
        default=list(METRICS),
        help="comma-separated subset of fad,kd,prdc (default: all)",
    )
    demo.add_argument("--embedder", default="logmel", help="embedder (default: logmel)")
    demo.add_argument("--clips", type=int, default=32, help="clips per set (default 32)")
    demo.add_argument("--seconds", type=float, default=6.0, help="clip length (default 6 s)")
    demo.add_argument("--save-audio", metavar="DIR", help="also write the demo audio as wav")
    demo.add_argument(
        "--embeddings", action="store_true", help="score synthetic embeddings instead of audio"
    )
    demo.add_argument("--rows", type=int, default=2000, help="rows per set with --embeddings")
    demo.set_defaults(win_dur=2.0)

    evaluate = sub.add_parser(
        "evaluate", parents=[common, audio], help="score folders of audio files"
    )
    evaluate.add_argument("reference", help="reference folder, glob or file")
    evaluate.add_argument("candidates", nargs="+", help="candidate folder(s), glob(s) or file(s)")
    evaluate.add_argument(
        "--metrics",
        type=_metric_parser(AUDIO_METRICS),
        default=["fad"],
        help="comma-separated subset of fad,kd,prdc,apa (default: fad)",
    )
    evaluate.add_argument(
        "--embedder", default="clap-music", help="vggish, clap-music[-speech][-l-1|-l-2], logmel"
    )
    evaluate.add_argument("--n-pca", type=int, default=None, help="PCA components (default off)")
    evaluate.add_argument("--mix-function", default=None, help="APA mix: PP, P0-P2, L0-L2")
    evaluate.add_argument(
        "--reference-context", metavar="DIR", help="APA: contexts of the reference stems"
    )
    evaluate.add_argument(
        "--candidate-context",
        metavar="DIR",
        action="append",
        help="APA: contexts of a candidate's stems (once per candidate)",
    )

    embed = sub.add_parser("embed", parents=[audio], help="cache embeddings of a folder")
    embed.add_argument("folder", help="folder, glob or file of audio")
    embed.add_argument("-o", "--output", required=True, help="output .npz file")
    embed.add_argument("--embedder", default="clap-music", help="embedder name")
    embed.set_defaults(seed=0, json=None)

    score = sub.add_parser("score", parents=[common], help="score cached embeddings (.npz/.npy)")
    score.add_argument("reference", help="reference embeddings file")
    score.add_argument("candidates", nargs="+", help="one or more candidate embeddings files")
    score.add_argument(
        "--metrics",
        type=parse_metrics,
        default=list(METRICS),
        help="comma-separated subset of fad,kd,prdc (default: all)",
    )
    return parser


_RUNNERS = {"demo": _run_demo, "evaluate": _run_evaluate, "embed": _run_embed, "score": _run_score}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``jaxmetrics`` console script."""
    args = build_parser().parse_args(argv)
    start = time.perf_counter()
    try:
        summary = _RUNNERS[args.command](args)
    except CliError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (ValueError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if "results" in summary:
        _print_table(summary["results"])
    print(f"\n({time.perf_counter() - start:.1f} s)")
    if args.command == "demo" and not args.embeddings:
        print(
            "\nThe logmel embedder is a weight-free baseline: its numbers are not comparable "
            "with published FAD figures.\nThe same with a learned embedder (downloads its "
            "weights once; needs the embedders extra, see the README):\n"
            "  jaxmetrics demo --embedder vggish\n"
            "  jaxmetrics demo --embedder clap-music\n"
            "and on your own audio:\n"
            "  jaxmetrics evaluate REFERENCE_DIR CANDIDATE_DIR --metrics fad,kd,prdc "
            "--embedder clap-music"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
