"""Offline import of laion_clap's audio-branch modules.

``import laion_clap`` runs ``laion_clap/__init__.py``, which imports
``hook.py`` and through it ``training/data.py``, whose module-level
``*Tokenizer.from_pretrained(...)`` calls fetch three tokenizers from the
Hugging Face hub: importing the package fails without network access. The
audio encoder does not need any of that. This module loads the files of
``laion_clap/clap_module`` (``htsat.py`` and what it imports: ``utils.py``,
``feature_fusion.py``) as a private package named ``_jaxmetrics_laion_clap``
without executing ``laion_clap/__init__.py``, so nothing touches the network
and ``sys.modules["laion_clap"]`` is left alone for users who import it
themselves.

The version is pinned (1.1.7): 1.1.5, which pip picks when laion-clap is
resolved together with a current jax, has another layout and a different
``get_audio_embedding_from_data``.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import importlib.util
import json
import sys
import types
from pathlib import Path
from typing import Any

from embedders._torch import INSTALL_HINT, require

__all__ = ["LAION_CLAP_VERSION", "ClapModules", "clap_modules", "installed_version"]

LAION_CLAP_VERSION = "1.1.7"
_ALIAS = "_jaxmetrics_laion_clap"


class ClapModules(types.SimpleNamespace):
    """What the audio branch needs from laion_clap.

    Attributes:
        htsat: the ``clap_module/htsat.py`` module.
        config: the parsed ``model_configs/HTSAT-base.json``.
        root: the ``clap_module`` directory.

    """

    htsat: Any
    config: dict[str, Any]
    root: Path


def installed_version() -> str | None:
    """Return the installed laion_clap distribution version, or None."""
    try:
        return importlib.metadata.version("laion_clap")
    except importlib.metadata.PackageNotFoundError:
        return None


@functools.cache
def clap_modules() -> ClapModules:
    """Import laion_clap's HTSAT module offline (once).

    Returns:
        The modules and configuration of the HTSAT-base audio encoder.

    Raises:
        ImportError: if laion_clap is missing, is not version 1.1.7, or one
            of the packages its audio branch imports (torch, torchvision,
            torchlibrosa, librosa, h5py, tqdm) is missing.

    """
    version = installed_version()
    if version is None:
        raise ImportError(
            f"the CLAP embedders need laion-clap=={LAION_CLAP_VERSION}; {INSTALL_HINT}"
        )
    if version != LAION_CLAP_VERSION:
        raise ImportError(
            f"laion-clap {version} is installed, the CLAP embedders are built and tested "
            f"against {LAION_CLAP_VERSION}; {INSTALL_HINT}"
        )
    for dependency in ("torch", "torchvision", "torchlibrosa", "h5py", "tqdm"):
        require(dependency)
    spec = importlib.util.find_spec("laion_clap")  # locates, does not execute
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"laion_clap is not importable; {INSTALL_HINT}")
    root = Path(next(iter(spec.submodule_search_locations))) / "clap_module"
    package = sys.modules.get(_ALIAS)
    if package is None:
        package = types.ModuleType(_ALIAS)
        package.__path__ = [str(root)]
        package.__package__ = _ALIAS
        sys.modules[_ALIAS] = package
    try:
        htsat = importlib.import_module(f"{_ALIAS}.htsat")
    except ImportError as err:
        raise ImportError(
            f"laion_clap's audio branch failed to import ({err}); {INSTALL_HINT}"
        ) from err
    config = json.loads((root / "model_configs" / "HTSAT-base.json").read_text())
    return ClapModules(htsat=htsat, config=config, root=root)
