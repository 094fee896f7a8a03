"""The argument parser of the ``jaxmetrics`` command: subcommands, options, help texts."""

from __future__ import annotations

import argparse
from typing import Any

from jaxmetrics._src.version import VERSION
from jaxmetrics.audio import metric_names

__all__ = ["AUDIO_METRICS", "METRICS", "MIX_FUNCTIONS", "build_parser", "parse_metrics"]

AUDIO_METRICS = metric_names.METRICS
# From stored embeddings: APA needs the audio (its mixes), so `score` cannot compute it.
METRICS: tuple[str, ...] = tuple(m for m in AUDIO_METRICS if m != "apa")
MIX_FUNCTIONS = ("PP", "P0", "P1", "P2", "L0", "L1", "L2")

DESCRIPTION = """\
Audio-generation evaluation metrics (FAD, KD, PRDC, APA) on folders of audio.

  jaxmetrics demo                          synthetic audio of known degradation
  jaxmetrics evaluate REF CAND [CAND...]   metrics between folders of audio (or stores)
  jaxmetrics embed FOLDER -o FILE.npz      embeddings of a folder in one file
  jaxmetrics embed FOLDER -o STORE [--ray] embeddings in a resumable store (a folder)
  jaxmetrics score REF CAND [CAND...]      metrics from .npz files or stores (no torch)
  jaxmetrics report RESULTS.json -o FILE.html   a results file as one HTML page

Exit status: 0 all done; 1 finished, but a candidate set failed (its reason is
printed; the other sets' results are kept); 2 bad input, nothing computed.
"""

CACHE_HELP = (
    "folder of per-file embeddings that lets a rerun resume "
    "(default: $XDG_CACHE_HOME/jaxmetrics/embeddings)"
)


def _metric_parser(allowed: tuple[str, ...]):
    def parse(text: str) -> list[str]:
        try:
            return metric_names.parse_metric_names(text, allowed)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from err

    return parse


parse_metrics = _metric_parser(METRICS)


def _number(kind: type, expected: str, holds: Any, rule: str) -> Any:
    """An argparse type: ``kind(text)`` if ``holds`` accepts it, else an error saying why."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not holds(value):
            raise argparse.ArgumentTypeError(f"{rule}, got {text}")
        return value

    return parse


_positive_float = _number(float, "seconds", lambda v: v > 0, "must be a positive number of seconds")
_nonnegative_float = _number(float, "a number", lambda v: v >= 0, "must be 0 or more")
_positive_int = _number(int, "a whole number", lambda v: v >= 1, "must be at least 1")
_level = _number(
    float, "a level such as 0.95", lambda v: 0.0 < v < 1.0, "must be between 0 and 1 (e.g. 0.95)"
)


def _diagnostics_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "diagnostics (fad, kd, prdc on stems; each set's rows are kept in memory)"
    )
    group.add_argument(
        "--per-file",
        "--indiv",
        metavar="FILE.csv",
        help="one row per candidate file, worst first: its FAD against the reference "
        "(fadtk's --indiv), realism, manifold membership, nearest reference file, likely copies",
    )
    group.add_argument(
        "--csv",
        metavar="FILE",
        help="append one row per set and metric (value, interval, windows, embedder, date)",
    )
    group.add_argument(
        "--ci",
        type=_level,
        metavar="LEVEL",
        help="bootstrap interval of every metric at this level (e.g. 0.95), resampling the "
        "candidate files (windows of one file stay together; the reference is held fixed)",
    )
    group.add_argument(
        "--ci-resamples",
        type=_positive_int,
        default=200,
        metavar="N",
        help="bootstrap resamples for --ci (default 200)",
    )
    group.add_argument(
        "--inf", action="store_true", help="FAD-infinity (fadtk's fit against 1/n) beside FAD"
    )
    group.add_argument(
        "--report",
        metavar="FILE.html",
        help="a self-contained HTML report: summary, projection, FAD-infinity, realism, "
        "per-file table with players (rebuild it later with jaxmetrics report)",
    )


def _audio_options(win_dur: float) -> argparse.ArgumentParser:
    audio = argparse.ArgumentParser(add_help=False)
    audio.add_argument(
        "--win-dur",
        type=_positive_float,
        default=win_dur,
        help=f"window duration in seconds (default {win_dur:g})",
    )
    audio.add_argument("--device", default=None, help="torch device (default: best available)")
    audio.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return audio


def _embedder_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--embedder",
        default="clap-music",
        help="vggish, clap-music[-speech][-l-1|-l-2], logmel (default: clap-music)",
    )
    parser.add_argument(
        "--weights",
        metavar="PATH",
        help="weight file of a learned embedder, or a folder holding it under its published "
        "name (default: $JAXMETRICS_WEIGHTS, the user cache, then a download)",
    )
    parser.add_argument("--cache-dir", metavar="DIR", help=CACHE_HELP)
    parser.add_argument(
        "--no-cache", action="store_true", help="embed everything, keep no per-file embeddings"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``jaxmetrics`` command."""
    parser = argparse.ArgumentParser(
        prog="jaxmetrics",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"jaxmetrics {VERSION}")
    sub = parser.add_subparsers(dest="command", required=True)
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument(
        "--json", metavar="FILE", help="also write the results as JSON (updated per set)"
    )

    demo = sub.add_parser(
        "demo",
        parents=[as_json, _audio_options(2.0)],
        help="score synthetic audio of known degradation",
    )
    demo.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
    demo.add_argument(
        "--metrics",
        type=parse_metrics,
        default=list(METRICS),
        help="comma-separated subset of fad,kd,prdc (default: all)",
    )
    demo.add_argument("--embedder", default="logmel", help="embedder (default: logmel)")
    demo.add_argument("--clips", type=_positive_int, default=32, help="clips per set (default 32)")
    demo.add_argument(
        "--seconds", type=_positive_float, default=6.0, help="clip length (default 6 s)"
    )
    demo.add_argument("--save-audio", metavar="DIR", help="also write the demo audio as wav")
    demo.add_argument(
        "--embeddings", action="store_true", help="score synthetic embeddings instead of audio"
    )
    demo.add_argument(
        "--rows", type=_positive_int, default=2000, help="rows per set with --embeddings"
    )

    evaluate = sub.add_parser(
        "evaluate",
        parents=[as_json, _audio_options(5.0)],
        help="score folders of audio files",
        description="Score candidate folders (or globs, or files) of audio against a reference. "
        "Every input and output is checked before the first window is embedded; each "
        "candidate set's result is printed (and written to --json) as soon as it is "
        "computed, and a set that fails is reported while the others complete.",
    )
    evaluate.add_argument("reference", help="reference folder, glob, file or embedding store")
    evaluate.add_argument(
        "candidates", nargs="+", help="candidate folder(s), glob(s), file(s) or store(s)"
    )
    evaluate.add_argument(
        "--metrics",
        type=_metric_parser(AUDIO_METRICS),
        default=["fad"],
        help="comma-separated subset of fad,kd,prdc,apa (default: fad)",
    )
    _embedder_options(evaluate)
    evaluate.add_argument("--n-pca", type=_positive_int, default=None, help="PCA components")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of APA's misaligned pairing")
    evaluate.add_argument(
        "--mix-function",
        type=str.upper,
        choices=MIX_FUNCTIONS,
        default=None,
        help="APA mix: PP, P0, P1, P2, L0 (default), L1, L2",
    )
    evaluate.add_argument(
        "--context-name",
        metavar="NAME",
        help="APA, one folder per song: the file NAME.* of each folder is the context of "
        "the folder's other files (the stems)",
    )
    evaluate.add_argument(
        "--reference-context",
        metavar="DIR",
        help="APA, parallel folders: contexts of the reference stems, paired by file name",
    )
    evaluate.add_argument(
        "--candidate-context",
        metavar="DIR",
        action="append",
        help="APA, parallel folders: contexts of a candidate's stems (once per candidate)",
    )

    _diagnostics_options(evaluate)

    embed = sub.add_parser(
        "embed",
        parents=[_audio_options(5.0)],
        help="embeddings of a folder, in an .npz file or an embedding store",
        description="Embed a folder (or glob, or file) of audio. -o NAME.npz writes one "
        "embedding file; any other -o is an embedding store (a folder of Parquet shards): an "
        "existing store (a rerun embeds only the files missing or changed), an empty folder, "
        "or a new path. evaluate and score take a store wherever they take audio or an "
        "embedding file.",
    )
    embed.add_argument("folder", help="folder, glob or file of audio")
    embed.add_argument(
        "-o",
        "--output",
        required=True,
        help="FILE.npz (one file), or a store folder: any name not ending in .npz",
    )
    _embedder_options(embed)
    embed.add_argument(
        "--batch-size",
        type=_positive_int,
        default=None,
        metavar="N",
        help="windows per embedder call (default: chosen for the device: 32 on a CPU, from "
        "the free memory on a GPU; with Ray, by each actor)",
    )
    ray = embed.add_argument_group("Ray (store output only; needs pip install -e '.[ray]')")
    ray.add_argument("--ray", action="store_true", help="embed on a local Ray instance")
    ray.add_argument(
        "--ray-address", metavar="ADDRESS", help="join this Ray cluster (implies --ray)"
    )
    ray.add_argument(
        "--workers", type=_positive_int, default=None, help="embedding actors (default 1)"
    )
    ray.add_argument(
        "--num-gpus",
        type=_nonnegative_float,
        default=None,
        help="GPUs per actor (default: 1 if the cluster has GPUs, else 0)",
    )
    embed.set_defaults(json=None)

    score = sub.add_parser(
        "score",
        parents=[as_json],
        help="score cached embeddings (.npz or store from embed, or .npy)",
    )
    score.add_argument("reference", help="reference embeddings file or store")
    score.add_argument(
        "candidates", nargs="+", help="one or more candidate embeddings files or stores"
    )
    score.add_argument(
        "--metrics",
        type=parse_metrics,
        default=list(METRICS),
        help="comma-separated subset of fad,kd,prdc (default: all)",
    )
    score.add_argument(
        "--seed",
        type=int,
        default=0,
        help="unused: KD's subsets use audio-metrics' fixed seed (kept for older command lines)",
    )
    score.add_argument(
        "--assume-compatible",
        action="store_true",
        help="score files that do not record their embedder, window and sample rate (.npy): "
        "you vouch that they were embedded alike",
    )

    report = sub.add_parser(
        "report",
        help="a results file (evaluate --json) as one self-contained HTML page",
        description="Turn the JSON that evaluate --json wrote into one HTML file: tables, "
        "figures and audio players of the worst files. The players link to the audio "
        "relative to the report's folder: keep the report beside the run, or move both.",
    )
    report.add_argument("results", help="the results .json file")
    report.add_argument("-o", "--output", required=True, help="the HTML file to write")
    report.set_defaults(json=None)
    return parser
