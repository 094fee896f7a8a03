"""How the command-line tests run the installed ``jaxmetrics`` command in a subprocess."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import jaxmetrics

ROOT = Path(jaxmetrics.__file__).resolve().parents[1]


def command() -> list[str]:
    """The installed console script beside this interpreter, else ``python -m jaxmetrics.cli``."""
    script = Path(sys.executable).with_name("jaxmetrics")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "jaxmetrics.cli"]


def env(cache: Path) -> dict[str, str]:
    """This environment with the checkout importable, ``cache`` as XDG_CACHE_HOME, offline."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return dict(os.environ, PYTHONPATH=path, XDG_CACHE_HOME=str(cache), JAXMETRICS_OFFLINE="1")
