"""Embedding one input set of files through an embedding store, so that a killed run resumes.

Each input (a folder, glob or file) gets its own Parquet embedding store
(:mod:`jaxmetrics.audio.store`) under a cache folder, named by the embedder's
identity and the input's real root folder::

    CACHE/<key of identity, extra identity and root>/   an EmbeddingStore

Only the files the store does not hold (or holds with another content
digest) are decoded and embedded, a shard of whole files at a time, so a run
killed at any moment loses at most the shard in flight and the rerun embeds
only what is missing. The rows of the files found *now* are then read back in
store order (files sorted by path), which is also the order of an uncached
run; files that left the folder are not read.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from jaxmetrics.audio.embed_store import DecodedFile, decode_file, split_embeddings
from jaxmetrics.audio.files import AudioFiles, Skipped
from jaxmetrics.audio.store import EmbeddingStore, PendingFile, StoreIdentity, open_store
from jaxmetrics.audio.store_format import path_sort_key, relative_path

__all__ = ["SetEmbedder", "default_cache_dir", "input_root", "set_store"]

SHARD_WINDOWS = 256  # windows per shard: what a kill can lose


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/jaxmetrics/embeddings`` (``~/.cache`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "jaxmetrics" / "embeddings"


def input_root(spec: str) -> str:
    """The folder an input's relative paths are taken from.

    A folder itself; a glob's leading folders without wildcards; a single
    file's folder.
    """
    path = Path(spec)
    if path.is_dir():
        return spec
    if path.is_file():
        return str(path.parent)
    fixed = []
    for part in path.parts:
        if any(c in part for c in "*?["):
            break
        fixed.append(part)
    return str(Path(*fixed)) if fixed else "."


def set_store(cache: str | os.PathLike[str], am: Any, root: str, extra: str = "") -> EmbeddingStore:
    """The store of the input rooted at ``root`` for this pipeline's embedder (created if new).

    Args:
        cache: the cache folder.
        am: the :class:`~jaxmetrics.AudioMetrics` that embeds.
        root: the input's root folder (:func:`input_root`).
        extra: more identity (e.g. the weights file) that the store's own
            identity does not record.

    """
    identity = StoreIdentity.of(am)
    key = json.dumps([identity._asdict(), extra, os.path.realpath(root)], sort_keys=True)
    name = hashlib.sha256(key.encode()).hexdigest()[:16]
    return open_store(Path(cache) / name, identity)


class SetEmbedder:
    """The embeddings of one input set's files, embedding only what the store lacks.

    Args:
        files: the set's reader (stems only); :meth:`run` records in it the
            files used (with their windows) and skipped (with the reason).
        am: the :class:`~jaxmetrics.AudioMetrics` that embeds (``embed_stems``).
        store: the set's store (:func:`set_store`), or None to embed
            everything and keep nothing.
        root: the input's root folder.

    Attributes:
        pending: the files to embed in this run (the others are in the store).

    """

    def __init__(self, files: AudioFiles, am: Any, store: EmbeddingStore | None, root: str) -> None:
        if any(isinstance(e, tuple) for e in files.files):
            raise ValueError("SetEmbedder takes stems only (no context pairs)")
        self.files, self.am, self.store = files, am, store
        self.rel = {str(f): relative_path(f, root) for f in files.files}
        if store is None:
            self.pending = [str(f) for f in files.files]
        else:
            store.remove_temporaries()
            self.pending = [p.path for p in store.pending(list(self.rel), root)]
        self.embedded = 0
        self.reused = 0

    def _embed(self, group: list[DecodedFile], kept: dict, peaks: dict) -> int:
        usable = [d.windows.reshape(-1) for d in group if d.windows is not None]
        rows = self.am.embed_stems(usable) if usable else np.zeros((0, 0), np.float32)
        done = split_embeddings(group, rows)
        bad = [(d.rel, d.digest, d.reason) for d in group if d.windows is None]
        for d in group:
            if d.windows is not None:
                peaks[d.rel] = float(np.abs(d.windows).max())
        if self.store is not None:
            self.store.write_shard(done, bad)
        else:
            kept.update({f.rel: f.embeddings for f in done})
            kept.update({rel: reason for rel, _, reason in bad})
        return len(rows)

    def run(self, on_windows: Callable[[int], Any] | None = None) -> np.ndarray:
        """Embed the pending files, then return every usable file's rows in path order.

        Args:
            on_windows: called with the number of windows of each embedded shard.

        Returns:
            ``(windows, dim)`` float32 (``(0, 0)`` if no file is usable).

        """
        am, kept, peaks = self.am, {}, {}
        group: list[DecodedFile] = []
        windows = 0
        for path in self.pending:
            decoded = decode_file(
                PendingFile(path, self.rel[path]),
                sample_rate=am.sample_rate,
                window_length=am.window_length,
                win_dur=am.win_dur,
            )
            group.append(decoded)
            windows += 0 if decoded.windows is None else len(decoded.windows)
            if windows >= SHARD_WINDOWS:
                n = self._embed(group, kept, peaks)
                self.embedded += n
                if on_windows is not None:
                    on_windows(n)
                group, windows = [], 0
        if group:
            n = self._embed(group, kept, peaks)
            self.embedded += n
            if on_windows is not None:
                on_windows(n)
        if self.store is not None and self.pending:
            self.store.compact()  # older rows of files embedded again: each file in one shard
        return self._collect(kept, peaks)

    def _collect(self, kept: dict, peaks: dict) -> np.ndarray:
        if self.store is not None:
            done = self.store.files()
            reasons = {s.path: s.reason for s in self.store.skipped()}
        else:
            done = {rel: "" for rel, v in kept.items() if isinstance(v, np.ndarray)}
            reasons = {rel: v for rel, v in kept.items() if isinstance(v, str)}
        path_of = {rel: path for path, rel in self.rel.items()}
        order = sorted(path_of, key=path_sort_key)
        used = [rel for rel in order if rel in done]
        for rel in order:
            if rel in reasons:
                self.files.skipped.append(Skipped(path_of[rel], reasons[rel]))
        if not used:
            return np.zeros((0, 0), np.float32)
        if self.store is not None:
            rows = self.store.read(files=used)
            rels, counts = np.unique(rows.paths, return_counts=True)
            per_file = dict(zip(rels.tolist(), counts.tolist(), strict=True))
            embeddings = rows.embeddings
        else:
            per_file = {rel: len(kept[rel]) for rel in used}
            embeddings = np.concatenate([kept[rel] for rel in used])
        for rel in used:
            self.files.accept(path_of[rel], per_file[rel], peaks.get(rel))
        self.reused = embeddings.shape[0] - self.embedded
        return embeddings
