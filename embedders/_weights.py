"""Where pretrained weights come from, and how they are read safely.

Resolution order for a weight file (see :func:`resolve_weights`):

1. an explicit path given by the caller;
2. ``$JAXMETRICS_WEIGHTS/<filename>``, a directory the user fills by hand
   (the way to run on machines without network access);
3. the user cache, ``platformdirs.user_cache_dir("jaxmetrics")/weights``;
4. a download from the canonical URL into that cache, with a progress bar,
   to a temporary file in the same directory that is renamed only once its
   size (and, where known, its SHA-256 prefix) has been checked, so an
   interrupted download never leaves a file that looks complete. Setting
   ``JAXMETRICS_OFFLINE=1`` skips this step.

There is no fallback to random weights: when no file can be found the error
names the file, its URL and the directories it may be put in.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embedders._torch import require

__all__ = [
    "ENV_OFFLINE",
    "ENV_WEIGHTS",
    "WeightFile",
    "WeightsNotFoundError",
    "cache_dir",
    "download",
    "load_checkpoint",
    "load_strict",
    "resolve_weights",
]

ENV_WEIGHTS = "JAXMETRICS_WEIGHTS"
ENV_OFFLINE = "JAXMETRICS_OFFLINE"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class WeightFile:
    """A released weight file.

    Attributes:
        filename: the file's name as published (also its name on disk here).
        url: the canonical download address.
        sha256_prefix: leading hex digits of the file's SHA-256 where the
            publisher states them (torch.hub names carry 8 of them), else None.

    """

    filename: str
    url: str
    sha256_prefix: str | None = None


class WeightsNotFoundError(FileNotFoundError):
    """No weight file was found locally and none could be downloaded."""


def cache_dir() -> Path:
    """Return the user cache directory for weights (not created here)."""
    platformdirs = require("platformdirs")
    return Path(platformdirs.user_cache_dir("jaxmetrics")) / "weights"


def _where_to_put(spec: WeightFile) -> str:
    env = os.environ.get(ENV_WEIGHTS)
    env_text = f"${ENV_WEIGHTS} (now {env!r})" if env else f"a directory named by ${ENV_WEIGHTS}"
    return (
        f"download {spec.url} and put it, named {spec.filename!r}, into {env_text} "
        f"or into the cache directory {cache_dir()}, or name the file with --weights PATH "
        "(command line) or weights=PATH (Python)"
    )


def resolve_weights(spec: WeightFile, path: str | os.PathLike[str] | None = None) -> Path:
    """Find a weight file locally, downloading it to the user cache if needed.

    Args:
        spec: the released file to find.
        path: an explicit file path; when given, nothing else is tried.

    Returns:
        Path of an existing file.

    Raises:
        FileNotFoundError: if an explicit ``path`` does not exist.
        WeightsNotFoundError: if the file is nowhere locally and the download
            is disabled or fails; the message names the file, its URL and
            where to put it.

    """
    if path is not None:
        explicit = Path(path).expanduser()
        if not explicit.is_file():
            raise FileNotFoundError(
                f"weight file {str(explicit)!r} (for {spec.filename}) not found"
            )
        return explicit
    env = os.environ.get(ENV_WEIGHTS)
    if env:
        candidate = Path(env).expanduser() / spec.filename
        if candidate.is_file():
            return candidate
    cached = cache_dir() / spec.filename
    if cached.is_file():
        return cached
    if os.environ.get(ENV_OFFLINE, "") not in ("", "0"):
        raise WeightsNotFoundError(
            f"weight file {spec.filename!r} not found and ${ENV_OFFLINE} forbids "
            f"downloading it; {_where_to_put(spec)}"
        )
    try:
        return download(spec, cached)
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        raise WeightsNotFoundError(
            f"weight file {spec.filename!r} not found locally and its download from "
            f"{spec.url} failed ({err}); {_where_to_put(spec)}"
        ) from err


def download(spec: WeightFile, dest: Path, *, timeout: float = 60.0) -> Path:
    """Download ``spec.url`` to ``dest`` atomically, with a progress bar.

    The bytes go to a temporary file beside ``dest``; it is renamed to
    ``dest`` only after the byte count equals the server's Content-Length and
    the SHA-256 prefix (if ``spec`` has one) matches. On any failure the
    temporary file is removed.

    Args:
        spec: the file to fetch.
        dest: final path.
        timeout: socket timeout in seconds.

    Returns:
        ``dest``.

    Raises:
        urllib.error.URLError: if the server cannot be reached.
        http.client.HTTPException: if the connection breaks mid-transfer.
        OSError: on a short read, a size or checksum mismatch, or a disk error.

    """
    tqdm = require("tqdm").tqdm
    created = [p for p in (dest.parent, *dest.parent.parents) if not p.exists()]
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    ok = False
    try:
        digest = hashlib.sha256()
        received = 0
        with os.fdopen(fd, "wb") as out:
            with urllib.request.urlopen(spec.url, timeout=timeout) as response:  # noqa: S310
                length_header = response.headers.get("Content-Length")
                expected = int(length_header) if length_header is not None else None
                with tqdm(
                    total=expected, unit="B", unit_scale=True, unit_divisor=1024,
                    desc=f"downloading {spec.filename}",
                ) as bar:
                    while chunk := response.read(_CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        received += len(chunk)
                        bar.update(len(chunk))
            out.flush()
            os.fsync(out.fileno())
        if expected is not None and received != expected:
            raise OSError(f"download of {spec.url} stopped at {received} of {expected} bytes")
        if received == 0:
            raise OSError(f"download of {spec.url} returned no data")
        if spec.sha256_prefix and not digest.hexdigest().startswith(spec.sha256_prefix):
            raise OSError(
                f"download of {spec.url} has SHA-256 {digest.hexdigest()}, expected a "
                f"hash starting with {spec.sha256_prefix}"
            )
        os.replace(tmp, dest)
        ok = True
        return dest
    finally:
        tmp.unlink(missing_ok=True)
        if not ok:  # a failed download leaves no empty cache folders behind
            for folder in created:  # deepest first
                try:
                    folder.rmdir()
                except OSError:
                    break


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a torch checkpoint without unpickling arbitrary objects.

    Uses ``torch.load(weights_only=True)`` (memory-mapped for zip-format
    files, so multi-GB checkpoints with optimizer state are not read whole).

    Args:
        path: checkpoint file.

    Returns:
        The loaded object (a dict).

    Raises:
        ValueError: if the file holds anything but tensors and plain
            containers, or is truncated or corrupt.

    """
    torch = require("torch")
    import pickle

    path = Path(path)
    try:
        obj = torch.load(
            path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path)
        )
    except pickle.UnpicklingError as err:
        # torch's own message advises weights_only=False, which would run
        # arbitrary code from the file: never pass that advice on.
        raise ValueError(
            f"{str(path)!r} is not a plain torch checkpoint of tensors (corrupt, or it holds "
            f"other objects), so it was not loaded: {_first_line(err)}; delete it to "
            "download it again, or replace it with the published file"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(
            f"{str(path)!r} is not a readable torch checkpoint (truncated or corrupt? "
            f"delete it to download it again): {_first_line(err)}"
        ) from None
    if not isinstance(obj, Mapping):
        raise ValueError(f"{str(path)!r} holds a {type(obj).__name__}, expected a dict")
    return dict(obj)


def _first_line(err: BaseException) -> str:
    """The first line of an error message, without torch's advice to unpickle anything."""
    line = (str(err).strip().splitlines() or [type(err).__name__])[0]
    if "weights_only" in line:
        return type(err).__name__
    return line


def _preview(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return f"{shown}, ... ({len(keys)} in all)" if len(keys) > limit else shown


def load_strict(module: Any, state_dict: Mapping[str, Any], source: str) -> None:
    """Load ``state_dict`` into ``module``, requiring exactly matching keys and shapes.

    Args:
        module: a ``torch.nn.Module``.
        state_dict: parameter and buffer tensors by name.
        source: a description of where they come from, for the error message.

    Raises:
        ValueError: listing missing and unexpected keys, or the shape mismatch.

    """
    expected = set(module.state_dict().keys())
    given = set(state_dict.keys())
    missing = sorted(expected - given)
    unexpected = sorted(given - expected)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing keys: {_preview(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {_preview(unexpected)}")
        raise ValueError(
            f"checkpoint {source} does not match the model; " + "; ".join(parts)
        )
    try:
        module.load_state_dict(state_dict, strict=True)
    except RuntimeError as err:
        raise ValueError(f"checkpoint {source} does not match the model: {err}") from err
