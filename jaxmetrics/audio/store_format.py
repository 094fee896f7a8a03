"""The embedding store's format: its identity and records, content digests, paths, atomic writes.

Each shard of a store (:mod:`jaxmetrics.audio.store`) has the columns ``path``
(the file's path relative to the root it was found under, ``/``-separated),
``digest`` (BLAKE2b-128 of the file's bytes, hex), ``window`` (index of the
window in the file), ``start`` (its first sample at the embedder's rate) and
``embedding`` (fixed-size list of float32). Its schema metadata holds the
:class:`StoreIdentity`, the files it holds (with their digests and window
counts) and the files that were skipped (with the reason), so which files
are complete is read from the shards' footers alone.

Local paths are opened directly; ``scheme://`` URLs (``s3://``, ``gs://``,
``memory://``, ...) through fsspec, which must then be installed with the
filesystem's own package (``s3fs``, ``gcsfs``).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from jaxmetrics._src.version import VERSION
from jaxmetrics.audio.atomic import write_atomic

__all__ = [
    "DIGEST",
    "FORMAT",
    "FORMAT_VERSION",
    "MARKER",
    "SHARD_METADATA_KEY",
    "RESAMPLER",
    "FileEmbeddings",
    "PendingFile",
    "StoreIdentity",
    "StoreRows",
    "file_digest",
    "open_bytes",
    "path_sort_key",
    "read_marker",
    "relative_path",
    "require_pyarrow",
    "write_marker",
]


MARKER = "_jaxmetrics_store.json"  # a store's identity file (readers skip names with "_")
FORMAT = "jaxmetrics.embedding-store"
FORMAT_VERSION = 1
SHARD_METADATA_KEY = b"jaxmetrics.store"  # the schema metadata key of a shard's JSON
DIGEST = "blake2b-128"
RESAMPLER = "soxr-HQ,channels-mean"  # how files.read_mono turns a file into mono at the rate


class StoreIdentity(NamedTuple):
    """What makes embeddings comparable: two stores with different identities never mix."""

    embedder: str
    layer: str
    pooling: str
    window_length: int
    sample_rate: int
    resampler: str = RESAMPLER
    jaxmetrics_version: str = VERSION

    @classmethod
    def of(cls, metrics: Any) -> StoreIdentity:
        """The identity of an :class:`~jaxmetrics.audio.audio_metrics.AudioMetrics`' embeddings.

        ``embedder`` is its ``embedder_identity`` (name and settings, as in
        saved states); layer and pooling are the embedder's attributes (empty
        when it has none).
        """
        model = metrics.embedder
        return cls(
            embedder=str(metrics.embedder_identity),
            layer=str(getattr(model, "layer", "") or ""),
            pooling=str(getattr(model, "pooling", "") or ""),
            window_length=int(metrics.window_length),
            sample_rate=int(metrics.sample_rate),
        )

    def differences(self, other: StoreIdentity) -> list[str]:
        """``field: ours != theirs`` for every differing field."""
        return [
            f"{name}: {a!r} != {b!r}"
            for name, a, b in zip(self._fields, self, other, strict=True)
            if a != b
        ]


class PendingFile(NamedTuple):
    """A file to embed: where to read it, and its path relative to the root."""

    path: str
    rel: str


class FileEmbeddings(NamedTuple):
    """One file's windows embedded: ``embeddings`` is ``(windows, dim)`` float32."""

    rel: str
    digest: str
    embeddings: np.ndarray


class StoreRows(NamedTuple):
    """Rows read back, in store order (files sorted by path, windows in order)."""

    paths: np.ndarray  # (n,) str, the file of each row
    windows: np.ndarray  # (n,) int, the window index within its file
    embeddings: np.ndarray  # (n, dim) float32


def require_pyarrow() -> Any:
    """Import pyarrow.parquet, or fail with the install command."""
    try:
        import pyarrow.parquet as pq
    except ImportError as err:
        raise ImportError(
            "the embedding store needs pyarrow: pip install -e '.[audio]' in the jaxmetrics "
            "checkout (or pip install pyarrow)"
        ) from err
    return pq


def file_digest(path: str | os.PathLike[str], data: bytes | None = None) -> str:
    """BLAKE2b-128 (hex) of a file's bytes (of ``data`` when given): a changed file is re-embedded.

    Local paths are read directly; ``scheme://`` URLs through fsspec.
    """
    h = hashlib.blake2b(digest_size=16)
    if data is not None:
        h.update(data)
        return h.hexdigest()
    with open_bytes(str(path)) as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def open_bytes(path: str) -> Any:
    """Open a local path, or a ``scheme://`` URL through fsspec, for reading bytes."""
    if "://" in path:
        try:
            import fsspec
        except ImportError as err:
            raise ImportError(f"{path}: reading URLs needs fsspec: pip install fsspec") from err
        return fsspec.open(path, "rb").open()
    return open(path, "rb")


def relative_path(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> str:
    """``path`` relative to ``root``, ``/``-separated (a file given as its own root: its name).

    Raises:
        ValueError: if ``path`` is not under ``root``.

    """
    path, root = str(path), str(root)
    if "://" in path or "://" in root:
        base = root.rstrip("/") + "/"
        if path == root:
            return path.rsplit("/", 1)[-1]
        if not path.startswith(base):
            raise ValueError(f"{path} is not under the root {root}")
        return path[len(base) :]
    p, r = Path(path).absolute(), Path(root).absolute()
    if p == r:
        return p.name
    try:
        return p.relative_to(r).as_posix()
    except ValueError:
        raise ValueError(f"{path} is not under the root {root}") from None


def path_sort_key(rel: str) -> tuple[str, ...]:
    """Sort key of a relative path: pathlib's order, which the in-process pipeline's reader uses."""
    return tuple(rel.split("/"))


def read_marker(folder: Path) -> StoreIdentity:
    """The identity in a store's identity file.

    Raises:
        ValueError: if the file is missing, unreadable, or of another format or version.

    """
    try:
        meta = json.loads((folder / MARKER).read_text())
        if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
            raise ValueError(f"format {meta.get('format')!r} version {meta.get('version')!r}")
        return StoreIdentity(**meta["identity"])
    except (OSError, ValueError, TypeError, KeyError) as err:
        raise ValueError(f"{folder}: not a readable jaxmetrics embedding store ({err})") from err


def write_marker(folder: Path, identity: StoreIdentity) -> None:
    """Write a store's identity file (atomically)."""
    marker = {"format": FORMAT, "version": FORMAT_VERSION, "identity": identity._asdict()}
    write_atomic(folder / MARKER, lambda f: f.write(json.dumps(marker, indent=1).encode()))
