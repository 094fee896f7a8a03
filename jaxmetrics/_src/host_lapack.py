"""Float64 kernels that run on the host CPU through SciPy's BLAS and LAPACK.

On CPU, XLA has no symmetric rank-k update (``syrk``), no triangular product
(``trmm``) and a float64 matrix product slower than OpenBLAS's, so
the float64 steps that are pure dense linear algebra run here, inside one
:func:`jax.pure_callback` each (:func:`float64_on_host`).

The trace term calls SciPy's OpenBLAS only. NumPy wheels bundle a second
OpenBLAS; alternating between the two within one computation leaves one
library's worker threads spinning while the other's run, so that on a machine
with few cores even small products wait for a core. The mean and scatter
matrix are the exception: one large NumPy ``syrk`` (NumPy's OpenBLAS is the
faster of the two for it) in a callback of its own, a single call with
nothing to alternate with.

LAPACK workspaces are queried (``*_lwork``): SciPy's wrappers otherwise pass
the minimum, which makes ``sytrd``/``geqrf`` fall back to their unblocked
(matrix-vector, BLAS level 2) code instead of the blocked level-3 one.

jaxlib's own CPU LAPACK kernel for values-only symmetric eigenvalues is called
from here too (:func:`lapack_eigenvalues`): it is the one place that reaches
into jaxlib's internals, and it falls back to ``eigvalsh`` when they change.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
from jax import lax

try:  # jaxlib's CPU LAPACK kernels (values-only symmetric eigenvalues)
    import jaxlib.lapack as _jaxlib_lapack
except ImportError:  # pragma: no cover - jaxlib without the CPU LAPACK module
    _jaxlib_lapack = None

from jaxmetrics._src.frechet_formula import cholesky_is_definite, root_eigenvalues, squared_frechet

_blas = scipy.linalg.blas
_lapack = scipy.linalg.lapack


def float64_on_host(fn: Callable[..., Any], shape: tuple[int, ...], *args: jax.Array) -> jax.Array:
    """``fn(*args)``, a float64 ``shape`` array, computed on the host (CPU only).

    The result travels as pairs of uint32 words: JAX canonicalises a
    callback's result with the x64 setting of the thread that runs it, which
    is not the caller's scoped ``jax.enable_x64``, and would round it to
    float32 (so would it float64 arguments: pass float32 ones, or float64
    ones as words with :func:`as_words`).

    Args:
      fn: host function of NumPy arrays returning a float64 array-like.
      shape: shape of ``fn``'s result.
      *args: arguments of ``fn`` (uint32 or float32 arrays).

    Returns:
      The float64 result as a traced array.

    """

    def packed_fn(*host_args: np.ndarray) -> np.ndarray:
        value = np.ascontiguousarray(fn(*host_args), dtype=np.float64)
        return value.view(np.uint32).reshape(*shape, 2)

    words = jax.ShapeDtypeStruct((*shape, 2), jnp.uint32)
    packed = jax.pure_callback(packed_fn, words, *args, vmap_method="sequential")
    return lax.bitcast_convert_type(packed, jnp.float64)


def as_words(x: jax.Array) -> jax.Array:
    """A float64 array as uint32 word pairs (trailing axis of 2), bit for bit."""
    return lax.bitcast_convert_type(x, jnp.uint32)


def from_words(words: np.ndarray) -> np.ndarray:
    """Inverse of :func:`as_words` on the host: a float64 view of the words."""
    words = np.ascontiguousarray(words, dtype=np.uint32)
    return words.view(np.float64).reshape(words.shape[:-1])


def mean_and_scatter(rows: np.ndarray) -> np.ndarray:
    """Mean (row 0) and scatter matrix ``Xc^T Xc`` (rows 1..d) of float32 rows, in float64.

    Args:
      rows: ``(n, d)`` float32 rows.

    Returns:
      A ``(d + 1, d)`` float64 array.

    """
    # A float64 copy, centred in place, then Xc^T Xc by NumPy, which hands a
    # product of two views of one buffer to BLAS syrk (half a GEMM's flops).
    x = np.array(rows, dtype=np.float64, order="C")
    mean = x.mean(axis=0)
    x -= mean
    return np.concatenate([mean[None], x.T @ x])


def covariance_factor(sigma: np.ndarray) -> tuple[np.ndarray, bool]:
    """Host twin of :func:`jaxmetrics._src.linalg.covariance_factor`.

    Args:
      sigma: symmetric PSD ``(d, d)`` float64 matrix (lower triangle read by
        the Cholesky factorisation).

    Returns:
      ``(factor, definite)``: the lower Cholesky factor when
      :func:`~jaxmetrics._src.frechet_formula.cholesky_is_definite`, else
      ``V sqrt(λ)`` from ``eigh`` (:func:`~jaxmetrics._src.frechet_formula.root_eigenvalues`).

    """
    chol, info = _lapack.dpotrf(sigma, lower=1, clean=1)
    if info == 0 and cholesky_is_definite(sigma, chol, xp=np):
        return chol, True
    w, v = scipy.linalg.eigh(0.5 * (sigma + sigma.T), driver="evd", check_finite=False)
    return v * root_eigenvalues(w, xp=np), False


def _eigenvalues_lower(m: np.ndarray) -> np.ndarray:
    # Values-only syevd reading the lower triangle (tridiagonal reduction from
    # the top-left corner), with the queried workspace.
    work, iwork, _ = _lapack.dsyevd_lwork(m.shape[0], compute_v=0, lower=1)
    w, _, info = _lapack.dsyevd(
        m, compute_v=0, lower=1, lwork=int(work), liwork=int(iwork), overwrite_a=1
    )
    return w if info == 0 else np.full(m.shape[0], np.nan)


def _sum_of_roots(eigenvalues: np.ndarray) -> float:
    return math.fsum(np.sqrt(np.clip(eigenvalues, 0.0, None)).tolist())


def trace_sqrt_product(words_x: np.ndarray, words_y: np.ndarray, method: str) -> float:
    """:func:`trace_sqrt_of_covariances` of two float64 matrices given as uint32 words.

    Args:
      words_x: ``Σx`` as ``(d, d, 2)`` uint32 words (:func:`as_words`).
      words_y: ``Σy`` as words.
      method: ``"qr"``, ``"eigh"`` or ``"svd"``.

    Returns:
      The trace, a float (NaN if LAPACK reports a failure).

    """
    return trace_sqrt_of_covariances(from_words(words_x), from_words(words_y), method)


def frechet_from_stats(
    mean_x: np.ndarray,
    sigma_x: np.ndarray,
    mean_y: np.ndarray,
    sigma_y: np.ndarray,
    method: str,
) -> float:
    """Fréchet distance of two Gaussians from float64 NumPy statistics, all on the host.

    The formula of the jitted ``frechet_of_stats``, with the trace term
    from :func:`trace_sqrt_of_covariances`: the route of concrete float64
    statistics on a CPU, where it saves JAX's dispatch and the callback's
    transfers.

    Args:
      mean_x: ``(d,)`` float64 mean of the first set.
      sigma_x: ``(d, d)`` float64 covariance of the first set (never modified).
      mean_y: ``(d,)`` float64 mean of the second set.
      sigma_y: ``(d, d)`` float64 covariance of the second set (never modified).
      method: ``"qr"``, ``"eigh"`` or ``"svd"``.

    Returns:
      The squared Fréchet distance, ``>= 0`` (NaN if LAPACK reports a failure).

    """
    diff = mean_x - mean_y
    traces = float(np.trace(sigma_x)) + float(np.trace(sigma_y))
    cross = trace_sqrt_of_covariances(sigma_x, sigma_y, method)
    return float(squared_frechet(float(diff @ diff), traces, cross, xp=np))


def trace_sqrt_of_covariances(sigma_x: np.ndarray, sigma_y: np.ndarray, method: str) -> float:
    """``tr sqrt(Σx Σy)`` of two float64 matrices (lower triangles read; never modified).

    The host version of :func:`jaxmetrics._src.linalg.trace_sqrt_of_factors`:
    with both Cholesky factors, ``C = Lyᵀ Lx`` by ``trmm`` (half a product's
    flops), then

    * ``"qr"``: ``R`` of ``C = QR`` (``geqrf``), ``R Rᵀ`` by ``lauum`` (a
      third of a product), eigenvalues only (``syevd``);
    * ``"eigh"``: ``Cᵀ C`` by ``syrk``, eigenvalues only;
    * ``"svd"``, or a singular covariance: singular values of ``Fxᵀ Fy``.

    The square roots are summed exactly (``math.fsum``).

    Args:
      sigma_x: symmetric PSD ``(d, d)`` float64 matrix.
      sigma_y: symmetric PSD ``(d, d)`` float64 matrix.
      method: ``"qr"``, ``"eigh"`` or ``"svd"``.

    Returns:
      The trace, a float (NaN if LAPACK reports a failure).

    """
    fx, x_definite = covariance_factor(sigma_x)
    fy, y_definite = covariance_factor(sigma_y)
    if method == "svd" or not (x_definite and y_definite):
        cross = _blas.dgemm(1.0, fx, fy, trans_a=1)
        return math.fsum(scipy.linalg.svdvals(cross, overwrite_a=True, check_finite=False).tolist())
    cross = _blas.dtrmm(1.0, fy, fx, side=0, lower=1, trans_a=1, overwrite_b=1)
    if method == "eigh":
        return _sum_of_roots(_eigenvalues_lower(_blas.dsyrk(1.0, cross, trans=1, lower=1)))
    d = cross.shape[0]
    r, _, _, info = _lapack.dgeqrf(cross, lwork=int(_lapack.dgeqrf_lwork(d, d)[0]), overwrite_a=1)
    if info != 0:
        return math.nan
    # lauum reads the upper triangle (R; the Householder vectors below it are
    # ignored) and writes R Rᵀ there; its transpose puts it in the lower one.
    r_rt, info = _lapack.dlauum(r, lower=0, overwrite_c=1)
    return _sum_of_roots(_eigenvalues_lower(r_rt.T)) if info == 0 else math.nan


def lapack_eigenvalues(m: jax.Array) -> jax.Array:
    """Eigenvalues of symmetric ``(..., d, d)`` matrices by LAPACK ``syevd``, values only (CPU).

    NaN where LAPACK reports a failure. Only call where
    :func:`has_lapack_eigenvalues` holds, on the CPU platform.
    """
    # jaxlib's CPU LAPACK kernel for syevd, called with jobz = "N" (values
    # only: tridiagonal reduction + root-free QR). jnp.linalg.eigvalsh always
    # asks for vectors, whose divide-and-conquer and back-transformation cost
    # more flops than the reduction itself.
    target = _jaxlib_lapack.prepare_lapack_call("syevd_ffi", m.dtype)
    shapes = (
        jax.ShapeDtypeStruct(m.shape, m.dtype),
        jax.ShapeDtypeStruct(m.shape[:-1], m.dtype),
        jax.ShapeDtypeStruct(m.shape[:-2], jnp.int32),
    )
    call = jax.ffi.ffi_call(
        target, shapes, input_output_aliases={0: 0}, vmap_method="broadcast_all"
    )
    _, w, info = call(m, mode=np.uint8(ord("N")), uplo=np.uint8(ord("L")))
    return jnp.where((info == 0)[..., None], w, jnp.nan)


@functools.cache
def has_lapack_eigenvalues(dtype: Any) -> bool:
    """Whether this jaxlib registers the CPU ``syevd`` kernel for ``dtype``."""
    if _jaxlib_lapack is None or np.dtype(dtype) not in (np.float32, np.float64):
        return False
    try:
        name = _jaxlib_lapack.build_lapack_fn_target("syevd_ffi", np.dtype(dtype))
        return any(entry[0] == name for entry in _jaxlib_lapack.registrations()["cpu"])
    except Exception:  # noqa: BLE001 - any change in jaxlib's layout: use eigvalsh
        return False
