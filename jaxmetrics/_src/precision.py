"""Scoped floating-point precision for the public entry points.

The metric core defaults to float64, because float32 routes reach only 2e-6 to
2e-4 relative error on FAD. The user's global ``jax_enable_x64`` flag is never
flipped: eager calls run inside ``jax.enable_x64(True)``, a context manager that
is local to the call. Inside a user's own ``jit``/``vmap`` the computation follows
whatever precision the surrounding trace has.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Literal

import jax
import jax.numpy as jnp

Precision = Literal["float64", "float32"]
PRECISIONS: tuple[str, ...] = ("float64", "float32")


def _x64_enabled() -> bool:
    return bool(jax.config.jax_enable_x64)


@contextlib.contextmanager
def precision_scope(precision: str, traced: bool) -> Iterator[jnp.dtype]:
    """Enter the numeric context for one public call and yield its float dtype.

    Args:
      precision: ``"float64"`` (default of every metric) or ``"float32"``.
      traced: whether the inputs are tracers of a surrounding transformation.

    Yields:
      The floating dtype the computation uses.

    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be 'float64' or 'float32', got {precision!r}")
    if precision == "float32":
        yield jnp.dtype("float32")
    elif traced:
        if not _x64_enabled():
            warnings.warn(
                "precision='float64' was requested inside a jit/vmap trace with "
                "jax_enable_x64 off; computing in float32. Call the metric outside "
                "jit or enable x64 for float64 results.",
                stacklevel=4,
            )
            yield jnp.dtype("float32")
        else:
            yield jnp.dtype("float64")
    else:
        with jax.enable_x64(True):
            yield jnp.dtype("float64")
