"""Embed audio files into an :mod:`~jaxmetrics.audio.store`, resuming where a killed run stopped.

The driver lists the files, asks the store which are pending (missing or
changed), and embeds those in groups of ``files_per_shard``, writing one
shard per group: a run killed at any point loses at most the group in
flight, and the rerun embeds only what no shard holds. Files are read as
bytes (local paths, or ``scheme://`` URLs through fsspec), digested, decoded
and resampled exactly as :class:`~jaxmetrics.audio.files.AudioFiles` does, cut
into windows and embedded by :class:`AudioMetrics`, so the stored embeddings
are the in-process pipeline's. ``executor="ray"`` runs the same steps on Ray
Data (:mod:`jaxmetrics.audio.ray_embed`); the in-process path never imports Ray.
"""

from __future__ import annotations

import glob
import io
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from jaxmetrics.audio.batch_size import with_device_batch_size
from jaxmetrics.audio.files import AUDIO_EXTENSIONS, InputError, Skipped, find_audio, read_mono
from jaxmetrics.audio.store import (
    EmbeddingStore,
    FileEmbeddings,
    PendingFile,
    StoreIdentity,
    open_store,
)
from jaxmetrics.audio.store_format import file_digest, open_bytes

__all__ = [
    "DecodedFile",
    "EmbedReport",
    "decode_file",
    "embed_to_store",
    "list_audio",
    "metrics_for_store",
    "split_embeddings",
]

EXECUTORS = ("local", "ray")


class DecodedFile(NamedTuple):
    """One file read for embedding: its windows ``(n, window)`` float32, or why it was skipped."""

    rel: str
    digest: str
    windows: np.ndarray | None
    reason: str


class EmbedReport(NamedTuple):
    """What a run did: files and windows embedded now, files skipped now, files already stored.

    ``batch_size`` is the windows per embedder call the run used (with Ray:
    the largest an actor chose; None if no actor ran).
    """

    store: EmbeddingStore
    files: int
    windows: int
    skipped: list[Skipped]
    already_stored: int
    batch_size: int | None = None


def list_audio(source: str | os.PathLike[str]) -> tuple[list[str], str]:
    """Audio files of a folder, glob or file (local, or a ``scheme://`` URL) and their root.

    Returns:
        ``(files, root)``: sorted paths, and the folder relative paths are
        taken from (the folder itself; a glob's fixed leading folders; a
        single file's folder).

    Raises:
        InputError: if nothing matches.

    """
    spec = str(source)
    if "://" not in spec:
        files = [str(f) for f in find_audio(spec)]
        path = Path(spec)
        if path.is_dir():
            return files, spec
        if path.is_file():
            return files, str(path.parent)
        fixed: list[str] = []
        for part in path.parts:
            if glob.has_magic(part):
                break
            fixed.append(part)
        return files, str(Path(*fixed)) if fixed else "."
    import fsspec

    fs, _, (base,) = fsspec.get_fs_token_paths(spec)
    if fs.isdir(base):
        found, root = fs.find(base), base.rstrip("/")
    elif glob.has_magic(base):
        found, fixed = fs.glob(base), []
        for part in base.split("/"):
            if glob.has_magic(part):
                break
            fixed.append(part)
        root = "/".join(fixed)
    else:
        found, root = [base], base.rsplit("/", 1)[0]
    files = sorted(
        fs.unstrip_protocol(f) for f in found if Path(f).suffix.lower() in AUDIO_EXTENSIONS
    )
    if not files:
        raise InputError(f"{spec}: no audio files found")
    return files, fs.unstrip_protocol(root)


def decode_file(
    file: PendingFile, *, sample_rate: int, window_length: int, win_dur: float
) -> DecodedFile:
    """Read, digest, decode, resample and window one file; bad audio gives a reason, not an error.

    The digest is of the bytes actually decoded, so a file changed while a
    run is in flight is stored with the digest of what was embedded.
    """
    try:
        with open_bytes(file.path) as f:
            data = f.read()
    except OSError as err:
        return DecodedFile(file.rel, "", None, f"cannot be read ({err})")
    digest = file_digest(file.path, data)
    try:
        audio = read_mono(_NamedBytes(data, file.path), sample_rate)
    except ValueError as err:
        return DecodedFile(file.rel, digest, None, str(err))
    if audio.shape[0] < window_length:
        return DecodedFile(
            file.rel,
            digest,
            None,
            f"shorter than one window ({audio.shape[0] / sample_rate:.2f} s < win_dur "
            f"{win_dur:g} s)",
        )
    count = audio.shape[0] // window_length
    return DecodedFile(file.rel, digest, audio[: count * window_length].reshape(count, -1), "")


class _NamedBytes(io.BytesIO):
    """In-memory file bytes whose repr is the file's path (decoders quote it in their errors)."""

    def __init__(self, data: bytes, path: str) -> None:
        super().__init__(data)
        self._path = path

    def __repr__(self) -> str:
        return repr(self._path)


def metrics_for_store(
    embedder: Any = None, *, win_dur: float = 5.0, batch_size: int | None = None, device: Any = None
) -> Any:
    """An :class:`AudioMetrics` that embeds stems only (the engine of every executor).

    ``batch_size=None`` chooses the windows per embedder call for the device
    the embedder runs on (:mod:`jaxmetrics.audio.batch_size`: 32 on a CPU,
    from the free memory on CUDA); its ``batch_size`` attribute says which.
    """
    from jaxmetrics.audio.audio_metrics import AudioMetrics

    def build(size: int) -> Any:
        return AudioMetrics(
            ["kd"],
            embedder=embedder,
            win_dur=win_dur,
            device=device,
            batch_size=size,
            progress=False,
        )

    return with_device_batch_size(build, batch_size)


def split_embeddings(decoded: Sequence[DecodedFile], rows: np.ndarray) -> list[FileEmbeddings]:
    """Cut the embeddings of the usable files' windows (concatenated in order) per file."""
    out, start = [], 0
    for d in decoded:
        if d.windows is not None:
            out.append(FileEmbeddings(d.rel, d.digest, rows[start : start + len(d.windows)]))
            start += len(d.windows)
    if start != len(rows):
        raise ValueError(f"{len(rows)} embeddings for {start} windows")
    return out


def _groups(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _check_args(files_per_shard: int, executor: str, workers: int, num_gpus: Any) -> None:
    for name, value in (("files_per_shard", files_per_shard), ("workers", workers)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if num_gpus is not None and (
        isinstance(num_gpus, bool) or not isinstance(num_gpus, (int, float)) or num_gpus < 0
    ):
        raise ValueError(f"num_gpus must be None or a number >= 0, got {num_gpus!r}")
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, got {executor!r}")


def embed_to_store(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    store: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str] | None = None,
    embedder: Any = None,
    win_dur: float = 5.0,
    batch_size: int | None = None,
    files_per_shard: int = 64,
    device: Any = None,
    progress: bool = True,
    executor: str = "local",
    workers: int = 1,
    ray_address: str | None = None,
    num_gpus: float | None = None,
) -> EmbedReport:
    """Embed the audio files of ``source`` into the store at ``store``, skipping finished files.

    Creates the store if needed; refuses one written with another embedder,
    window, sample rate, resampler or jaxmetrics version. Only files missing
    from the store or changed since (content digest) are embedded; a run
    killed at any point can be rerun with the same arguments.

    Args:
        source: a folder (recursive), glob or file, local or a ``scheme://``
            URL fsspec opens; or a sequence of files with ``root``.
        store: the store's folder (local or mounted; written by this process).
        root: the folder relative paths are taken from (default: the
            folder of ``source``); needed for a sequence of files.
        embedder: an embedder name (default ``"clap-music"``) or object.
        win_dur: window duration in seconds.
        batch_size: windows per embedder call (None: chosen for the device,
            see :mod:`jaxmetrics.audio.batch_size`; with Ray, by each actor
            for its own device).
        files_per_shard: files per shard: the work a kill can lose.
        device: torch device for a named embedder.
        progress: show a tqdm bar of files (total: the pending files).
        executor: ``"local"`` (this process) or ``"ray"`` (Ray Data; needs
            ``pip install -e '.[ray]'`` in the checkout and a named embedder).
        workers: embedding actors for ``executor="ray"``.
        ray_address: a Ray cluster to join (None: a local Ray instance).
        num_gpus: GPUs per embedding actor with Ray (None: 1 if the cluster
            has GPUs, else 0).

    Returns:
        An :class:`EmbedReport` of this run.

    Raises:
        ValueError: on bad arguments, no audio files, or a store of another
            identity.

    """
    _check_args(files_per_shard, executor, workers, num_gpus)
    if executor == "ray":
        if not isinstance(embedder, (str, type(None))):
            raise TypeError("executor='ray' needs an embedder name (each actor builds its model)")
        from jaxmetrics.audio import ray_embed

        ray_embed.require_ray()
    if isinstance(source, (str, os.PathLike)):
        try:
            files, found_root = list_audio(source)
        except InputError as err:
            raise ValueError(str(err)) from err
    else:
        if root is None:
            raise ValueError("root is needed when source is a sequence of files")
        files, found_root = [str(f) for f in source], str(root)
        if not files:
            raise ValueError("source: no files given")
    am = metrics_for_store(embedder, win_dur=win_dur, batch_size=batch_size, device=device)
    st = open_store(store, StoreIdentity.of(am))
    st.remove_temporaries()
    pending = st.pending(files, found_root if root is None else root)
    already = len(files) - len(pending)
    if executor == "ray":
        report = ray_embed.embed_pending(
            pending,
            st,
            embedder=embedder,
            win_dur=win_dur,
            batch_size=batch_size,
            files_per_shard=files_per_shard,
            workers=workers,
            address=ray_address,
            num_gpus=num_gpus,
            progress=progress,
            already_stored=already,
        )
        st.compact()
        return report
    bar = _file_progress(len(pending), progress)
    n_files = n_windows = 0
    skipped: list[Skipped] = []
    try:
        for group in _groups(pending, files_per_shard):
            decoded = [
                decode_file(
                    f,
                    sample_rate=am.sample_rate,
                    window_length=am.window_length,
                    win_dur=am.win_dur,
                )
                for f in group
            ]
            usable = [d.windows.reshape(-1) for d in decoded if d.windows is not None]
            rows = am.embed_stems(usable) if usable else np.zeros((0, 0), np.float32)
            done = split_embeddings(decoded, rows)
            bad = [(d.rel, d.digest, d.reason) for d in decoded if d.windows is None]
            st.write_shard(done, bad)
            n_files += len(done)
            n_windows += len(rows)
            skipped += [Skipped(rel, reason) for rel, _, reason in bad]
            bar.update(len(group))
    finally:
        bar.close()
    st.compact()  # older rows of files embedded again: each file then in one shard
    return EmbedReport(st, n_files, n_windows, skipped, already, am.batch_size)


def _file_progress(total: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="files embedded", unit="file", disable=not enabled)
