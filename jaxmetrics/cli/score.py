"""``jaxmetrics score REF CAND...``: metrics from embedding files (imports no torch, no embedders).

Every file is read and checked before anything is scored: readable, not
damaged (digest), embedded with the same embedder, window and sample rate as
the reference; a file that records none of these (a bare ``.npy``) needs
``--assume-compatible``. A candidate whose scoring fails is reported and the
others are still scored.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from jaxmetrics.audio.embedding_files import Embeddings, check_compatible, read_embeddings
from jaxmetrics.cli import output
from jaxmetrics.cli.errors import EXIT_SOME_FAILED, CliError
from jaxmetrics.cli.preflight import InputSet, check_output

__all__ = ["run_score", "score_sets"]


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


def _read(path: str) -> Embeddings:
    try:
        return read_embeddings(path)
    except ValueError as err:
        raise CliError(str(err)) from None


def run_score(args: argparse.Namespace) -> int:
    """Run ``score``; the exit status (1 if a candidate failed)."""
    if args.json:
        files = [Path(p) for p in (args.reference, *args.candidates)]
        check_output(args.json, "--json", [InputSet("inputs", "", [], [], None, files, [])])
    reference = _read(args.reference)
    candidates = {path: _read(path) for path in args.candidates}
    for path, cand in candidates.items():
        try:
            check_compatible((args.reference, reference), (path, cand), args.assume_compatible)
        except ValueError as err:
            raise CliError(str(err)) from None
    summary = {"results": {}, "failed": {}, **reference.settings}
    table = output.ResultsTable(args.metrics, list(candidates), windows=True)
    failed = []
    for path, cand in candidates.items():
        try:
            row = score_sets(reference.rows, cand.rows, args.metrics)
        except ValueError as err:
            print(f"error: {path}: {err}", file=sys.stderr)
            summary["failed"][path] = str(err)
            failed.append(path)
            table.failed(path)
        else:
            summary["results"][path] = row
            table.row(path, row, cand.rows.shape[0])
        output.write_json(args.json, summary)
    if args.json:
        print(f"wrote {args.json}")
    return EXIT_SOME_FAILED if failed else 0
