"""Writing files so that an interrupted run never leaves one that looks complete.

Every file the pipeline and the command line write (embedding caches, state
files, JSON results) goes through :func:`write_atomic`: the bytes go to a
temporary file in the destination's own folder (so the final rename never
crosses a file system), are flushed and fsynced, and the temporary file is
renamed over the destination with :func:`os.replace`, which is atomic on
POSIX and Windows. A kill at any moment leaves either the previous file,
untouched, or the new one, whole; at worst a hidden ``.NAME.*.tmp`` file,
never a truncated ``NAME``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

__all__ = ["write_atomic", "write_text_atomic"]


def write_atomic(path: str | os.PathLike[str], write: Callable[[IO[bytes]], None]) -> Path:
    """Write a file atomically: ``write(f)`` fills a temporary file that replaces ``path``.

    Args:
        path: the destination; its folder must exist.
        write: called once with a binary file object open for writing.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        FileNotFoundError: if the destination's folder does not exist.
        Whatever ``write`` raises; the temporary file is removed and the
        destination is left as it was.

    """
    dest = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        # mkstemp makes the file private (0600); give it the mode open() would give
        # a new file, or keep the mode of the file it replaces.
        os.chmod(tmp_name, _mode_for(dest))
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_folder(dest.parent)
    return dest


def _mode_for(dest: Path) -> int:
    try:
        return dest.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 text atomically (see :func:`write_atomic`)."""
    return write_atomic(path, lambda f: f.write(text.encode("utf-8")))


def _fsync_folder(folder: Path) -> None:
    # The rename is durable only once the folder's entry is on disk; not every
    # platform can open a folder (Windows cannot), and then there is nothing to do.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
