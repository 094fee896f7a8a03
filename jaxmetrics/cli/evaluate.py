"""``jaxmetrics evaluate REFERENCE CANDIDATE...``: metrics between folders of audio.

Everything is checked first (:mod:`jaxmetrics.cli.preflight`); then the
reference is embedded and each candidate set in turn. An input that is an
embedding store (:mod:`jaxmetrics.cli.stores`) is read, not embedded; its
identity must be the one the command line's embedder and window give,
checked once the embedder is built and before anything is embedded. A candidate set that
fails (no usable audio, too few windows for a metric) is reported with its
name and reason and the others still complete; each completed set's row is
printed and the JSON file rewritten at once, so an interrupted or partly
failed run keeps every finished result.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from jaxmetrics.audio.set_embedding import default_cache_dir
from jaxmetrics.audio.store import StoreIdentity
from jaxmetrics.cli import csv_output, output, run_extras
from jaxmetrics.cli.embedding import (
    build_metrics,
    cache_root,
    embedder_identity,
    reader_for,
    stem_embeddings,
)
from jaxmetrics.cli.errors import EXIT_SOME_FAILED, CliError
from jaxmetrics.cli.preflight import (
    InputSet,
    check_apa_options,
    check_cache_dir,
    check_device,
    check_output,
    check_weights,
    resolve_input,
)
from jaxmetrics.cli.set_diagnostics import SetDiagnostics, SetRows, check_options, wanted
from jaxmetrics.cli.stores import StoreInput, check_identity, is_store, open_input

__all__ = ["LARGE_SET", "PRDC_K", "resolve_all", "run_evaluate", "small_set_warnings"]

PRDC_K = 10  # audio-metrics' neighbourhood size (smaller sets use fewer)
LARGE_SET = 2000  # windows above which a message says that KD/PRDC are being computed


def resolve_all(args: argparse.Namespace) -> tuple[Any, list[Any]]:
    """Check the options and resolve every input and output before any work.

    Returns:
        The reference and candidates: an :class:`InputSet` for audio, a
        :class:`~jaxmetrics.cli.stores.StoreInput` for an embedding store.

    """
    check_options(args)
    check_apa_options(args)
    check_weights(args.weights, args.embedder)
    check_device(args.device, args.embedder)
    if args.no_cache and args.cache_dir:
        raise CliError("--cache-dir and --no-cache contradict each other; give one")
    seen = set()
    for spec in args.candidates:
        if spec in seen:
            raise CliError(f"candidate {spec} is given twice")
        seen.add(spec)
    apa = "apa" in args.metrics

    def resolve(spec: str, label: str, context: str | None, name: str | None) -> Any:
        if is_store(spec):
            if apa:
                raise CliError(
                    f"{label}: apa needs the audio (its mixes); an embedding store holds stem "
                    "embeddings only: give the audio folder, or leave apa out of --metrics"
                )
            return open_input(spec, label)
        return resolve_input(spec, label, args.win_dur, context=context, context_name=name)

    reference = resolve(
        args.reference,
        f"reference {args.reference}",
        args.reference_context if apa else None,
        args.context_name if apa else None,
    )
    contexts = (
        args.candidate_context if apa and args.candidate_context else [None] * len(args.candidates)
    )
    candidates = [
        resolve(spec, f"candidate set {spec}", context, args.context_name if apa else None)
        for spec, context in zip(args.candidates, contexts, strict=True)
    ]
    # a store is an input folder: nothing may be written into it
    inputs = [
        InputSet(i.label, i.spec, [], [], None, [], [i.spec]) if isinstance(i, StoreInput) else i
        for i in (reference, *candidates)
    ]
    for item in inputs:
        _early_warnings(item, args)
    for path, flag in (
        (args.json, "--json"),
        (args.per_file, "--per-file"),
        (args.csv, "--csv"),
        (args.report, "--report"),
    ):
        if path:
            check_output(path, flag, inputs)
    if args.csv:
        csv_output.check_set_csv(args.csv)
    if not args.no_cache and not apa:
        check_cache_dir(Path(args.cache_dir) if args.cache_dir else default_cache_dir(), inputs)
    return reference, candidates


def _early_warnings(item: InputSet, args: argparse.Namespace) -> None:
    """Say before any work which sets the file headers already show will fail."""
    if item.expected_windows == 0:
        output.warn(
            f"{item.label}: by their headers, none of its files holds a whole {args.win_dur:g} s "
            "window: this set will fail (the other sets are still computed)"
        )
    elif item.expected_windows is not None and "kd" in args.metrics and item.expected_windows < 4:
        output.warn(
            f"{item.label}: {item.expected_windows} windows by the file headers, KD needs at "
            "least 4: this set will fail (the other sets are still computed)"
        )


def small_set_warnings(label: str, metrics: list[str], windows: int, dim: int | None) -> None:
    """Warn when a set is too small for a metric's number to mean much."""
    if "fad" in metrics and dim is not None and windows < dim:
        output.warn(
            f"{label}: {windows} windows < embedding dimension {dim}: its covariance is "
            "singular and FAD is dominated by sampling noise"
        )
    if "prdc" in metrics and windows < 2 * PRDC_K:
        output.warn(
            f"{label}: {windows} windows < 2k = {2 * PRDC_K}: PRDC's k-nearest-neighbour balls "
            "are too coarse to mean much"
        )


def _audio_warnings(label: str, files: Any) -> None:
    if files.silent:
        output.warn(
            f"{label}: {len(files.silent)} file(s) are digital silence, e.g. {files.silent[0]}"
        )
    if files.clipped:
        output.warn(
            f"{label}: {len(files.clipped)} file(s) have samples beyond [-1, 1] (clipping, or "
            f"audio not normalised), e.g. {files.clipped[0]}"
        )


def _no_windows(files: Any) -> str:
    return f"no usable audio ({len(files.skipped)} of {files.total} files skipped, see above)"


class _Run:
    """One evaluate run: the pipeline, the cache, the summary written as sets complete."""

    def __init__(self, args: argparse.Namespace, reference: InputSet) -> None:
        self.args = args
        self.apa = "apa" in args.metrics
        progress = not args.no_progress
        self.progress = progress
        self.am = build_metrics(args, args.metrics, progress=progress and self.apa)
        self.cache = None if self.apa else cache_root(args)
        self.embedded = 0
        self.reused = 0
        self.from_stores = 0  # windows of the stores given as inputs
        self.dim: int | None = args.n_pca
        self.diagnostics: SetDiagnostics | None = None
        self.rows: SetRows | None = None  # the last set's rows, when diagnostics need them
        self.summary: dict[str, Any] = {
            **run_extras.header(),
            "embedder": embedder_identity(self.am, args),
            "win_dur": self.am.win_dur,
            "metrics": list(args.metrics),
            "reference": {"path": reference.spec},
            "candidates": {},
            "results": {},
            "failed": {},
        }

    def _embed(self, item: InputSet, files: Any, add: Any) -> Any:
        """Embed one set's files and hand them to ``add`` (the reference or evaluate call).

        The reader is made by the caller, so that a failure can still list
        the files it skipped.
        """
        if self.apa:
            return add(files)
        result = stem_embeddings(item, files, self.am, self.args, self.progress)
        self.embedded += result.embedded
        self.reused += result.reused
        if self.args.n_pca is None and result.embeddings.shape[0]:
            self.dim = result.embeddings.shape[1]
        if not result.embeddings.shape[0]:
            raise ValueError("no windows")  # reported as "no usable audio" by the caller
        if wanted(self.args):
            self.rows = SetRows.from_audio(result.embeddings, files)
        if self.progress and files.windows > LARGE_SET and {"kd", "prdc"} & set(self.args.metrics):
            print(
                f"{item.label}: computing {', '.join(self.args.metrics)} on {files.windows} "
                "windows ...",
                file=sys.stderr,
                flush=True,
            )
        return add(result.embeddings)

    def check_stores(self, items: list[Any]) -> None:
        """Refuse stores embedded otherwise than the command line asks (before any embedding)."""
        wanted = StoreIdentity.of(self.am)
        for item in items:
            if isinstance(item, StoreInput):
                check_identity(item, wanted, "the command line's embedder and window")

    def _store(self, item: StoreInput, add: Any) -> tuple[Any, int, int, list]:
        """Hand a store to ``add`` (streamed statistics, or its rows); report its skipped files."""
        store = item.store
        windows, files, skipped = store.windows, len(store.files()), store.skipped()
        if self.args.n_pca is None:
            self.dim = store.dim
        result = add(item.spec)
        if wanted(self.args):
            self.rows = SetRows.from_store(store, item.spec)
        self.from_stores += windows
        shown = SimpleNamespace(skipped=skipped, total=files + len(skipped))
        return result, windows, files, output.report_skipped(item.label, shown)

    def reference(self, item: Any) -> None:
        """Embed the reference; any failure ends the run (exit 2): nothing can be scored."""
        if isinstance(item, StoreInput):
            try:
                _, windows, files, skipped = self._store(item, self.am.add_reference)
            except ValueError as err:
                raise CliError(f"{item.label}: {err}") from err
            self.summary["reference"].update(files=files, windows=windows, skipped=skipped)
            small_set_warnings(item.label, self.args.metrics, windows, self.dim)
            self._start_diagnostics()
            output.write_json(self.args.json, self.summary)
            return
        add = self.am.add_reference if self.apa else self.am.add_reference_embeddings
        files = reader_for(item, self.am)
        try:
            self._embed(item, files, add)
        except ValueError as err:
            output.report_skipped(item.label, files)
            reason = _no_windows(files) if files.windows == 0 else str(err)
            raise CliError(f"{item.label}: {reason}") from err
        self.summary["reference"].update(
            files=len(files.used),
            windows=files.windows,
            skipped=output.report_skipped(item.label, files),
        )
        _audio_warnings(item.label, files)
        small_set_warnings(item.label, self.args.metrics, files.windows, self.dim)
        self._start_diagnostics()
        output.write_json(self.args.json, self.summary)

    def _start_diagnostics(self) -> None:
        if wanted(self.args) and self.rows is not None:
            self.diagnostics = SetDiagnostics(self.args, self.rows, self.summary)

    def _finish_set(self, spec: str, result: dict[str, float], windows: int, files: int) -> None:
        """What a completed set adds beyond its row: diagnostics, intervals, CSV rows."""
        extras: dict[str, Any] = {}
        if self.diagnostics is not None and self.rows is not None:
            extras = self.diagnostics.candidate(spec, self.rows)
            run_extras.print_extras(result, extras, self.args)
            if self.args.per_file:
                csv_output.write_per_file(self.args.per_file, self.summary["diagnostics"])
        if self.args.csv:
            csv_output.append_set_rows(
                self.args.csv,
                run_extras.set_rows(self.summary, spec, result, extras, windows, files, self.args),
            )

    def _store_candidate(self, item: StoreInput, table: output.ResultsTable) -> bool:
        try:
            result, windows, files, skipped = self._store(item, self.am.evaluate)
        except ValueError as err:
            print(f"error: {item.label}: {err}", file=sys.stderr)
            self.summary["failed"][item.spec] = str(err)
            table.failed(item.spec)
            output.write_json(self.args.json, self.summary)
            return False
        self.summary["candidates"][item.spec] = {
            "files": files,
            "windows": windows,
            "skipped": skipped,
        }
        small_set_warnings(item.label, self.args.metrics, windows, self.dim)
        self.summary["results"][item.spec] = result
        table.row(item.spec, result, windows)
        self._finish_set(item.spec, result, windows, files)
        output.write_json(self.args.json, self.summary)
        return True

    def candidate(self, item: Any, table: output.ResultsTable) -> bool:
        """Score one candidate set; a failure is reported and recorded, and the run goes on."""
        if isinstance(item, StoreInput):
            return self._store_candidate(item, table)
        evaluate = self.am.evaluate if self.apa else self.am.evaluate_embeddings
        files = reader_for(item, self.am)
        try:
            result = self._embed(item, files, evaluate)
        except ValueError as err:
            reason = _no_windows(files) if files.windows == 0 else str(err)
            output.report_skipped(item.label, files)
            print(f"error: {item.label} ({files.windows} windows): {reason}", file=sys.stderr)
            self.summary["failed"][item.spec] = reason
            table.failed(item.spec)
            output.write_json(self.args.json, self.summary)
            return False
        self.summary["candidates"][item.spec] = {
            "files": len(files.used),
            "windows": files.windows,
            "skipped": output.report_skipped(item.label, files),
        }
        _audio_warnings(item.label, files)
        small_set_warnings(item.label, self.args.metrics, files.windows, self.dim)
        self.summary["results"][item.spec] = result
        table.row(item.spec, result, files.windows)
        self._finish_set(item.spec, result, files.windows, len(files.used))
        output.write_json(self.args.json, self.summary)
        return True


def run_evaluate(args: argparse.Namespace) -> int:
    """Run ``evaluate``; the exit status (0, or 1 if a candidate set failed)."""
    start = time.perf_counter()
    reference, candidates = resolve_all(args)
    run = _Run(args, reference)
    run.check_stores([reference, *candidates])
    run.reference(reference)
    table = output.ResultsTable(args.metrics, [c.spec for c in candidates], windows=True)
    ok = [run.candidate(item, table) for item in candidates]
    run_extras.finish(run.summary, args)
    output.write_json(args.json, run.summary)
    elapsed = time.perf_counter() - start
    cache_note = ""
    if run.cache is not None:
        cache_note = (
            f"; {run.embedded} windows embedded, {run.reused} read from the embedding stores "
            f"under {run.cache}"
        )
    if run.from_stores:
        cache_note += f"; {run.from_stores} windows read from the stores given"
    print(f"\n({elapsed:.1f} s{cache_note})")
    for path in (args.json, args.per_file, args.csv, args.report):
        if path:
            print(f"wrote {path}")
    failed = [c.spec for c, good in zip(candidates, ok, strict=True) if not good]
    if failed:
        print(
            f"error: {len(failed)} of {len(candidates)} candidate sets failed: "
            f"{', '.join(failed)} (see above); the other results are kept",
            file=sys.stderr,
        )
        return EXIT_SOME_FAILED
    return 0
