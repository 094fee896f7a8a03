"""``jaxmetrics embed FOLDER -o STORE``: a folder's embeddings into a Parquet embedding store.

The store is its own resume record: a rerun embeds only the files missing
from it or changed since (content digest), in this process or, with
``--ray``/``--ray-address``, on Ray Data (:func:`jaxmetrics.audio.embed_store.embed_to_store`).
Checked first: the input holds readable audio; the output is a store, an
empty or new folder, outside every input folder; Ray is installed when asked
for; the options make sense. A store of another identity is refused when the
embedder is built, before any file is embedded.
"""

from __future__ import annotations

import argparse
import time
from types import SimpleNamespace

from jaxmetrics.audio.embed_store import embed_to_store
from jaxmetrics.audio.set_embedding import input_root
from jaxmetrics.cli import output
from jaxmetrics.cli.embedding import named_embedder
from jaxmetrics.cli.errors import CliError
from jaxmetrics.cli.preflight import InputSet
from jaxmetrics.cli.stores import check_store_output

__all__ = ["check_ray_options", "embed_into_store"]


def check_ray_options(args: argparse.Namespace, to_store: bool) -> str:
    """The executor the options ask for; refuse Ray options without a store, or without Ray.

    Raises:
        CliError: on Ray options with an ``.npz`` output, or a missing Ray
            (with the install command).

    """
    wants_ray = args.ray or args.ray_address is not None
    given = [
        name
        for name, value in (
            ("--ray", args.ray),
            ("--ray-address", args.ray_address),
            ("--workers", args.workers is not None),
            ("--num-gpus", args.num_gpus is not None),
        )
        if value
    ]
    if not to_store:
        if given:
            raise CliError(
                f"{', '.join(given)}: Ray writes an embedding store, not an .npz file; give "
                "-o a folder (a name without .npz)"
            )
        return "local"
    if not wants_ray:
        extra = [g for g in given if g in ("--workers", "--num-gpus")]
        if extra:
            raise CliError(f"{', '.join(extra)}: only used with --ray or --ray-address")
        return "local"
    from jaxmetrics.audio.ray_embed import require_ray

    try:
        require_ray()
    except ImportError as err:
        raise CliError(f"--ray: {err}") from None
    return "ray"


def _batch_note(batch_size: int | None) -> str:
    return "" if batch_size is None else f", batch size {batch_size}"


def embed_into_store(args: argparse.Namespace, item: InputSet, executor: str) -> int:
    """Embed ``item``'s files into the store ``args.output``; report and return the exit status."""
    start = time.perf_counter()
    if args.no_cache or args.cache_dir:
        raise CliError(
            "--cache-dir/--no-cache: a store output is its own resume record; leave them out"
        )
    check_store_output(args.output, "-o", [item])
    embedder = named_embedder(args)
    if executor == "ray" and not isinstance(embedder, str):
        raise CliError(
            "--weights FILE with Ray: each actor builds its own model by name; give --weights "
            "a folder holding the file under its published name"
        )
    files = [str(e) for e in item.entries]
    report = embed_to_store(
        files,
        args.output,
        root=input_root(item.spec),
        embedder=embedder,
        win_dur=args.win_dur,
        device=args.device,
        progress=not args.no_progress,
        executor=executor,
        workers=args.workers or 1,
        ray_address=args.ray_address,
        num_gpus=args.num_gpus,
        batch_size=args.batch_size,
    )
    skipped = [*item.skipped, *report.skipped]
    output.report_skipped(
        args.folder, SimpleNamespace(skipped=skipped, total=len(files) + len(item.skipped))
    )
    store = report.store
    if not store.windows:
        raise CliError(
            f"{args.folder}: no usable audio ({len(skipped)} of {len(files) + len(item.skipped)} "
            "files skipped, see above)"
        )
    print(
        f"wrote {args.output}: {store.windows} windows x {store.dim} from {len(store.files())} "
        f"files ({store.identity.embedder}, win_dur {args.win_dur:g} s"
        f"{_batch_note(report.batch_size)}); this run embedded "
        f"{report.windows} windows from {report.files} files, {report.already_stored} files "
        f"were already stored{' (Ray)' if executor == 'ray' else ''}"
    )
    print(f"\n({time.perf_counter() - start:.1f} s)")
    return 0
