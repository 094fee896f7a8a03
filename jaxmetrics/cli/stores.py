"""Embedding stores on the command line: ``embed -o STORE``, and stores as inputs.

The output rule of ``embed``: a path ending in ``.npz`` is an embedding file
(as before); any other path is a store folder, which must be an existing
store, an empty folder, or not exist yet. A store is recognised as an input
by its identity file (:func:`jaxmetrics.audio.store.is_store`), so
``evaluate`` and ``score`` take one wherever they take audio or an
embedding file. Every check here reads only the stores' identity files and
shard footers: it runs before any embedding.

Torch-free (``score`` imports it).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from jaxmetrics.audio.embedding_files import Embeddings
from jaxmetrics.audio.store import EmbeddingStore, StoreIdentity, is_store, open_store
from jaxmetrics.cli.errors import CliError
from jaxmetrics.cli.preflight import InputSet, check_output, refuse_input_file

__all__ = [
    "StoreInput",
    "check_identity",
    "check_store_output",
    "is_store",
    "open_input",
    "store_embeddings",
    "store_settings",
    "writes_store",
]


class StoreInput(NamedTuple):
    """A store given as an input: how messages name it, the argument, the opened store."""

    label: str
    spec: str
    store: EmbeddingStore


def writes_store(output: str) -> bool:
    """Whether ``embed -o output`` writes a store (not ``.npz``) or an existing store."""
    return is_store(output) or Path(output).suffix.lower() != ".npz"


def open_input(spec: str, label: str) -> StoreInput:
    """Open a store given as an input; refuse one that is unreadable or empty.

    Raises:
        CliError: naming ``label``.

    """
    try:
        store = open_store(spec)
        windows = store.windows  # reads every shard's footer: checks their identity
    except ValueError as err:
        raise CliError(f"{label}: {err}") from None
    if not windows:
        raise CliError(f"{label}: the store {spec} holds no embeddings")
    return StoreInput(label, spec, store)


def check_identity(item: StoreInput, wanted: StoreIdentity, how: str) -> None:
    """Refuse a store whose identity is not ``wanted``, naming every differing field.

    Args:
        item: the store input.
        wanted: the identity of the embeddings it is compared with.
        how: what ``wanted`` comes from, for the message (e.g. "the command line").

    Raises:
        CliError: if a field differs.

    """
    diff = item.store.identity.differences(wanted)
    if diff:
        fields = "; ".join(f"{d.replace(' != ', ' in the store, ')} wanted" for d in diff)
        raise CliError(
            f"{item.label}: the store was written with another identity than {how} "
            f"({fields}): embeddings are not comparable"
        )


def store_settings(identity: StoreIdentity) -> dict[str, Any]:
    """The settings an ``.npz`` records, as a store's identity gives them (for comparisons)."""
    return {
        "embedder": identity.embedder,
        "win_dur": identity.window_length / identity.sample_rate,
        "sample_rate": identity.sample_rate,
    }


def store_embeddings(item: StoreInput) -> Embeddings:
    """A store's rows (files sorted by path, windows in order) with its settings."""
    try:
        rows = item.store.read().embeddings
    except ValueError as err:
        raise CliError(f"{item.label}: {err}") from None
    return Embeddings(rows, store_settings(item.store.identity))


def check_store_output(path: str, option: str, inputs: Sequence[InputSet]) -> None:
    """Refuse a store output that is a file, a folder holding other files, or touches an input.

    An existing store is accepted (a rerun resumes it; its identity is
    checked when the embedder is built); so is an empty folder, or a new
    path whose parent folder exists and is writable.

    Raises:
        CliError: naming ``option`` and ``path``.

    """
    out = Path(path)
    if out.exists() and not out.is_dir():
        refuse_input_file(path, option, inputs)
        raise CliError(
            f"{option} {path}: is a file; a store is a folder (give a new or empty folder, "
            "or a name ending in .npz for an embedding file)"
        )
    if out.is_dir() and not is_store(out) and any(out.iterdir()):
        raise CliError(
            f"{option} {path}: is a folder holding other files, not an embedding store; give "
            "a new or empty folder, or an existing store"
        )
    # the parent's existence and writability, and not an input / inside an input folder
    if out.is_dir():
        if not os.access(out, os.W_OK | os.X_OK):
            raise CliError(f"{option} {path}: the folder is not writable")
        real = os.path.realpath(out)
        for item in inputs:
            for folder in item.folders:
                if os.path.commonpath([real, os.path.realpath(folder)]) in (
                    real,
                    os.path.realpath(folder),
                ):
                    raise CliError(
                        f"{option} {path}: is, holds or lies inside the input folder {folder}; "
                        "write the store elsewhere"
                    )
        return
    check_output(path, option, inputs)
