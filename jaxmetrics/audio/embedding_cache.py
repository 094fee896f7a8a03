"""Per-file embeddings kept on disk, so that a killed run resumes where it stopped.

One small ``.npz`` per audio file holds its window embeddings and its peak
sample, named by the SHA-256 of the file's bytes, in a folder keyed by the
embedder identity and window duration::

    CACHE/<key of embedder identity and win_dur>/identity.txt
    CACHE/<key>/ab/ab12...ef.npz

A file whose content changes gets a new digest, so a stale entry is never
used; an entry that cannot be read (damaged, truncated) is embedded again.
Each entry is written atomically once its file is embedded, so a run killed
at any moment loses at most the files of the chunk being embedded.
:func:`embed_files` is the resume logic: cached files are read back, the
others are read, embedded in chunks across files (full batches for the
embedder), and cached.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from jaxmetrics.audio.atomic import write_atomic, write_text_atomic
from jaxmetrics.audio.files import AudioFiles

__all__ = ["EmbeddingCache", "FileEmbeddings", "default_cache_dir", "embed_files", "file_digest"]

_BLOCK = 1 << 20


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/jaxmetrics/embeddings`` (``~/.cache`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "jaxmetrics" / "embeddings"


def file_digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            h.update(block)
    return h.hexdigest()


class EmbeddingCache:
    """Window embeddings of audio files, by file content, for one embedder and window.

    Args:
        root: the cache folder (created on first write).
        identity: the embedder identity (``AudioMetrics.embedder_identity``).
        win_dur: window duration in seconds.

    """

    def __init__(self, root: str | os.PathLike[str], identity: str, win_dur: float) -> None:
        self.identity = f"{identity}|win_dur={float(win_dur)!r}"
        key = hashlib.sha256(self.identity.encode()).hexdigest()[:16]
        self.folder = Path(root) / key

    def _path(self, digest: str) -> Path:
        return self.folder / digest[:2] / f"{digest}.npz"

    def get(self, digest: str) -> tuple[np.ndarray, float] | None:
        """``(embeddings, peak)`` of the file with this content digest, or None."""
        path = self._path(digest)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                rows, peak = data["embeddings"], float(data["peak"])
        except Exception:  # noqa: BLE001 - a damaged entry is embedded again
            return None
        if rows.ndim != 2 or rows.shape[0] == 0:
            return None
        return rows, peak

    def put(self, digest: str, rows: np.ndarray, peak: float) -> None:
        """Store a file's embeddings atomically."""
        path = self._path(digest)
        if not self.folder.is_dir():
            self.folder.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.folder / "identity.txt", self.identity + "\n")
        path.parent.mkdir(exist_ok=True)
        arrays = {"embeddings": np.asarray(rows, np.float32), "peak": np.array(peak)}
        write_atomic(path, lambda f: np.savez(f, **arrays))


class FileEmbeddings(NamedTuple):
    """Embeddings of one file, in window order, and whether they came from the cache."""

    path: str
    embeddings: np.ndarray
    cached: bool


def embed_files(
    files: AudioFiles,
    embed: Callable[[list[np.ndarray]], np.ndarray],
    cache: EmbeddingCache | None,
    *,
    chunk_windows: int = 64,
    on_windows: Callable[[int, bool], Any] | None = None,
) -> Iterator[FileEmbeddings]:
    """Embeddings of each usable file of ``files``, in order, through the cache.

    Unusable files are recorded in ``files.skipped``, used ones with
    ``files.accept``. Files not in the cache are read and embedded
    ``chunk_windows`` windows at a time; each file's rows are cached as soon
    as its chunk is embedded.

    Args:
        files: the reader (stems only: no context pairs).
        embed: maps a list of ``(samples,)`` items to their ``(windows, dim)``
            embeddings, concatenated in item order (``AudioMetrics.embed_stems``).
        cache: where to find and keep embeddings; None embeds everything.
        chunk_windows: windows per ``embed`` call (a kill loses at most these).
        on_windows: called with ``(windows, cached)`` as files complete (progress).

    """
    pending: list[tuple[Path, str | None, np.ndarray | None, Any]] = []
    pending_windows = 0

    def flush() -> Iterator[FileEmbeddings]:
        audios = [a for _, _, a, _ in pending if a is not None]
        rows = embed(audios) if audios else None
        start = 0
        for path, digest, audio, hit in pending:
            if audio is None:
                emb, peak = hit
                files.accept(path, emb.shape[0], peak)
                yield FileEmbeddings(str(path), emb, True)
                continue
            n = audio.shape[0] // files.window
            emb = rows[start : start + n]
            start += n
            peak = float(np.abs(audio).max())
            if cache is not None and digest is not None:
                cache.put(digest, emb, peak)
            files.accept(path, n, peak)
            if on_windows is not None:
                on_windows(n, False)
            yield FileEmbeddings(str(path), emb, False)

    for entry in files.files:
        if isinstance(entry, tuple):
            raise ValueError("embed_files takes stems only (no context pairs)")
        digest = hit = None
        if cache is not None:
            try:
                digest = file_digest(entry)
            except OSError:
                digest = None  # unreadable: load() below records why
            hit = cache.get(digest) if digest else None
        if hit is not None:
            if on_windows is not None:
                on_windows(hit[0].shape[0], True)
            if not pending:  # nothing waits to be embedded: no need to hold it back
                files.accept(entry, hit[0].shape[0], hit[1])
                yield FileEmbeddings(str(entry), hit[0], True)
            else:
                pending.append((entry, digest, None, hit))
            continue
        audio = files.load(entry)
        if audio is None:
            continue
        pending.append((entry, digest, audio, None))
        pending_windows += audio.shape[0] // files.window
        if pending_windows >= chunk_windows:
            yield from flush()
            pending, pending_windows = [], 0
    if pending:
        yield from flush()
