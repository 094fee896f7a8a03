"""``jaxmetrics embed FOLDER -o FILE.npz``: the stem embeddings of a folder, in one file.

An output not ending in ``.npz`` is an embedding store instead
(:mod:`jaxmetrics.cli.embed_store`).

Checked first: the input exists and holds readable audio; the output's folder
exists and is writable, and the output is not an input (nor inside an input
folder). Files are embedded through the per-file cache, so a killed run
resumes; the output is written atomically, so a kill never damages an
earlier file of that name.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from jaxmetrics.audio.embedding_files import write_embeddings
from jaxmetrics.audio.set_embedding import default_cache_dir
from jaxmetrics.cli import output
from jaxmetrics.cli.embed_store import check_ray_options, embed_into_store
from jaxmetrics.cli.embedding import (
    build_metrics,
    embedder_identity,
    reader_for,
    stem_embeddings,
)
from jaxmetrics.cli.errors import CliError
from jaxmetrics.cli.preflight import (
    check_cache_dir,
    check_device,
    check_output,
    check_weights,
    resolve_input,
)
from jaxmetrics.cli.stores import writes_store

__all__ = ["run_embed"]


def run_embed(args: argparse.Namespace) -> int:
    """Run ``embed``; the exit status."""
    start = time.perf_counter()
    check_weights(args.weights, args.embedder)
    check_device(args.device, args.embedder)
    if args.no_cache and args.cache_dir:
        raise CliError("--cache-dir and --no-cache contradict each other; give one")
    to_store = writes_store(args.output)
    executor = check_ray_options(args, to_store)
    item = resolve_input(args.folder, args.folder, args.win_dur)
    if to_store:
        return embed_into_store(args, item, executor)
    check_output(args.output, "-o", [item])
    if not args.no_cache:
        check_cache_dir(Path(args.cache_dir) if args.cache_dir else default_cache_dir(), [item])
    am = build_metrics(args, ["kd"], progress=False)
    files = reader_for(item, am)
    result = stem_embeddings(item, files, am, args, not args.no_progress)
    output.report_skipped(args.folder, files)
    if not result.embeddings.shape[0]:
        raise CliError(
            f"{args.folder}: no usable audio ({len(files.skipped)} of {files.total} files "
            "skipped, see above)"
        )
    embeddings = result.embeddings
    identity = embedder_identity(am, args)
    write_embeddings(
        args.output,
        embeddings,
        embedder=identity,
        win_dur=am.win_dur,
        sample_rate=am.sample_rate,
        files=files.used,
        windows_per_file=files.windows_per_file,
        skipped=[f"{s.path}: {s.reason}" for s in files.skipped],
    )
    print(
        f"wrote {args.output}: {embeddings.shape[0]} windows x {embeddings.shape[1]} from "
        f"{len(files.used)} files ({identity}, win_dur {am.win_dur:g} s, batch size "
        f"{am.batch_size}); "
        f"{result.embedded} windows embedded, {result.reused} read from the embedding store"
    )
    print(f"\n({time.perf_counter() - start:.1f} s)")
    return 0
