"""Everything the command line checks before the first window is embedded.

Inputs: every path exists and holds at least one audio file whose header (or,
for formats soundfile cannot read, whose samples) can be read; files are
found once (see :func:`jaxmetrics.audio.files.discover_audio`). Outputs: the
folder exists and is writable, the path is not a folder, and it is not an
input file, inside an input folder or matched by an input glob. Options: the
combinations make sense (APA's context layouts, a device that exists, a
weights path that exists). Each problem is a :class:`CliError` naming the
argument and what is wrong.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from jaxmetrics.audio.files import (
    InputError,
    Skipped,
    discover_audio,
    pair_by_name,
    pair_by_song,
    probe,
    read_mono,
)
from jaxmetrics.cli.errors import CliError

__all__ = [
    "InputSet",
    "check_apa_options",
    "check_cache_dir",
    "check_device",
    "check_output",
    "check_weights",
    "refuse_input_file",
    "resolve_input",
]


class InputSet(NamedTuple):
    """One input (reference or candidate), resolved before any work.

    Attributes:
        label: ``"reference NAME"`` or ``"candidate set NAME"`` for messages.
        spec: the argument as given.
        entries: stem files, or ``(stem, context)`` pairs for APA.
        skipped: entries already left out (links, duplicates, unpaired stems).
        expected_windows: windows the files hold by their headers (None if
            some header could not be read).
        inputs: every file read for this set (stems and contexts).
        folders: the input folders given (``spec`` and its context folder).

    """

    label: str
    spec: str
    entries: list
    skipped: list[Skipped]
    expected_windows: int | None
    inputs: list[Path]
    folders: list[str]


def _discover(spec: str, what: str):
    try:
        return discover_audio(spec)
    except InputError as err:
        raise CliError(f"{what}: {err}") from None


def _require_readable(files: Sequence[Path], what: str) -> list[tuple[int, int] | None]:
    headers = [probe(f) for f in files]
    if any(h is not None for h in headers):
        return headers
    for file in files[:3]:  # formats without a soundfile header reader (e.g. m4a)
        try:
            read_mono(file, 16000)
            return headers
        except ValueError:
            continue
    raise CliError(
        f"{what}: none of its {len(files)} audio files can be read "
        f"(first: {files[0]}: unreadable or corrupt)"
    )


def resolve_input(
    spec: str,
    label: str,
    win_dur: float,
    *,
    context: str | None = None,
    context_name: str | None = None,
) -> InputSet:
    """Find, pair and check one input; count its windows from the file headers.

    Args:
        spec: folder, glob or file.
        label: how messages name the set.
        win_dur: window duration (to count windows).
        context: APA parallel layout: the folder of contexts of ``spec``'s stems.
        context_name: APA per-song layout: the name of the context file of each folder.

    Raises:
        CliError: if the input does not exist, holds no audio, or no file can be read.

    """
    found = _discover(spec, label)
    skipped = list(found.skipped)
    entries: list = list(found.files)
    inputs = list(found.files)
    if context is not None:
        contexts = _discover(context, f"{label}'s contexts")
        skipped.extend(contexts.skipped)
        inputs.extend(contexts.files)
        entries, unmatched = pair_by_name(found.files, spec, contexts.files, context)
        skipped.extend(
            Skipped(str(f), f"no context file of the same name in {context}") for f in unmatched
        )
    elif context_name is not None:
        entries, unpaired = pair_by_song(found.files, context_name)
        skipped.extend(unpaired)
    if not entries:
        raise CliError(
            f"{label}: no stem could be paired with a context ({len(skipped)} "
            f"files left out, e.g. {skipped[0].path}: {skipped[0].reason})"
            if skipped
            else f"{label}: no audio files"
        )
    stems = [e[0] if isinstance(e, tuple) else e for e in entries]
    headers = _require_readable(stems, label)
    expected = None
    if all(h is not None for h in headers):
        expected = sum(int(frames / sr / win_dur) for frames, sr in headers)
    folders = [f for f in (spec, context) if f is not None and Path(f).is_dir()]
    return InputSet(label, spec, entries, skipped, expected, inputs, folders)


def check_apa_options(args: argparse.Namespace) -> None:
    """APA needs exactly one context layout; the APA options mean nothing without APA."""
    apa = "apa" in args.metrics
    given = [
        name
        for name, value in (
            ("--reference-context", args.reference_context),
            ("--candidate-context", args.candidate_context),
            ("--context-name", args.context_name),
            ("--mix-function", args.mix_function),
        )
        if value
    ]
    if not apa:
        if given:
            raise CliError(
                f"{', '.join(given)}: only used by APA, which --metrics does not include: add "
                "apa to --metrics or leave them out"
            )
        return
    if args.context_name:
        if args.reference_context or args.candidate_context:
            raise CliError(
                "give either --context-name (one folder per song) or --reference-context and "
                "--candidate-context (parallel folders), not both"
            )
        return
    if not args.reference_context or not args.candidate_context:
        raise CliError(
            "apa needs context/stem pairs: give --context-name NAME (one folder per song, "
            "NAME.* its context) or --reference-context DIR and --candidate-context DIR "
            "(parallel folders, paired by file name)"
        )
    if len(args.candidate_context) != len(args.candidates):
        raise CliError(
            f"give one --candidate-context per candidate folder, in the same order "
            f"({len(args.candidates)} candidates, {len(args.candidate_context)} contexts)"
        )


def _inside(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


def refuse_input_file(path: str, option: str, inputs: Sequence[InputSet]) -> None:
    """Raise :class:`CliError` if ``path`` is (by its real path) one of the input files."""
    real = os.path.realpath(path)
    for item in inputs:
        for file in item.inputs:
            if os.path.realpath(file) == real:
                raise CliError(
                    f"{option} {path}: is the input file {file}; refusing to overwrite an input"
                )


def check_output(path: str, option: str, inputs: Sequence[InputSet]) -> None:
    """Refuse an output path we cannot write or that would touch an input.

    Raises:
        CliError: if ``path`` is a folder, its folder is missing or not
            writable, it is not writable, or it is an input file, lies in an
            input folder or matches an input glob.

    """
    out = Path(path)
    if out.is_dir():
        raise CliError(f"{option} {path}: is a folder; give a file name")
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise CliError(f"{option} {path}: the folder {folder} does not exist")
    try:  # the real test (permissions, read-only mounts), as the final write will do it
        fd, probe_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".probe", dir=folder)
        os.close(fd)
        os.unlink(probe_name)
    except OSError as err:
        raise CliError(
            f"{option} {path}: the folder {folder} is not writable ({err.strerror})"
        ) from None
    if out.exists() and not os.access(out, os.W_OK):
        raise CliError(f"{option} {path}: the file exists and is not writable")
    real = os.path.realpath(out)
    refuse_input_file(path, option, inputs)
    for item in inputs:
        for folder in item.folders:
            if _inside(real, os.path.realpath(folder)):
                raise CliError(
                    f"{option} {path}: lies inside the input folder {folder}; write it elsewhere"
                )


def check_cache_dir(path: Path, inputs: Sequence[InputSet]) -> None:
    """The embedding cache must be creatable and outside every input folder."""
    real = os.path.realpath(path)
    for item in inputs:
        for folder in item.folders:
            if _inside(real, os.path.realpath(folder)):
                raise CliError(f"--cache-dir {path}: lies inside the input folder {folder}")
    existing = Path(real)
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise CliError(f"--cache-dir {path}: {existing} is not a writable folder")


def check_device(device: str | None, embedder: str) -> None:
    """Refuse a torch device that this machine does not have (instead of ignoring it)."""
    if device is None:
        return
    kind = device.split(":")[0].lower()
    if kind == "cpu":
        return
    if embedder.lower().startswith("logmel"):
        raise CliError(
            f"--device {device}: the logmel embedder runs on the CPU (librosa); leave --device out"
        )
    try:
        import torch
    except ImportError:
        return  # building the embedder reports the missing torch with its install command
    available = {
        "cuda": torch.cuda.is_available(),
        "mps": getattr(torch.backends, "mps", None) is not None
        and torch.backends.mps.is_available(),
    }
    if kind not in available:
        raise CliError(f"--device {device}: unknown device type; use cpu, cuda or mps")
    if not available[kind]:
        raise CliError(
            f"--device {device}: no {kind} device is available on this machine (torch "
            f"{torch.__version__}); use --device cpu or leave --device out"
        )


def check_weights(weights: str | None, embedder: str) -> None:
    """``--weights`` must exist and belong to a learned embedder."""
    if weights is None:
        return
    if embedder.lower().startswith("logmel"):
        raise CliError("--weights: the logmel embedder has no weights; leave --weights out")
    if not Path(weights).exists():
        raise CliError(f"--weights {weights}: no such file or folder")
