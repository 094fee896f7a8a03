"""Reading and writing ``.npz`` files of plain arrays, with a content digest and clear errors.

State files and embedding caches are ``.npz`` archives of plain arrays (never
pickles). Written by :func:`write_arrays`, they carry a ``digest``: the
SHA-256 of every other array's name, dtype, shape and bytes, so a flipped
byte, a truncated copy or a hand edit is found when the file is read back.
:func:`read_arrays` turns every way a file can be unreadable (missing, a
folder, empty, truncated, not a zip, a bare ``.npy``, pickled objects, a bad
CRC) into one :class:`ValueError` that names the file and the problem.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from jaxmetrics.audio.atomic import write_atomic

__all__ = ["DIGEST_KEY", "check_digest", "content_digest", "read_arrays", "write_arrays"]

DIGEST_KEY = "digest"


def content_digest(arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 (hex) of the arrays' names, dtypes, shapes and bytes, in name order.

    The ``digest`` entry itself is left out, so a file's digest can be checked
    against the rest of the file.
    """
    h = hashlib.sha256()
    for name in sorted(arrays):
        if name == DIGEST_KEY:
            continue
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def write_arrays(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray]) -> Path:
    """Write ``arrays`` and their :func:`content_digest` to an ``.npz`` file, atomically.

    Raises:
        FileNotFoundError: if the file's folder does not exist.

    """
    out = {k: np.asarray(v) for k, v in arrays.items()}
    out[DIGEST_KEY] = np.array(content_digest(out))
    return write_atomic(path, lambda f: np.savez(f, **out))


def read_arrays(path: str | os.PathLike[str], what: str) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` file, read eagerly, with no pickles.

    Args:
        path: the file.
        what: what the file should be, for messages (``"AudioMetrics state file"``).

    Raises:
        ValueError: naming ``path`` if it is missing, a folder, empty, a bare
            ``.npy``, not a zip archive, truncated, damaged, or holds pickled
            objects.

    """
    file = Path(path)
    if file.is_dir():
        raise ValueError(f"{path}: is a folder, not an {what}")
    if not file.exists():
        raise ValueError(f"{path}: no such file (expected an {what})")
    with open(file, "rb") as f:
        head = f.read(6)
    if not head:
        raise ValueError(f"{path}: empty file, not an {what} (interrupted copy?)")
    if head == b"\x93NUMPY":
        raise ValueError(f"{path}: a bare .npy array, not an {what} (.npz)")
    if not head.startswith(b"PK"):
        raise ValueError(f"{path}: not an {what} (not an .npz/zip archive)")
    try:
        with np.load(file, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except ValueError as err:
        if "pickle" in str(err):
            raise ValueError(f"{path}: holds pickled objects, refused (not an {what})") from None
        raise ValueError(f"{path}: damaged {what} ({err})") from None
    except (zipfile.BadZipFile, EOFError, OSError, KeyError) as err:
        raise ValueError(f"{path}: damaged or truncated {what} ({err})") from None
    except Exception as err:  # noqa: BLE001 - zlib.error and other decoder failures
        raise ValueError(f"{path}: damaged {what} ({type(err).__name__}: {err})") from None


def check_digest(arrays: Mapping[str, np.ndarray], path: str | os.PathLike[str], what: str) -> bool:
    """Check the stored digest; False if the file has none (written by an older version).

    Raises:
        ValueError: if the digest does not match the content.

    """
    if DIGEST_KEY not in arrays:
        return False
    stored = str(arrays[DIGEST_KEY])
    if stored != content_digest(arrays):
        raise ValueError(
            f"{path}: the {what}'s content does not match its digest: the file was damaged "
            "or edited after it was written"
        )
    return True
