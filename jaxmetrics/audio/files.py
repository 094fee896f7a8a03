"""Folders and globs of audio files as inputs of the pipeline (the command line's reader).

Files are read with soundfile (wav, flac, ogg, mp3, aiff, ...), falling back
to librosa for other formats; multichannel files are downmixed to mono by
averaging the channels; every file is resampled (soxr, ``HQ``) to the
embedder's rate. Files that cannot be read, contain NaN/inf samples or are
shorter than one window are skipped and recorded, never silently dropped.
Input files are only ever opened for reading.
"""

from __future__ import annotations

import errno
import fnmatch
import glob
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

import numpy as np

__all__ = [
    "AUDIO_EXTENSIONS",
    "AudioFiles",
    "Found",
    "InputError",
    "Skipped",
    "discover_audio",
    "find_audio",
    "pair_by_name",
    "pair_by_song",
    "probe",
    "read_mono",
]

AUDIO_EXTENSIONS = frozenset(
    {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".m4a", ".au", ".w64"}
)


class InputError(ValueError):
    """Bad command-line input (no files, unpaired folders, ...)."""


class Skipped(NamedTuple):
    """A file left out, and why."""

    path: str
    reason: str


class Found(NamedTuple):
    """Audio files found for one input, and the entries left out on the way."""

    files: list[Path]
    skipped: list[Skipped]


def _match(parts: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    """Glob matching of path components; ``**`` spans any number of folders."""
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_match(parts[i:], pattern[1:]) for i in range(len(parts) + 1))
    if not parts:
        return False
    name = parts[0]
    if name.startswith(".") and not pattern[0].startswith("."):
        return False  # as glob: wildcards do not match hidden names
    return fnmatch.fnmatchcase(name, pattern[0]) and _match(parts[1:], pattern[1:])


def _walk(root: Path, max_depth: int | None, skipped: list[Skipped]) -> Iterator[Path]:
    """Files under ``root``, following links to folders, each real folder entered once.

    Real folders are searched before links to folders, so a folder reached
    both ways is listed under its own path. A link to a folder already
    entered (a loop, or a second way into the same tree) and a link whose
    target is missing or loops on itself are recorded in ``skipped`` instead
    of being followed, so a walk always ends.
    """
    entered: set[str] = set()
    folders: list[tuple[Path, int]] = [(root, 0)]  # a stack: depth first
    links: list[tuple[Path, int]] = []  # entered once no real folder is left
    while folders or links:
        folder, depth = folders.pop() if folders else links.pop(0)
        real = os.path.realpath(folder)
        if real in entered:
            skipped.append(
                Skipped(str(folder), f"link to a folder already searched ({real}): not followed")
            )
            continue
        entered.add(real)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name, reverse=True)
        except OSError as err:
            skipped.append(Skipped(str(folder), f"folder cannot be listed ({err.strerror})"))
            continue
        for entry in entries:
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir()  # follows links
                if entry.is_symlink():
                    os.stat(entry.path)  # raises for a dangling or self-looping link
            except OSError as err:
                reason = "symbolic link loop" if err.errno == errno.ELOOP else "broken link"
                skipped.append(Skipped(str(path), f"{reason} ({err.strerror}), not followed"))
                continue
            if is_dir:
                if max_depth is None or depth < max_depth:
                    (links if entry.is_symlink() else folders).append((path, depth + 1))
            elif entry.is_file():
                yield path


def _split_glob(spec: str) -> tuple[Path, tuple[str, ...]]:
    """A glob's literal leading folder and the pattern's remaining components."""
    parts = Path(spec).parts
    literal = 0
    while literal < len(parts) - 1 and not glob.has_magic(parts[literal]):
        literal += 1
    base = Path(*parts[:literal]) if literal else Path(".")
    return base, tuple(parts[literal:])


def discover_audio(spec: str) -> Found:
    """Audio files of a folder (recursive), a glob pattern, or a single file, each found once.

    Links to folders are followed, but each real folder is entered once, so
    symbolic-link loops neither hang nor repeat files; files reached twice
    (through links) are kept once, by real path. Links that loop or dangle,
    duplicates and unlistable folders are returned in ``skipped`` with the
    reason; files without an audio extension are ignored.

    Raises:
        InputError: if ``spec`` does not exist (and is not a glob), or nothing
            it names is an audio file.

    """
    path = Path(spec)
    skipped: list[Skipped] = []
    if path.is_file():
        return Found([path], [])
    if path.is_dir():
        candidates = list(_walk(path, None, skipped))
    elif glob.has_magic(spec):
        base, pattern = _split_glob(spec)
        depth = None if "**" in pattern else len(pattern) - 1
        candidates = []
        if base.is_dir():
            for file in _walk(base, depth, skipped):
                if _match(file.relative_to(base).parts, pattern):
                    candidates.append(file)
    else:
        raise InputError(f"{spec}: no such file or folder")
    by_real: dict[str, list[Path]] = {}
    for file in sorted(f for f in candidates if f.suffix.lower() in AUDIO_EXTENSIONS):
        by_real.setdefault(os.path.realpath(file), []).append(file)
    files: list[Path] = []
    for paths in by_real.values():
        # keep the path that reaches the file without a link, if there is one
        keep = next((p for p in paths if not p.is_symlink()), paths[0])
        files.append(keep)
        skipped.extend(
            Skipped(str(p), f"same file as {keep} (through a link)") for p in paths if p != keep
        )
    files.sort()
    if not files:
        raise InputError(
            f"{spec}: no audio files found (looked for {', '.join(sorted(AUDIO_EXTENSIONS))})"
        )
    return Found(files, skipped)


def find_audio(spec: str) -> list[Path]:
    """Audio files of a folder (recursive), a glob pattern, or a single file, sorted.

    See :func:`discover_audio`, which also returns what was left out.

    Raises:
        InputError: if nothing matches.

    """
    return discover_audio(spec).files


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


def pair_by_song(files: list[Path], context_name: str) -> tuple[list, list[Skipped]]:
    """Pair stems with the context of their own folder (one folder per song).

    In each folder the audio file named ``context_name`` (any extension) is
    the context; every other audio file of that folder is a stem mixed with
    it::

        songs/
          song1/context.wav  song1/stem.wav
          song2/context.flac song2/bass.wav song2/drums.wav

    Returns:
        ``(pairs, skipped)``: ``[(stem, context)]`` and the stems of folders
        without a context, with the reason.

    """
    contexts: dict[Path, Path] = {}
    for file in files:
        if file.stem == context_name:
            contexts.setdefault(file.parent, file)
    pairs, skipped = [], []
    for file in files:
        if file.stem == context_name:
            continue
        context = contexts.get(file.parent)
        if context is None:
            skipped.append(
                Skipped(str(file), f"no {context_name}.* file in its folder to pair it with")
            )
        else:
            pairs.append((file, context))
    return pairs, skipped


def probe(path: Path) -> tuple[int, int] | None:
    """``(frames, sample rate)`` from a file's header, or None if soundfile cannot read it.

    Reads the header only (no decoding): the command line uses it to check
    inputs and count windows before the long work starts.
    """
    import soundfile

    try:
        info = soundfile.info(str(path))
    except Exception:  # noqa: BLE001 - any header failure means "unknown"
        return None
    if info.frames <= 0 or info.samplerate <= 0:
        return None
    return int(info.frames), int(info.samplerate)


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
        self.label: str | None = None  # for progress bars: "candidate set NAME"
        self.expected_windows: int | None = None  # from the headers, before reading
        self.silent: list[str] = []  # files of digital silence (every sample zero)
        self.clipped: list[str] = []  # files with samples outside [-1, 1]

    @property
    def windows(self) -> int:
        """Windows taken from the files read so far."""
        return sum(self.windows_per_file)

    def load(self, entry: Path | tuple[Path, Path]) -> np.ndarray | None:
        """Read one entry of :attr:`files` at ``sr``; None if unusable (see :attr:`skipped`).

        Does not count the entry as used: :meth:`accept` does, once its
        windows are taken.
        """
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
            return None
        if audio.shape[0] < self.window:
            self.skipped.append(
                Skipped(
                    str(stem_path),
                    f"shorter than one window ({audio.shape[0] / self.sr:.2f} s < "
                    f"win_dur {self.win_dur:g} s)",
                )
            )
            return None
        return audio

    def accept(self, path: Path | str, windows: int, peak: float | None) -> None:
        """Count a file as used: ``windows`` windows, ``peak`` its largest absolute sample.

        ``peak`` is None when the file was not read in this run (its
        embeddings were stored): silence and clipping are reported when it is.
        """
        self.used.append(str(path))
        self.windows_per_file.append(int(windows))
        if peak is None:
            return
        if peak == 0.0:
            self.silent.append(str(path))
        elif peak > 1.0:
            self.clipped.append(str(path))

    def __iter__(self) -> Iterator[np.ndarray]:
        for entry in self.files:
            audio = self.load(entry)
            if audio is None:
                continue
            stem_path = entry[0] if isinstance(entry, tuple) else entry
            self.accept(stem_path, audio.shape[0] // self.window, float(np.abs(audio).max()))
            yield audio
