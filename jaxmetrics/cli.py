"""The ``jaxmetrics`` command line (metric-core part: no torch is imported here).

``jaxmetrics demo`` scores synthetic candidate sets of known degradation;
``jaxmetrics score REF CAND...`` scores precomputed embeddings (``.npy`` or
``.npz``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

METRICS: tuple[str, ...] = ("fad", "kd", "prdc")


def parse_metrics(text: str) -> list[str]:
    """Split a comma-separated metric list and reject unknown names."""
    names = [m.strip().lower() for m in text.split(",") if m.strip()]
    unknown = [m for m in names if m not in METRICS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown metric(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(METRICS)}"
        )
    return names


def score_sets(
    reference: np.ndarray,
    candidate: np.ndarray,
    metrics: Sequence[str],
    *,
    seed: int = 0,
    k: int = 5,
) -> dict[str, float]:
    """Compute the requested metrics between two embedding sets, as Python floats.

    Result keys follow the audio-metrics package: ``fad``,
    ``kernel_distance_mean``, ``kernel_distance_std``, ``precision``,
    ``recall``, ``density``, ``coverage``.
    """
    import jax

    import jaxmetrics as jm

    out: dict[str, float] = {}
    if "fad" in metrics:
        out["fad"] = float(jm.frechet_distance(reference, candidate))
    if "kd" in metrics:
        kd = jm.kernel_distance(reference, candidate, key=jax.random.key(seed))
        out["kernel_distance_mean"] = float(kd.mean)
        out["kernel_distance_std"] = float(kd.std)
    if "prdc" in metrics:
        out.update(
            {name: float(v) for name, v in jm.prdc(reference, candidate, k=k)._asdict().items()}
        )
    return out


def _print_table(rows: dict[str, dict[str, float]]) -> None:
    columns = list(next(iter(rows.values())))
    width = max(len(name) for name in rows)
    print(" | ".join([f"{'set':<{width}}", *[f"{c:>20}" for c in columns]]))
    print("-+-".join(["-" * width, *["-" * 20 for _ in columns]]))
    for name, values in rows.items():
        print(" | ".join([f"{name:<{width}}", *[f"{values[c]:>20.6g}" for c in columns]]))


def _load_embeddings(path: str) -> np.ndarray:
    file = Path(path)
    if not file.is_file():
        raise SystemExit(f"error: {path}: no such file")
    try:
        data = np.load(file, allow_pickle=False)
    except Exception as err:  # noqa: BLE001 - any unreadable file gets the same message
        raise SystemExit(f"error: {path}: not a readable .npy/.npz file ({err})") from err
    if isinstance(data, np.lib.npyio.NpzFile):
        key = "embeddings" if "embeddings" in data.files else data.files[0]
        data = data[key]
    return data


def _run_demo(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    from jaxmetrics._synthetic import degraded_embedding_sets

    reference, candidates = degraded_embedding_sets(num_rows=args.rows, seed=args.seed)
    print(
        f"Synthetic embeddings: reference {reference.shape}, {len(candidates)} candidate sets "
        "at increasing degradation (mean shift, spread, mode collapse).\n"
    )
    return {
        name: score_sets(reference, cand, args.metrics, seed=args.seed)
        for name, cand in candidates.items()
    }


def _run_score(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    reference = _load_embeddings(args.reference)
    candidates = {path: _load_embeddings(path) for path in args.candidates}
    return {
        name: score_sets(reference, cand, args.metrics, seed=args.seed)
        for name, cand in candidates.items()
    }


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``jaxmetrics`` command."""
    parser = argparse.ArgumentParser(prog="jaxmetrics", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--metrics",
        type=parse_metrics,
        default=list(METRICS),
        help="comma-separated subset of fad,kd,prdc (default: all)",
    )
    common.add_argument("--seed", type=int, default=0, help="seed for KD subsets and data")
    common.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    demo = sub.add_parser(
        "demo", parents=[common], help="score synthetic sets of known degradation"
    )
    demo.add_argument("--rows", type=int, default=2000, help="rows per synthetic set")
    score = sub.add_parser("score", parents=[common], help="score cached embeddings (.npy/.npz)")
    score.add_argument("reference", help="reference embeddings file")
    score.add_argument("candidates", nargs="+", help="one or more candidate embeddings files")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``jaxmetrics`` console script."""
    args = build_parser().parse_args(argv)
    start = time.perf_counter()
    try:
        rows = _run_demo(args) if args.command == "demo" else _run_score(args)
    except (ValueError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    _print_table(rows)
    print(f"\n({time.perf_counter() - start:.1f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
