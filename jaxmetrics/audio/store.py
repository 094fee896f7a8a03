"""A resumable embedding store: a folder of Parquet shards, one row per window.

Layout of a store folder::

    _jaxmetrics_store.json        the identity, written once when the store is created
    part-00000000-<token>.parquet one shard per batch of files, written atomically
    part-00000001-<token>.parquet ...

Columns and metadata: :mod:`jaxmetrics.audio.store_format`. A shard holds
whole files and is written to a hidden temporary name beside it, flushed and
renamed: a killed writer leaves at most a temporary, which readers never see
(pyarrow, pandas, DuckDB and Spark skip names starting with ``.`` or ``_``)
and the next writer deletes. A file embedded again (its bytes changed) is
read from its newest shard; :meth:`EmbeddingStore.compact`, run by every
writer, drops its older rows. One writer at a time per store.

Torch-free: only numpy, pyarrow and the package's statistics.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from jaxmetrics.audio.atomic import write_atomic
from jaxmetrics.audio.files import Skipped
from jaxmetrics.audio.state import merge, stats_of
from jaxmetrics.audio.store_format import (
    DIGEST,
    FORMAT,
    MARKER,
    RESAMPLER,
    SHARD_METADATA_KEY,
    FileEmbeddings,
    PendingFile,
    StoreIdentity,
    StoreRows,
    file_digest,
    path_sort_key,
    read_marker,
    relative_path,
    require_pyarrow,
    write_marker,
)
from jaxmetrics.metrics.stats import GaussianStats

__all__ = [
    "DIGEST",
    "RESAMPLER",
    "STATS_CHUNK",
    "EmbeddingStore",
    "FileEmbeddings",
    "PendingFile",
    "StoreIdentity",
    "StoreRows",
    "is_store",
    "open_store",
]

STATS_CHUNK = 1024  # rows per statistics update, as the in-process EmbeddingSet folds them

# Why this module is long: EmbeddingStore is one class whose methods share one
# index of the shards' footers (pending files, writing, compaction, reading,
# streamed statistics); the format, digests, paths and identity file already
# live in store_format, the writers in embed_store and ray_embed.
_SHARD = re.compile(r"^part-(\d{8})-([0-9a-f]{8})\.parquet$")


class _Entry(NamedTuple):
    digest: str
    shard: str
    first: int  # first row in the shard (-1: skipped)
    count: int  # windows (0: skipped)
    reason: str


class EmbeddingStore:
    """A folder of Parquet shards of window embeddings with one identity (see the module doc).

    Build it with :func:`open_store`. Reading methods check the identity of
    every shard they read.
    """

    def __init__(self, path: Path, identity: StoreIdentity) -> None:
        self.path = path
        self.identity = identity
        self._entries: dict[str, _Entry] | None = None
        self._dim: int | None = None

    def __repr__(self) -> str:
        return f"EmbeddingStore({str(self.path)!r}, {self.identity.embedder!r})"

    # -------------------------------------------------------------- index
    def shards(self) -> list[Path]:
        """The shard files, in writing order."""
        return sorted(p for p in self.path.iterdir() if _SHARD.match(p.name))

    def _shard_meta(self, shard: Path) -> dict[str, Any]:
        pq = require_pyarrow()
        try:
            schema = pq.read_schema(shard)
            meta = json.loads((schema.metadata or {})[SHARD_METADATA_KEY])
            theirs = StoreIdentity(**meta["identity"])
        except Exception as err:  # noqa: BLE001 - any unreadable shard gets one message
            raise ValueError(f"{self.path}: shard {shard.name} is not readable ({err})") from err
        diff = self.identity.differences(theirs)
        if diff:
            raise ValueError(
                f"{self.path}: shard {shard.name} was written with another identity "
                f"({'; '.join(diff)}; first value: the store's)"
            )
        dim = schema.field("embedding").type.list_size
        if self._dim is None:
            self._dim = dim
        elif dim != self._dim:
            raise ValueError(f"{self.path}: shard {shard.name} has dim {dim}, others {self._dim}")
        return meta

    def _index(self) -> dict[str, _Entry]:
        if self._entries is None:
            entries: dict[str, _Entry] = {}
            for shard in self.shards():  # later shards win: a changed file re-embedded
                meta = self._shard_meta(shard)
                for rel, digest, first, count in meta["files"]:
                    entries[rel] = _Entry(digest, shard.name, int(first), int(count), "")
                for rel, digest, reason in meta["skipped"]:
                    entries[rel] = _Entry(digest, shard.name, -1, 0, reason)
            self._entries = entries
        return self._entries

    def files(self) -> dict[str, str]:
        """``{relative path: digest}`` of the files embedded (sorted by path)."""
        index = self._index()
        done = [rel for rel, e in index.items() if e.count]
        return {rel: index[rel].digest for rel in sorted(done, key=path_sort_key)}

    def skipped(self) -> list[Skipped]:
        """Files left out when they were embedded (unreadable, NaN, shorter than a window)."""
        index = self._index()
        gone = sorted((rel for rel, e in index.items() if not e.count), key=path_sort_key)
        return [Skipped(rel, index[rel].reason) for rel in gone]

    @property
    def windows(self) -> int:
        """Number of windows stored (current versions of the files)."""
        return sum(e.count for e in self._index().values())

    @property
    def dim(self) -> int | None:
        """Embedding dimension (None while the store is empty)."""
        self._index()
        return self._dim

    def pending(
        self, files: Sequence[str | os.PathLike[str]], root: str | os.PathLike[str]
    ) -> list[PendingFile]:
        """The files that still need embedding: not in the store, or changed since.

        Only files already in the store are read (to compare their digest), so
        a first run reads nothing here. Skipped files count as done while
        their bytes are unchanged.

        Args:
            files: file paths (local, or ``scheme://`` URLs fsspec opens).
            root: the folder their relative paths are taken from.

        Returns:
            The pending files, sorted by relative path.

        Raises:
            ValueError: if two files have the same relative path, or one is
                not under ``root``.

        """
        index = self._index()
        out: dict[str, PendingFile] = {}
        for file in files:
            rel = relative_path(file, root)
            if rel in out:
                raise ValueError(f"files: {rel} is given twice")
            entry = index.get(rel)
            if entry is None or file_digest(file) != entry.digest:
                out[rel] = PendingFile(str(file), rel)
        return [out[rel] for rel in sorted(out, key=path_sort_key)]

    # -------------------------------------------------------------- writing
    def write_shard(
        self, files: Sequence[FileEmbeddings], skipped: Sequence[tuple[str, str, str]] = ()
    ) -> Path:
        """Write one shard holding these files' windows (and skipped ``(rel, digest, reason)``).

        Raises:
            ValueError: on an empty shard, a repeated file, or embeddings of
                the wrong shape or dimension.

        """
        if not files and not skipped:
            raise ValueError("write_shard: no files and no skipped files")
        shards = self.shards()
        seq = int(_SHARD.match(shards[-1].name)[1]) + 1 if shards else 0
        out = self.path / f"part-{seq:08d}-{secrets.token_hex(4)}.parquet"
        self._write(out, files, skipped)
        return out

    def _write(
        self, out: Path, files: Sequence[FileEmbeddings], skipped: Sequence[Sequence[str]]
    ) -> None:
        import pyarrow as pa

        pq = require_pyarrow()
        dim = self.dim
        rels = [f.rel for f in files] + [s[0] for s in skipped]
        if len(set(rels)) != len(rels):
            raise ValueError("write_shard: a file appears twice")
        listing, parts = [], []
        first = 0
        for f in files:
            emb = np.asarray(f.embeddings, np.float32)
            if emb.ndim != 2 or emb.shape[0] == 0:
                raise ValueError(f"{f.rel}: embeddings must be (windows, dim), got {emb.shape}")
            if dim is not None and emb.shape[1] != dim:
                raise ValueError(f"{f.rel}: embedding dim {emb.shape[1]}, the store has {dim}")
            dim = emb.shape[1]
            listing.append([f.rel, f.digest, first, emb.shape[0]])
            parts.append(emb)
            first += emb.shape[0]
        dim = dim if dim is not None else 1
        emb = np.concatenate(parts) if parts else np.zeros((0, dim), np.float32)
        window = np.concatenate([np.arange(len(p)) for p in parts]) if parts else np.zeros(0, int)
        meta = {
            "format": FORMAT,
            "identity": self.identity._asdict(),
            "digest": DIGEST,
            "files": listing,
            "skipped": [list(s) for s in skipped],
        }
        counts = [len(p) for p in parts]
        column_path = [f.rel for f, c in zip(files, counts, strict=True) for _ in range(c)]
        column_digest = [f.digest for f, c in zip(files, counts, strict=True) for _ in range(c)]
        table = pa.table(
            {
                "path": pa.array(column_path, pa.string()),
                "digest": pa.array(column_digest, pa.string()),
                "window": pa.array(window, pa.int32()),
                "start": pa.array(window.astype(np.int64) * self.identity.window_length),
                "embedding": pa.FixedSizeListArray.from_arrays(
                    pa.array(emb.reshape(-1), pa.float32()), dim
                ),
            }
        ).replace_schema_metadata({SHARD_METADATA_KEY: json.dumps(meta)})
        write_atomic(out, lambda f: pq.write_table(table, f, row_group_size=STATS_CHUNK * 16))
        self._entries = None
        self._dim = dim if parts else self._dim

    def compact(self) -> int:
        """Drop the rows of files embedded again since: each file is then in one shard only.

        Shards holding superseded files are rewritten (atomically, under the
        same name) without them, or deleted when nothing else is left, so
        readers other than this module (pandas, DuckDB) see each file once.

        Returns:
            The number of rows dropped.

        """
        index, dropped = self._index(), 0
        for shard in self.shards():
            meta = self._shard_meta(shard)
            files = [f for f in meta["files"] if index[f[0]].shard == shard.name]
            skipped = [s for s in meta["skipped"] if index[s[0]].shard == shard.name]
            if len(files) + len(skipped) == len(meta["files"]) + len(meta["skipped"]):
                continue
            dropped += sum(f[3] for f in meta["files"]) - sum(f[3] for f in files)
            if not files and not skipped:
                shard.unlink()
                continue
            emb = self._embeddings(shard)
            kept = [FileEmbeddings(r, d, emb[a : a + n]) for r, d, a, n in files]
            self._write(shard, kept, skipped)
        self._entries = None
        return dropped

    def remove_temporaries(self) -> int:
        """Delete temporary files a killed writer left; return how many."""
        stale = list(self.path.glob(".part-*.parquet.*.tmp"))  # atomic.write_atomic's names
        for p in stale:
            p.unlink(missing_ok=True)
        return len(stale)

    # -------------------------------------------------------------- reading
    def _selected(self, files: Sequence[str] | None) -> list[tuple[str, _Entry]]:
        index = self._index()
        if files is None:
            rels = [rel for rel, e in index.items() if e.count]
        else:
            rels = [str(f) for f in files]
            missing = [r for r in rels if r not in index or not index[r].count]
            if missing:
                raise ValueError(
                    f"{self.path}: {len(missing)} of the files asked for are not in the store "
                    f"(first: {missing[0]!r})"
                )
        return [(rel, index[rel]) for rel in sorted(set(rels), key=path_sort_key)]

    def _embeddings(self, shard: Path) -> np.ndarray:
        pq = require_pyarrow()
        column = pq.read_table(shard, columns=["embedding"])["embedding"].combine_chunks()
        flat = column.values.to_numpy(zero_copy_only=False)
        return flat.reshape(len(column), column.type.list_size)

    def _iter_files(self, files: Sequence[str] | None) -> Iterator[tuple[str, np.ndarray]]:
        """``(rel, embeddings)`` in store order, holding at most two shards' embeddings."""
        cache: dict[str, np.ndarray] = {}
        for rel, entry in self._selected(files):
            if entry.shard not in cache:
                if len(cache) >= 2:
                    cache.pop(next(iter(cache)))
                cache[entry.shard] = self._embeddings(self.path / entry.shard)
            yield rel, cache[entry.shard][entry.first : entry.first + entry.count]

    def read(self, files: Sequence[str] | None = None) -> StoreRows:
        """All rows (or those of ``files``, relative paths) in store order.

        Raises:
            ValueError: if the store is empty or a file asked for is not in it.

        """
        paths, windows, parts = [], [], []
        for rel, emb in self._iter_files(files):
            paths.append(np.full(len(emb), rel, dtype=object))
            windows.append(np.arange(len(emb)))
            parts.append(emb)
        if not parts:
            raise ValueError(f"{self.path}: the store holds no embeddings")
        return StoreRows(
            np.concatenate(paths).astype(str), np.concatenate(windows), np.concatenate(parts)
        )

    def stats(self, files: Sequence[str] | None = None, *, progress: bool = False) -> GaussianStats:
        """Float64 Gaussian statistics of the rows, streamed (memory: two shards and a chunk).

        Rows are taken in store order in chunks of :data:`STATS_CHUNK` and
        merged with :func:`jaxmetrics.merge_stats`, exactly as the in-process
        pipeline folds a reference it does not keep: the result does not
        depend on how the rows were sharded. ``progress`` shows a tqdm bar of
        windows (total: the store's).

        Raises:
            ValueError: if the store is empty or a file asked for is not in it.

        """
        from tqdm.auto import tqdm

        selected = self._selected(files)
        total: GaussianStats | None = None
        pending: list[np.ndarray] = []
        held = 0
        bar = tqdm(total=sum(e.count for _, e in selected), desc="store statistics", unit="win",
                   disable=not progress)  # fmt: skip
        for _, emb in self._iter_files(files):
            bar.update(len(emb))
            pending.append(emb)
            held += len(emb)
            if held >= STATS_CHUNK:
                rows = np.concatenate(pending)
                whole = len(rows) // STATS_CHUNK * STATS_CHUNK
                for start in range(0, whole, STATS_CHUNK):
                    total = merge(total, stats_of(rows[start : start + STATS_CHUNK]))
                pending, held = [rows[whole:]], len(rows) - whole
        bar.close()
        if held:
            total = merge(total, stats_of(np.concatenate(pending)))
        if total is None:
            raise ValueError(f"{self.path}: the store holds no embeddings")
        return total


def is_store(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is an embedding store's folder (it holds the store's identity file)."""
    return (Path(path) / MARKER).is_file()


def open_store(
    path: str | os.PathLike[str], identity: StoreIdentity | Mapping[str, Any] | None = None
) -> EmbeddingStore:
    """Open an embedding store, or create it when ``identity`` is given and it does not exist.

    Args:
        path: the store's folder (a local or mounted path).
        identity: the identity of the embeddings to write or read; None
            opens an existing store with its own identity.

    Returns:
        The store.

    Raises:
        ValueError: if the folder is not a store (and is not empty), or was
            written with another identity (the differing fields are named).
        TypeError: if ``identity`` is not a StoreIdentity or mapping.

    Examples:
        >>> import tempfile, numpy as np
        >>> from jaxmetrics.audio.store import FileEmbeddings, StoreIdentity, open_store
        >>> folder = tempfile.mkdtemp() + "/store"
        >>> store = open_store(folder, StoreIdentity("my-embedder", "", "", 16000, 16000))
        >>> rows = np.arange(6, dtype=np.float32).reshape(3, 2)
        >>> _ = store.write_shard([FileEmbeddings("b.wav", "d1", rows[:1]),
        ...                        FileEmbeddings("a.wav", "d2", rows[1:])])
        >>> open_store(folder).read().paths.tolist()  # files sorted, windows in order
        ['a.wav', 'a.wav', 'b.wav']
        >>> int(open_store(folder).stats().count)
        3

    """
    folder = Path(path)
    if identity is not None and not isinstance(identity, StoreIdentity):
        if not isinstance(identity, Mapping):
            raise TypeError(f"identity must be a StoreIdentity, got {type(identity).__name__}")
        identity = StoreIdentity(**identity)
    if (folder / MARKER).is_file():
        theirs = read_marker(folder)
        if identity is not None:
            diff = identity.differences(theirs)
            if diff:
                raise ValueError(
                    f"{folder}: the store was written with another identity "
                    f"({'; '.join(d.replace(' != ', ' requested, store has ') for d in diff)})"
                )
        return EmbeddingStore(folder, theirs)
    if identity is None:
        raise ValueError(f"{folder}: not a jaxmetrics embedding store (no {MARKER})")
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ValueError(
            f"{folder}: exists and is not an embedding store; give a new or empty folder"
        )
    folder.mkdir(parents=True, exist_ok=True)
    write_marker(folder, identity)
    return EmbeddingStore(folder, identity)
