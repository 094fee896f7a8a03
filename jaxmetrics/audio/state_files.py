"""Saving and loading the reference of an :class:`~jaxmetrics.AudioMetrics` (its state file).

A state file is an ``.npz`` of plain arrays (no pickle): a format name and
version, the jaxmetrics version, the metrics, the embedder identity, window
and mix function it was computed with, and for each reference set (``stem``,
``mix``, ``anti``) its Gaussian statistics and, where the metrics need them,
its embeddings. It is written atomically with a content digest
(:mod:`jaxmetrics.audio.npz_files`). Loading checks, in this order, that the
file is readable, is a state file of a version we read, matches its digest,
was computed with the same embedder, window and mix function, holds
statistics that agree with its stored rows, and has what the metrics need;
each failure is a :class:`ValueError` that names the file and the problem.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import numpy as np

from jaxmetrics.audio.npz_files import check_digest, read_arrays, write_arrays
from jaxmetrics.audio.state import EmbeddingSet, stats_of

__all__ = ["READABLE_VERSIONS", "STATE_FORMAT", "STATE_VERSION", "StateConfig", "load", "save"]

STATE_FORMAT = "jaxmetrics.AudioMetrics.state"
# Version 2 adds the content digest; version 1 files (no digest) are still read.
STATE_VERSION = 2
READABLE_VERSIONS = (1, 2)
_WHAT = "AudioMetrics state file"
_SETS = ("stem", "mix", "anti")


class StateConfig(NamedTuple):
    """What a state file must agree with, and what the loading pipeline needs from it.

    Attributes:
        embedder: the embedder identity (``AudioMetrics.embedder_identity``).
        win_dur: window duration in seconds.
        mix_function: the APA mix function's name, ``""`` without APA.
        metrics: the metric names.
        store: per reference set, whether its embeddings must be kept.
        needed: the reference sets that must not be empty.

    """

    embedder: str
    win_dur: float
    mix_function: str
    metrics: list[str]
    store: dict[str, bool]
    needed: tuple[str, ...]


def save(
    path: str | os.PathLike[str],
    config: StateConfig,
    sets: dict[str, EmbeddingSet],
    reference_calls: int,
) -> None:
    """Write a reference to ``path`` atomically (see the module docstring)."""
    from jaxmetrics._src.version import VERSION

    arrays: dict[str, Any] = {
        "format": np.array(STATE_FORMAT),
        "version": np.array(STATE_VERSION),
        "jaxmetrics_version": np.array(VERSION),
        "metrics": np.array(config.metrics),
        "reference_calls": np.array(reference_calls),
        "embedder": np.array(config.embedder),
        "win_dur": np.array(config.win_dur),
        "mix_function": np.array(config.mix_function),
    }
    for name, values in sets.items():
        arrays.update(values.to_arrays(name))
    write_arrays(path, arrays)


def _field(arrays: dict[str, np.ndarray], key: str, path: Any) -> Any:
    if key not in arrays:
        raise ValueError(f"{path}: the {_WHAT} lacks its {key!r} entry (damaged or not ours)")
    value = arrays[key]
    if value.ndim != 0 and key != "metrics":
        raise ValueError(f"{path}: the {_WHAT}'s {key!r} entry has shape {value.shape}")
    return value if key == "metrics" else value.item()


def _check_rows_agree(arrays: dict[str, np.ndarray], path: Any) -> None:
    """Refuse statistics that do not describe the stored rows (an edited or mixed-up file)."""
    for name in _SETS:
        key = f"{name}.embeddings"
        if key not in arrays or f"{name}.count" not in arrays:
            continue
        rows = np.asarray(arrays[key], np.float32)
        count = int(np.asarray(arrays[f"{name}.count"]))
        if rows.ndim != 2 or count != rows.shape[0]:
            raise ValueError(
                f"{path}: the {name!r} statistics count {count} windows but the file stores "
                f"{rows.shape[0] if rows.ndim else 0} rows"
            )
        expect = stats_of(rows)
        mean = np.asarray(arrays[f"{name}.mean"], np.float64)
        cov = np.asarray(arrays[f"{name}.covariance"], np.float64)
        if mean.shape != expect.mean.shape or cov.shape != expect.covariance.shape:
            raise ValueError(f"{path}: the {name!r} statistics and rows differ in dimension")
        # float32 rows: statistics recomputed in another order agree to ~1e-6 of their scale.
        scale = max(1.0, float(np.abs(rows).max()))
        cov_scale = max(1e-12, float(np.abs(expect.covariance).max()))
        if (
            np.abs(mean - expect.mean).max() > 1e-4 * scale
            or np.abs(cov - expect.covariance).max() > 1e-3 * cov_scale
        ):
            raise ValueError(
                f"{path}: the {name!r} statistics do not match the stored rows (edited file?)"
            )


def load(path: str | os.PathLike[str], config: StateConfig) -> tuple[dict[str, EmbeddingSet], int]:
    """Read a reference written by :func:`save`, checked against ``config``.

    Returns:
        ``({"stem": ..., "mix": ..., "anti": ...}, reference_calls)``.

    Raises:
        ValueError: naming ``path``: unreadable or damaged file, not a state
            file, another version, a digest mismatch, another embedder,
            window or mix function, statistics that disagree with the stored
            rows, or no (or statistics-only) reference for these metrics.

    """
    arrays = read_arrays(path, _WHAT)
    if "format" not in arrays or str(arrays["format"]) != STATE_FORMAT:
        raise ValueError(f"{path}: not an {_WHAT} (an .npz without its format entry)")
    try:
        version = int(_field(arrays, "version", path))
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: the {_WHAT}'s version is not a number ({err})") from None
    if version not in READABLE_VERSIONS:
        raise ValueError(
            f"{path}: state format version {version}; this jaxmetrics reads version "
            f"{STATE_VERSION}: recompute the reference"
        )
    if not check_digest(arrays, path, _WHAT) and version >= 2:
        raise ValueError(f"{path}: the {_WHAT} lacks its content digest (damaged or edited)")
    ours = {"embedder": config.embedder, "win_dur": config.win_dur}
    if config.mix_function:
        ours["mix_function"] = config.mix_function
    for key, value in ours.items():
        theirs = _field(arrays, key, path)
        if key == "mix_function" and not theirs:
            continue
        if theirs != value:
            raise ValueError(
                f"{path}: the reference was computed with {key}={theirs!r}, but this "
                f"AudioMetrics uses {key}={value!r}"
            )
    _check_rows_agree(arrays, path)
    try:
        sets = {name: EmbeddingSet.from_arrays(arrays, name, config.store[name]) for name in _SETS}
    except KeyError as err:
        raise ValueError(f"{path}: the {_WHAT} lacks the entry {err} (damaged)") from None
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    saved_for = [str(m) for m in np.atleast_1d(_field(arrays, "metrics", path))]
    if any(sets[name].count == 0 for name in config.needed):
        raise ValueError(
            f"{path}: the state has no reference for the metrics {config.metrics} "
            f"(it was saved for {saved_for})"
        )
    return sets, int(_field(arrays, "reference_calls", path))
