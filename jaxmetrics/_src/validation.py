"""Host-side input checks shared by the public entry points.

Everything here runs eagerly, before any tracing or compilation, so that bad
input fails fast with a message naming the argument. Value checks (NaN/inf)
are skipped for tracers: inside a user's own ``jit``/``vmap`` only the shape
can be checked.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def is_traced(*values: Any) -> bool:
    """Whether any of ``values`` is a JAX tracer (we are inside jit/vmap/grad)."""
    return any(isinstance(v, jax.core.Tracer) for v in jax.tree_util.tree_leaves(values))


def _dtype_of(x: Any, name: str) -> np.dtype:
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        try:
            dtype = np.asarray(x).dtype
        except Exception as err:  # pragma: no cover - exotic objects
            raise TypeError(f"{name} must be an array, got {type(x).__name__}") from err
    return np.dtype(dtype)


def as_array(x: Any, name: str) -> np.ndarray | jax.Array:
    """Return ``x`` as a numpy or JAX array without copying or modifying it."""
    if isinstance(x, (np.ndarray, jax.Array)):
        return x
    if hasattr(x, "__array__") or isinstance(x, (list, tuple)):
        try:
            return np.asarray(x)
        except Exception as err:
            raise TypeError(f"{name} could not be converted to an array: {err}") from err
    raise TypeError(f"{name} must be an array of shape (n, d), got {type(x).__name__}")


_NARROW_FLOATS = tuple(np.dtype(t) for t in (jnp.bfloat16, np.float16))


def check_parameter(value: Any, name: str, *, positive: bool = False) -> Any:
    """Check a real hyper-parameter (scalar or array): finite, and ``> 0`` if ``positive``.

    ``None`` (a default to be resolved) and tracers (inside a user's
    transformation) pass unchecked. Returns ``value`` unchanged.
    """
    if value is None or is_traced(value):
        return value
    try:
        array = np.asarray(value)
    except Exception as err:
        raise TypeError(f"{name} must be real numbers, got {type(value).__name__}") from err
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"{name} must be real numbers, got dtype {array.dtype}")
    if np.iscomplexobj(array):
        raise TypeError(f"{name} must be real, got dtype {array.dtype}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite (it has NaN or inf entries), got {value!r}")
    if positive and (array <= 0).any():
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return value


def as_key(key: Any, name: str = "key") -> jax.Array:
    """A typed PRNG key from ``key``: ``None`` (seed 0), an int seed, or a key.

    Accepts ``jax.random.key(...)`` keys, legacy ``jax.random.PRNGKey(...)``
    arrays (``uint32[2]``) and non-negative Python/NumPy integers.
    """
    if key is None:
        return jax.random.key(0)
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        if key < 0:
            raise ValueError(f"{name} as an integer seed must be >= 0, got {key}")
        return jax.random.key(int(key))
    dtype = getattr(key, "dtype", None)
    if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        return key
    if dtype is not None and np.dtype(dtype) == np.uint32 and tuple(key.shape) == (2,):
        return jax.random.wrap_key_data(key)
    raise TypeError(
        f"{name} must be jax.random.key(seed), a legacy jax.random.PRNGKey(seed) or an int "
        f"seed, got {type(key).__name__}"
    )


def check_embeddings(x: Any, name: str, *, min_rows: int = 1, why: str = "") -> Any:
    """Check that ``x`` is a finite, real, 2-D ``(n, d)`` array with enough rows.

    Args:
      x: the user's array (numpy, JAX, array-like or tracer); never modified.
      name: the argument name used in error messages.
      min_rows: the least number of rows the metric needs.
      why: what the rows are needed for, appended to the too-few-rows message.

    Returns:
      ``x`` as an array (the same object when it already was one).

    Raises:
      TypeError: for non-numeric, boolean or complex dtypes.
      ValueError: for a wrong rank, an empty set, too few rows or non-finite rows.

    """
    if not isinstance(x, jax.core.Tracer):
        x = as_array(x, name)
    dtype = _dtype_of(x, name)
    if dtype in _NARROW_FLOATS:  # bfloat16/float16: widened exactly, computed in float32/64
        if isinstance(x, np.ndarray):
            x = x.astype(np.float32)
        dtype = np.dtype(np.float32)
    if dtype == np.bool_ or not (
        np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)
    ):
        raise TypeError(f"{name} must have a real numeric dtype, got {dtype}")
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D with shape (n, d), got shape {tuple(x.shape)}")
    n, d = x.shape
    if n == 0 or d == 0:
        raise ValueError(f"{name} is empty (shape {tuple(x.shape)}); it needs at least one row")
    if n < min_rows:
        reason = f" {why}" if why else ""
        raise ValueError(f"{name} needs at least {min_rows} rows{reason}, got {n}")
    if not isinstance(x, jax.core.Tracer) and np.issubdtype(dtype, np.floating):
        _check_finite(x, name)
    return x


def _check_finite(x: np.ndarray | jax.Array, name: str) -> None:
    if isinstance(x, np.ndarray):
        row_ok = np.isfinite(x).all(axis=1)
    else:
        row_ok = finite_rows(x)
        if isinstance(row_ok, jax.core.Tracer):  # a concrete array inside a user's trace
            return
        row_ok = np.asarray(row_ok)
    if not row_ok.all():
        bad = np.flatnonzero(~row_ok)
        raise ValueError(
            f"{name} has {bad.size} row(s) with NaN or inf values "
            f"(first at row index {int(bad[0])}); remove or fix them before computing metrics"
        )


@jax.jit
def finite_rows(x: jax.Array) -> jax.Array:
    """Whether every value of each row (last axis) is finite, for any leading shape."""
    return jnp.isfinite(x).all(axis=-1)


def check_same_dim(x: Any, y: Any, name_x: str, name_y: str) -> None:
    """Raise a ValueError when two embedding sets have different widths."""
    if x.shape[-1] != y.shape[-1]:
        raise ValueError(
            f"{name_x} and {name_y} must have the same embedding dimension, "
            f"got {x.shape[-1]} and {y.shape[-1]}"
        )


def check_positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` as an int after checking it is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    """Raise a ValueError unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value
