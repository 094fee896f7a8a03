"""Building the pipeline from the options, and embedding one input set with progress and resume.

Stems (FAD, KD, PRDC, ``embed``) go through a Parquet embedding store per
input (:mod:`jaxmetrics.audio.set_embedding`), so a killed run resumes; APA's
mixes are embedded by :class:`~jaxmetrics.AudioMetrics` itself, not stored.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from jaxmetrics.audio.files import AudioFiles, probe
from jaxmetrics.audio.set_embedding import SetEmbedder, default_cache_dir, input_root, set_store
from jaxmetrics.cli.errors import CliError
from jaxmetrics.cli.preflight import InputSet

__all__ = [
    "SetResult",
    "build_metrics",
    "cache_root",
    "embedder_identity",
    "named_embedder",
    "reader_for",
    "stem_embeddings",
]


def named_embedder(args: argparse.Namespace) -> Any:
    """The embedder name, or an embedder built with ``--weights`` when given."""
    weights = getattr(args, "weights", None)
    if weights is None:
        return args.embedder
    if Path(weights).is_dir():
        # A folder: the file under its published name, and no download elsewhere.
        os.environ["JAXMETRICS_WEIGHTS"] = str(Path(weights).resolve())
        os.environ["JAXMETRICS_OFFLINE"] = "1"
        return args.embedder
    import embedders

    kwargs: dict[str, Any] = {"weights": weights}
    if args.device is not None:
        kwargs["device"] = args.device
    return embedders.get(args.embedder, **kwargs)


def build_metrics(args: argparse.Namespace, metrics: Sequence[str], progress: bool) -> Any:
    """An :class:`~jaxmetrics.AudioMetrics` for these options (loads the embedder's weights).

    Raises:
        CliError: if the embedder cannot be built or its weights are missing.

    """
    from jaxmetrics.audio.audio_metrics import AudioMetrics
    from jaxmetrics.audio.batch_size import CPU_BATCH_SIZE, with_device_batch_size

    def build(size: int) -> Any:
        return AudioMetrics(
            metrics=list(metrics),
            embedder=named_embedder(args),
            win_dur=args.win_dur,
            device=args.device,
            seed=getattr(args, "seed", 0),
            n_pca=getattr(args, "n_pca", None),
            mix_function=getattr(args, "mix_function", None),
            batch_size=size,
            progress=progress,
        )

    # embed's --batch-size only (None: chosen for the device); evaluate keeps 32
    batch_size = getattr(args, "batch_size", CPU_BATCH_SIZE)
    try:
        return with_device_batch_size(build, batch_size)
    except ImportError as err:
        raise CliError(f"embedder {args.embedder!r} cannot be built: {err}") from err
    except FileNotFoundError as err:  # embedders.WeightsNotFoundError
        raise CliError(f"weights for {args.embedder!r} not available: {err}") from err
    except ValueError as err:  # an unknown name; a corrupt weights file
        raise CliError(f"--embedder {args.embedder}: {err}") from err


def embedder_identity(am: Any, args: argparse.Namespace) -> str:
    """The embedder identity written to outputs; names a ``--weights`` file when one is given."""
    weights = getattr(args, "weights", None)
    if weights is None:
        return am.embedder_identity
    return f"{am.embedder_identity},weights={Path(weights).name}"


def _extra_identity(args: argparse.Namespace) -> str:
    """What the store identity does not record: the ``--weights`` file itself."""
    weights = getattr(args, "weights", None)
    if weights is None:
        return ""
    path = Path(weights).resolve()
    stat = path.stat()
    return f"weights={path}:{stat.st_size}:{stat.st_mtime_ns}"


def cache_root(args: argparse.Namespace) -> Path | None:
    """The folder of the embedding stores (None with ``--no-cache``)."""
    if args.no_cache:
        return None
    return Path(args.cache_dir) if args.cache_dir else default_cache_dir()


def reader_for(item: InputSet, am: Any) -> AudioFiles:
    """The :class:`AudioFiles` reader of an input set, labelled for progress bars."""
    files = AudioFiles(item.entries, am.sample_rate, am.window_length, am.win_dur, item.skipped)
    files.label = item.label
    files.expected_windows = item.expected_windows
    return files


class SetResult(NamedTuple):
    """A set's stem embeddings and where they came from."""

    embeddings: np.ndarray
    embedded: int  # windows embedded in this run
    reused: int  # windows read back from the store
    store: Path | None


def stem_embeddings(
    item: InputSet, files: AudioFiles, am: Any, args: argparse.Namespace, progress: bool
) -> SetResult:
    """Embed a set's stems through its store (only the files it lacks), with a progress bar.

    The bar counts the windows to embed in this run, known up front from the
    pending files' headers, and is labelled with the set's name.
    """
    root = cache_root(args)
    store = None
    if root is not None:
        try:
            store = set_store(root, am, input_root(item.spec), _extra_identity(args))
        except ValueError as err:
            raise CliError(f"--cache-dir {root}: {err}") from err
    embedder = SetEmbedder(files, am, store, input_root(item.spec))
    total = None
    headers = [probe(Path(p)) for p in embedder.pending]
    if all(h is not None for h in headers):
        total = sum(int(frames / sr / am.win_dur) for frames, sr in headers)
    reused = len(files.files) - len(embedder.pending)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        note = f" ({reused} files already embedded)" if reused else ""
        bar = tqdm(
            desc=f"{item.label}{note}",
            total=total,
            unit="win",
            dynamic_ncols=True,
            file=sys.stderr,
        )
    try:
        rows = embedder.run(bar.update if bar is not None else None)
    finally:
        if bar is not None:
            bar.close()
    where = None if store is None else store.path
    return SetResult(rows, embedder.embedded, embedder.reused, where)
