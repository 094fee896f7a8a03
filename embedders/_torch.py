"""Lazy torch import and device selection for the torch-backed embedders.

Nothing here imports torch at module import time: the ``embedders`` package
must import on a core-only install.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__all__ = ["INSTALL_HINT", "require", "resolve_device"]

INSTALL_HINT = (
    "from a jaxmetrics checkout (the package is not on PyPI): pip install -e '.[embedders]' "
    "&& pip install --no-deps 'laion-clap==1.1.7' (see the README, section 'Embedders')"
)


def require(module: str) -> ModuleType:
    """Import an optional dependency, or fails with the command that installs it.

    Args:
        module: importable name, e.g. ``"torch"``.

    Returns:
        The imported module.

    Raises:
        ImportError: if the module is missing, naming the install command.

    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"the embedders need the optional package {module!r}, which is not "
            f"importable ({err}); install it with: {INSTALL_HINT}"
        ) from err


def resolve_device(device: str | Any | None = None) -> Any:
    """Pick the torch device to run a model on.

    Args:
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``, a
            ``torch.device``, or None for the best available
            (CUDA, then MPS, then CPU).

    Returns:
        A ``torch.device``.

    Raises:
        ValueError: if the device type is unknown or not available here.

    """
    torch = require("torch")
    if device is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device {device!r} is not a torch device: {err}") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"device {device!r} requested but MPS is not available")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device {device!r}: only cpu, cuda and mps are supported")
    return dev
