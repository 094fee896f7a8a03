"""The ``.npz`` embedding files that ``jaxmetrics embed`` writes and ``jaxmetrics score`` reads.

An embedding file holds the window embeddings of a folder of audio with what
makes them comparable (the embedder identity, which names its layer; the
window duration; the sample rate), the files they came from and the files
skipped, and a content digest (:mod:`jaxmetrics.audio.npz_files`). Two files
can be scored against each other only when those settings agree; a bare
``.npy`` (or an ``.npz`` without them) records none, so the caller must vouch
for it explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from jaxmetrics.audio.npz_files import check_digest, read_arrays, write_arrays

__all__ = [
    "EMBEDDINGS_FORMAT",
    "SETTINGS",
    "Embeddings",
    "check_compatible",
    "read_embeddings",
    "write_embeddings",
]

EMBEDDINGS_FORMAT = "jaxmetrics.embeddings"
SETTINGS = ("embedder", "win_dur", "sample_rate")
_WHAT = "embeddings file (.npz from jaxmetrics embed, or .npy)"


class Embeddings(NamedTuple):
    """Rows read from an embedding file, and the settings it records (empty for ``.npy``)."""

    rows: np.ndarray
    settings: dict[str, Any]


def write_embeddings(
    path: str | os.PathLike[str],
    embeddings: np.ndarray,
    *,
    embedder: str,
    win_dur: float,
    sample_rate: int,
    files: Sequence[str],
    windows_per_file: Sequence[int],
    skipped: Sequence[str],
) -> Path:
    """Write an embedding file atomically, with its settings and a content digest."""
    return write_arrays(
        path,
        {
            "embeddings": np.asarray(embeddings, np.float32),
            "format": np.array(EMBEDDINGS_FORMAT),
            "embedder": np.array(embedder),
            "win_dur": np.array(float(win_dur)),
            "sample_rate": np.array(int(sample_rate)),
            "files": np.array(list(files), dtype=str),
            "file_index": np.repeat(np.arange(len(files)), list(windows_per_file)),
            "skipped": np.array(list(skipped), dtype=str),
        },
    )


def read_embeddings(path: str | os.PathLike[str]) -> Embeddings:
    """Read an ``.npz`` from ``embed`` (or any ``.npz``/``.npy`` of an ``(n, dim)`` array).

    Raises:
        ValueError: naming ``path``: missing, a folder, unreadable, damaged
            (digest), holding pickles, empty, or not ``(n >= 2, dim)``.

    """
    file = Path(path)
    if file.is_dir():
        raise ValueError(f"{path}: is a folder, not an {_WHAT}")
    if not file.exists():
        raise ValueError(f"{path}: no such file")
    settings: dict[str, Any] = {}
    with open(file, "rb") as f:
        is_npy = f.read(6) == b"\x93NUMPY"
    if is_npy:
        try:
            rows = np.load(file, allow_pickle=False)
        except Exception as err:  # noqa: BLE001 - any unreadable file gets the same message
            raise ValueError(f"{path}: not a readable .npy/.npz file ({err})") from None
    else:
        try:
            arrays = read_arrays(file, _WHAT)
        except ValueError as err:
            raise ValueError(f"{err} (not a readable .npy/.npz file)") from None
        check_digest(arrays, path, "embeddings file")
        arrays.pop("digest", None)
        if not arrays:
            raise ValueError(f"{path}: empty .npz file")
        key = "embeddings" if "embeddings" in arrays else sorted(arrays)[0]
        for name in SETTINGS:
            if name in arrays and arrays[name].ndim == 0:
                settings[name] = arrays[name].item()
        rows = arrays[key]
    if rows.ndim != 2 or rows.shape[0] < 2:
        raise ValueError(f"{path}: expected embeddings of shape (n >= 2, dim), got {rows.shape}")
    if not np.issubdtype(rows.dtype, np.number):
        raise ValueError(f"{path}: embeddings of dtype {rows.dtype}, expected numbers")
    bad = np.flatnonzero(~np.isfinite(rows).all(axis=1))
    if bad.size:
        raise ValueError(
            f"{path}: {bad.size} embedding rows hold NaN or infinite values (first at row "
            f"index {bad[0]})"
        )
    return Embeddings(rows, settings)


def check_compatible(
    reference: tuple[str, Embeddings], candidate: tuple[str, Embeddings], assume: bool
) -> None:
    """Refuse two embedding files made with different (or unrecorded) settings.

    Args:
        reference: ``(path, embeddings)``.
        candidate: ``(path, embeddings)``.
        assume: accept files that record no settings (the caller vouches).

    Raises:
        ValueError: if a setting differs, is recorded in one file only, or is
            recorded in neither while ``assume`` is false; or the dimensions differ.

    """
    (ref_path, ref), (path, cand) = reference, candidate
    if ref.rows.shape[1] != cand.rows.shape[1]:
        raise ValueError(
            f"{path} has {cand.rows.shape[1]}-dimensional embeddings but {ref_path} "
            f"{ref.rows.shape[1]}-dimensional: embeddings are not comparable"
        )
    for key in SETTINGS:
        mine, theirs = cand.settings.get(key), ref.settings.get(key)
        if mine is not None and theirs is not None and mine != theirs:
            raise ValueError(
                f"{path} was embedded with {key}={mine!r} but {ref_path} with "
                f"{key}={theirs!r}: embeddings are not comparable"
            )
        if (mine is None or theirs is None) and not assume:
            unknown = path if mine is None else ref_path
            raise ValueError(
                f"{unknown} does not record its {key} (a .npy, or an .npz not written by "
                "jaxmetrics embed), so it cannot be checked against the other file; pass "
                "--assume-compatible if you know both were embedded alike"
            )
