"""Folders and globs of audio files as inputs of the pipeline (the command line's reader).

Files are read with soundfile (wav, flac, ogg, mp3, aiff, ...), falling back
to librosa for other formats; multichannel files are downmixed to mono by
averaging the channels; every file is resampled (soxr, ``HQ``) to the
embedder's rate. Files that cannot be read, contain NaN/inf samples or are
shorter than one window are skipped and recorded, never silently dropped.
Input files are only ever opened for reading.
"""

from __future__ import annotations

import glob
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

import numpy as np

__all__ = ["AUDIO_EXTENSIONS", "AudioFiles", "InputError", "Skipped", "find_audio", "read_mono"]

AUDIO_EXTENSIONS = frozenset(
    {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".m4a", ".au", ".w64"}
)


class InputError(ValueError):
    """Bad command-line input (no files, unpaired folders, ...)."""


class Skipped(NamedTuple):
    """A file left out, and why."""

    path: str
    reason: str


def find_audio(spec: str) -> list[Path]:
    """Audio files of a folder (recursive), a glob pattern, or a single file, sorted.

    Raises:
        InputError: if nothing matches.

    """
    path = Path(spec)
    if path.is_dir():
        files = [f for f in path.rglob("*") if f.is_file()]
    elif path.is_file():
        return [path]
    else:
        files = [Path(f) for f in glob.glob(spec, recursive=True) if Path(f).is_file()]
        if not files and not glob.has_magic(spec):
            raise InputError(f"{spec}: no such file or folder")
    files = sorted(f for f in files if f.suffix.lower() in AUDIO_EXTENSIONS)
    if not files:
        raise InputError(
            f"{spec}: no audio files found (looked for {', '.join(sorted(AUDIO_EXTENSIONS))})"
        )
    return files


def read_mono(path: Path | BinaryIO, sr: int) -> np.ndarray:
    """Read a file (a path or an open binary file) as float32 mono at ``sr`` Hz (channels averaged).

    Raises:
        ValueError: if the file cannot be decoded or holds NaN/inf samples.

    """
    import soundfile

    source = path if hasattr(path, "read") else str(path)
    try:
        data, file_sr = soundfile.read(source, dtype="float32", always_2d=True)
    except Exception as sf_err:  # noqa: BLE001 - any decoder failure: try librosa, then skip
        try:
            import librosa

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if hasattr(source, "seek"):
                    source.seek(0)
                data, file_sr = librosa.load(source, sr=None, mono=False, dtype=np.float32)
            data = np.atleast_2d(data).T
        except Exception:  # noqa: BLE001
            raise ValueError(f"unreadable or corrupt audio ({sf_err})") from None
    if data.shape[0] == 0:
        raise ValueError("no samples")
    if not np.isfinite(data).all():
        raise ValueError(f"{int(np.count_nonzero(~np.isfinite(data)))} NaN or infinite samples")
    mono = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if int(file_sr) != int(sr):
        import soxr

        mono = soxr.resample(mono, int(file_sr), int(sr), quality="HQ")
    return np.ascontiguousarray(mono, dtype=np.float32)


def pair_by_name(stems: list[Path], stem_root: str, contexts: list[Path], context_root: str):
    """Match stem files to context files by relative path without extension.

    Returns:
        ``(pairs, unmatched)``: ``[(stem, context)]`` and the stems with no context.

    """

    def key(path: Path, root: str) -> str:
        base = Path(root)
        rel = path.relative_to(base) if base.is_dir() else Path(path.name)
        return str(rel.with_suffix(""))

    by_key = {key(c, context_root): c for c in contexts}
    pairs, unmatched = [], []
    for stem in stems:
        context = by_key.get(key(stem, stem_root))
        if context is None:
            unmatched.append(stem)
        else:
            pairs.append((stem, context))
    return pairs, unmatched


class AudioFiles:
    """An iterable of audio items read from files, for :class:`AudioMetrics`.

    Yields ``(samples,)`` stems, or ``(samples, 2)`` (context, stem) pairs
    when contexts are given (both trimmed to the shorter length). Files that
    fail are recorded in :attr:`skipped`; :attr:`used` counts the others and
    :attr:`windows` their windows.

    Args:
        files: stem files, or ``(stem, context)`` pairs.
        sr: the embedder's rate.
        window: samples per window at ``sr``.
        win_dur: the window duration (for messages).
        skipped: files already left out (e.g. stems without a context).

    """

    def __init__(
        self, files: list, sr: int, window: int, win_dur: float, skipped: list | None = None
    ) -> None:
        self.files = files
        self.sr = sr
        self.window = window
        self.win_dur = win_dur
        self.skipped: list[Skipped] = list(skipped or [])
        self.total = len(files) + len(self.skipped)
        self.used: list[str] = []
        self.windows_per_file: list[int] = []

    @property
    def windows(self) -> int:
        """Windows taken from the files read so far."""
        return sum(self.windows_per_file)

    def __iter__(self) -> Iterator[np.ndarray]:
        for entry in self.files:
            stem_path, context_path = entry if isinstance(entry, tuple) else (entry, None)
            try:
                audio = read_mono(stem_path, self.sr)
                if context_path is not None:
                    try:
                        context = read_mono(context_path, self.sr)
                    except ValueError as err:
                        raise ValueError(f"context {context_path}: {err}") from None
                    n = min(len(audio), len(context))
                    audio = np.stack([context[:n], audio[:n]], axis=1)
            except ValueError as err:
                self.skipped.append(Skipped(str(stem_path), str(err)))
                continue
            if audio.shape[0] < self.window:
                self.skipped.append(
                    Skipped(
                        str(stem_path),
                        f"shorter than one window ({audio.shape[0] / self.sr:.2f} s < "
                        f"win_dur {self.win_dur:g} s)",
                    )
                )
                continue
            self.used.append(str(stem_path))
            self.windows_per_file.append(audio.shape[0] // self.window)
            yield audio
