"""Building the pipeline from the options, and embedding one input set with progress and resume.

Stems (FAD, KD, PRDC, ``embed``) go through the per-file embedding cache
(:mod:`jaxmetrics.audio.embedding_cache`), so a killed run resumes; APA's
mixes are embedded by :class:`~jaxmetrics.AudioMetrics` itself, uncached.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jaxmetrics.audio.embedding_cache import EmbeddingCache, default_cache_dir, embed_files
from jaxmetrics.audio.files import AudioFiles
from jaxmetrics.cli.errors import CliError
from jaxmetrics.cli.preflight import InputSet

__all__ = ["build_metrics", "embedder_identity", "open_cache", "reader_for", "stem_embeddings"]


def _named_embedder(args: argparse.Namespace) -> Any:
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

    try:
        return AudioMetrics(
            metrics=list(metrics),
            embedder=_named_embedder(args),
            win_dur=args.win_dur,
            device=args.device,
            seed=getattr(args, "seed", 0),
            n_pca=getattr(args, "n_pca", None),
            mix_function=getattr(args, "mix_function", None),
            progress=progress,
        )
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


def open_cache(args: argparse.Namespace, am: Any) -> EmbeddingCache | None:
    """The per-file embedding cache for these options (None with ``--no-cache``)."""
    if args.no_cache:
        return None
    root = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    identity = embedder_identity(am, args)
    weights = getattr(args, "weights", None)
    if weights is not None:  # the same file name may hold other weights: key on the file itself
        stat = Path(weights).resolve().stat()
        identity += f",{Path(weights).resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    return EmbeddingCache(root, identity, am.win_dur)


def reader_for(item: InputSet, am: Any) -> AudioFiles:
    """The :class:`AudioFiles` reader of an input set, labelled for progress bars."""
    files = AudioFiles(item.entries, am.sample_rate, am.window_length, am.win_dur, item.skipped)
    files.label = item.label
    files.expected_windows = item.expected_windows
    return files


class _Counter:
    """Windows embedded now and read from the cache, with an optional tqdm bar."""

    def __init__(self, label: str, total: int | None, enabled: bool) -> None:
        self.embedded = 0
        self.cached = 0
        self.dim: int | None = None
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(
                desc=label, total=total, unit="win", dynamic_ncols=True, file=sys.stderr
            )

    def __call__(self, windows: int, cached: bool) -> None:
        if cached:
            self.cached += windows
        else:
            self.embedded += windows
        if self.bar is not None:
            self.bar.update(windows)
            if self.cached:
                self.bar.set_postfix(cached=self.cached, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def stem_embeddings(
    files: AudioFiles, am: Any, cache: EmbeddingCache | None, progress: bool
) -> tuple[Iterator[np.ndarray], _Counter]:
    """Stream the stem embeddings of ``files`` (cached files read back, others embedded).

    Returns:
        ``(rows, counter)``: an iterator of per-file ``(windows, dim)``
        arrays, and the counts of windows embedded and read from the cache
        (complete once the iterator is exhausted).

    """
    counter = _Counter(files.label or "windows", files.expected_windows, progress)

    def rows() -> Iterator[np.ndarray]:
        try:
            for item in embed_files(files, am.embed_stems, cache, on_windows=counter):
                counter.dim = item.embeddings.shape[1]
                yield item.embeddings
        finally:
            counter.close()

    return rows(), counter
