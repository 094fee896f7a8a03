"""``jaxmetrics score REF CAND...``: metrics from embedding files or stores (no torch).

An input folder holding a store's identity file is read as an embedding
store (:mod:`jaxmetrics.cli.stores`); two stores must agree on every field of
their identity, a store and an ``.npz`` on what the ``.npz`` records.

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
from typing import Any

import numpy as np

from jaxmetrics.audio.embedding_files import Embeddings, check_compatible, read_embeddings
from jaxmetrics.audio.store import StoreIdentity
from jaxmetrics.cli import output
from jaxmetrics.cli.errors import EXIT_SOME_FAILED, CliError
from jaxmetrics.cli.preflight import InputSet, check_output
from jaxmetrics.cli.stores import is_store, open_input, store_embeddings

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


def _read(path: str, label: str) -> tuple[Embeddings, StoreIdentity | None]:
    """An embedding file's or a store's rows and settings (and the store's whole identity)."""
    if is_store(path):
        item = open_input(path, label)
        return store_embeddings(item), item.store.identity
    try:
        return read_embeddings(path), None
    except ValueError as err:
        raise CliError(str(err)) from None


def _check_pair(ref: tuple[str, Any], cand: tuple[str, Any], assume: bool) -> None:
    """Refuse a candidate embedded otherwise than the reference (every identity field of stores)."""
    (ref_path, (ref_emb, ref_id)), (path, (emb, ident)) = ref, cand
    if ref_id is not None and ident is not None:
        diff = ident.differences(ref_id)
        if diff:
            fields = "; ".join(d.replace(" != ", f" in {path}, ") + f" in {ref_path}" for d in diff)
            raise CliError(
                f"{path} and {ref_path} were embedded differently ({fields}): embeddings are "
                "not comparable"
            )
    try:
        check_compatible((ref_path, ref_emb), (path, emb), assume)
    except ValueError as err:
        raise CliError(str(err)) from None


def run_score(args: argparse.Namespace) -> int:
    """Run ``score``; the exit status (1 if a candidate failed)."""
    if args.json:
        paths = [p for p in (args.reference, *args.candidates)]
        files = [Path(p) for p in paths if not is_store(p)]
        stores = [p for p in paths if is_store(p)]
        check_output(args.json, "--json", [InputSet("inputs", "", [], [], None, files, stores)])
    read = {args.reference: _read(args.reference, f"reference {args.reference}")}
    for path in args.candidates:
        read[path] = _read(path, f"candidate {path}")
    for path in args.candidates:
        _check_pair((args.reference, read[args.reference]), (path, read[path]),
                    args.assume_compatible)  # fmt: skip
    reference = read[args.reference][0]
    candidates = {path: read[path][0] for path in args.candidates}
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
