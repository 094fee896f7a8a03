"""Embedding extraction on Ray Data: the store writer of ``embed_store`` on a cluster.

What runs where:

- the driver (the calling process) lists the files, asks the store which are
  pending, and writes every shard, so the store is a local folder of the
  driver and only the audio must be reachable from the workers (a shared
  filesystem, or ``s3://``/``gs://`` URLs read through fsspec);
- Ray Data tasks (CPU) read each file, digest its bytes, decode, resample and
  window it (:func:`~jaxmetrics.audio.embed_store.decode_file`);
- an actor pool of ``workers`` actors embeds the windows: each actor builds
  the embedder once (an :class:`AudioMetrics`, so the numbers are the
  in-process pipeline's) and checks that its identity is the store's; with
  ``num_gpus`` per actor when the cluster has GPUs, on CPUs otherwise.

Batch sizes: without ``batch_size`` each actor chooses its windows per
embedder call for its own device (:mod:`jaxmetrics.audio.batch_size`), and
Ray Data hands it batches of :data:`~jaxmetrics.audio.batch_size.GPU_BATCH_CAP`
windows on GPU actors (:data:`~jaxmetrics.audio.batch_size.CPU_BATCH_SIZE` on
CPU actors), which it embeds in calls of its size; a given ``batch_size`` is
both. Each embedded row carries its actor's size, reported as the largest.

Shards hold the same groups of files, in the same order, as an in-process
run would write, whatever order Ray returns windows in. A worker killed
mid-batch is restarted by Ray and its batch retried; windows are keyed by
file and index, so every file is written exactly once. Importing this module
does not import Ray; running it without Ray raises the install command.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from jaxmetrics.audio.batch_size import CPU_BATCH_SIZE, GPU_BATCH_CAP
from jaxmetrics.audio.embed_store import (
    EmbedReport,
    decode_file,
    metrics_for_store,
)
from jaxmetrics.audio.files import Skipped
from jaxmetrics.audio.store import EmbeddingStore, FileEmbeddings, PendingFile, StoreIdentity

__all__ = ["EmbedActor", "decode_rows", "embed_pending", "require_ray"]

_COLUMNS = ("rel", "digest", "window", "count", "reason")


def require_ray() -> Any:
    """Import ray (with Ray Data), or fail with the install command."""
    try:
        import ray
        import ray.data  # noqa: F401 - the extra's part this module needs
    except ImportError as err:
        raise ImportError(
            "executor='ray' needs Ray Data: pip install -e '.[ray]' in the jaxmetrics "
            "checkout (or pip install 'ray[data]')"
        ) from err
    return ray


def decode_rows(
    row: dict[str, Any], *, sample_rate: int, window_length: int, win_dur: float
) -> list[dict[str, Any]]:
    """One Ray row per window of a file (one row with the reason for a skipped file)."""
    d = decode_file(
        PendingFile(str(row["path"]), str(row["rel"])),
        sample_rate=sample_rate,
        window_length=window_length,
        win_dur=win_dur,
    )
    if d.windows is None:
        blank = np.zeros(window_length, np.float32)
        return [{"rel": d.rel, "digest": d.digest, "window": -1, "count": 0,
                 "reason": d.reason, "audio": blank}]  # fmt: skip
    n = len(d.windows)
    return [
        {"rel": d.rel, "digest": d.digest, "window": i, "count": n, "reason": "", "audio": w}
        for i, w in enumerate(d.windows)
    ]


class EmbedActor:
    """Ray Data actor: builds the embedder once, then embeds batches of windows.

    Args:
        embedder: the embedder's name.
        win_dur: window duration in seconds.
        batch_size: windows per embedder call (None: chosen here, for this
            actor's device).
        identity: the store's identity as a dict; the actor refuses to embed
            if its own differs (another jaxmetrics or embedder version on a
            worker).

    """

    def __init__(
        self,
        embedder: str | None,
        win_dur: float,
        batch_size: int | None,
        identity: dict[str, Any],
    ) -> None:
        self.metrics = metrics_for_store(embedder, win_dur=win_dur, batch_size=batch_size)
        diff = StoreIdentity.of(self.metrics).differences(StoreIdentity(**identity))
        if diff:
            raise ValueError(f"a Ray worker embeds with another identity: {'; '.join(diff)}")
        self.dim: int | None = None

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Embed the usable windows of a batch; skipped files' rows get zeros."""
        ok = np.asarray(batch["reason"]) == ""
        out = {k: np.asarray(batch[k]) for k in _COLUMNS}
        audio = np.asarray(batch["audio"], np.float32)
        if self.dim is None:
            probe = audio[ok][:1] if ok.any() else np.zeros((1, audio.shape[1]), np.float32)
            self.dim = self.metrics.embed_stems(probe).shape[1]
        full = np.zeros((len(ok), self.dim), np.float32)
        if ok.any():
            full[ok] = self.metrics.embed_stems(audio[ok])
        out["embedding"] = full
        out["batch_size"] = np.full(len(ok), self.metrics.batch_size, np.int64)
        return out


class _ShardWriter:
    """Collects windows as Ray returns them; writes each group of files once all of it is in."""

    def __init__(self, store: EmbeddingStore, pending: Sequence[PendingFile], size: int) -> None:
        self.store = store
        rels = [p.rel for p in pending]
        self.groups = [rels[i : i + size] for i in range(0, len(rels), size)]
        self.files: dict[str, dict[str, Any]] = {rel: {} for rel in rels}
        self.files_done = self.windows = 0
        self.batch_size: int | None = None
        self.skipped: list[Skipped] = []

    def add(self, batch: dict[str, np.ndarray]) -> int:
        """Take a batch of embedded windows; return the number of files written by it."""
        sizes = [int(n) for n in np.asarray(batch["batch_size"])]
        if sizes:
            self.batch_size = max(sizes + [self.batch_size or 0])
        for rel, digest, window, count, reason, emb in zip(
            *(batch[k] for k in _COLUMNS), batch["embedding"], strict=True
        ):
            entry = self.files[str(rel)]
            entry.update(digest=str(digest), count=int(count), reason=str(reason))
            if int(window) >= 0:  # keyed by window: a retried batch cannot add a row twice
                entry.setdefault("rows", {})[int(window)] = np.asarray(emb, np.float32)
        written = 0
        while self.groups and all(self._complete(rel) for rel in self.groups[0]):
            written += self._write(self.groups.pop(0))
        return written

    def _complete(self, rel: str) -> bool:
        entry = self.files[rel]
        return "count" in entry and len(entry.get("rows", ())) == entry["count"]

    def _write(self, group: list[str]) -> int:
        done, bad = [], []
        for rel in group:
            entry = self.files.pop(rel)
            if entry["count"]:
                rows = np.stack([entry["rows"][i] for i in range(entry["count"])])
                done.append(FileEmbeddings(rel, entry["digest"], rows))
                self.windows += len(rows)
            else:
                bad.append((rel, entry["digest"], entry["reason"]))
                self.skipped.append(Skipped(rel, entry["reason"]))
        self.store.write_shard(done, bad)
        self.files_done += len(done)
        return len(group)

    def finish(self) -> None:
        """Raise if Ray returned fewer windows than the files hold."""
        if self.groups:
            missing = [rel for group in self.groups for rel in group if not self._complete(rel)]
            raise RuntimeError(
                f"Ray Data returned no or partial windows for {len(missing)} files "
                f"(first: {missing[0]!r}); the shards written so far are kept: rerun to resume"
            )


def embed_pending(
    pending: Sequence[PendingFile],
    store: EmbeddingStore,
    *,
    embedder: str | None,
    win_dur: float,
    batch_size: int | None,
    files_per_shard: int,
    workers: int = 1,
    address: str | None = None,
    num_gpus: float | None = None,
    progress: bool = True,
    already_stored: int = 0,
) -> EmbedReport:
    """Embed pending files on Ray Data and write them to ``store`` (see the module doc).

    Uses the Ray instance this process is connected to; otherwise joins the
    cluster at ``address`` (None: starts a local instance) and shuts that
    connection down at the end. Called by
    :func:`~jaxmetrics.audio.embed_store.embed_to_store` with
    ``executor="ray"``, which lists the files and opens the store.

    Args:
        pending: the files to embed (from ``store.pending``).
        store: the open store.
        embedder: the embedder's name (each actor builds its own).
        win_dur: window duration in seconds.
        batch_size: windows per embedder call and per actor batch (None: each
            actor chooses its own; see the module doc).
        files_per_shard: files per shard.
        workers: embedding actors.
        address: a Ray cluster address (``"auto"``, ``"ray://host:10001"``).
        num_gpus: GPUs per actor (None: 1 if the cluster has GPUs, else 0).
        progress: show a tqdm bar of files (and Ray Data's progress bars).
        already_stored: files the caller found already in the store (reported).

    Returns:
        The run's :class:`EmbedReport`.

    Raises:
        ImportError: without Ray Data.
        RuntimeError: if Ray returned incomplete results (shards written so
            far are kept).

    """
    ray = require_ray()
    from tqdm.auto import tqdm

    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, logging_level="WARNING")
    context = ray.data.DataContext.get_current()
    saved = (context.execution_options.preserve_order, context.enable_progress_bars)
    writer = _ShardWriter(store, pending, files_per_shard)
    bar = tqdm(total=len(pending), desc="files embedded", unit="file", disable=not progress)
    try:
        if pending:
            gpus = num_gpus
            if gpus is None:
                gpus = 1 if ray.cluster_resources().get("GPU", 0) > 0 else 0
            # windows come back in file order: groups complete (and leave memory) one by one
            context.execution_options.preserve_order = True
            context.enable_progress_bars = progress
            items = [{"path": p.path, "rel": p.rel} for p in pending]
            # decoding blocks of at most 8 files: windowed audio is large (a 3-minute song is
            # 11 MB at 16 kHz), and small blocks reach the actors early
            blocks = max(min(len(items), 8 * workers), -(-len(items) // 8))
            ds = ray.data.from_items(items, override_num_blocks=blocks)
            ds = ds.flat_map(
                decode_rows,
                fn_kwargs={
                    "sample_rate": store.identity.sample_rate,
                    "window_length": store.identity.window_length,
                    "win_dur": win_dur,
                },
            )
            ds = ds.map_batches(
                EmbedActor,
                fn_constructor_kwargs={
                    "embedder": embedder,
                    "win_dur": win_dur,
                    "batch_size": batch_size,
                    "identity": store.identity._asdict(),
                },
                batch_size=batch_size or (GPU_BATCH_CAP if gpus else CPU_BATCH_SIZE),
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=workers),
                num_gpus=gpus,
            )
            for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
                bar.update(writer.add(batch))
            writer.finish()
    finally:
        bar.close()
        context.execution_options.preserve_order, context.enable_progress_bars = saved
        if started:
            ray.shutdown()
    return EmbedReport(
        store, writer.files_done, writer.windows, writer.skipped, already_stored, writer.batch_size
    )
