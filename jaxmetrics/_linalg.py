"""Dense linear algebra kernels behind the metrics (traced code only).

Matrix products use ``precision=HIGHEST`` so accelerators never silently drop
to TF32/bfloat16 passes.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

try:  # jaxlib's CPU LAPACK kernels (values-only symmetric eigenvalues)
    import jaxlib.lapack as _jaxlib_lapack
except ImportError:  # pragma: no cover - jaxlib without the CPU LAPACK module
    _jaxlib_lapack = None

HIGHEST = lax.Precision.HIGHEST
matmul = functools.partial(jnp.matmul, precision=HIGHEST)

# Width of the column blocks used to form a Gram matrix X^T X. Only blocks on
# and above the diagonal are computed (XLA has no SYRK), which saves up to half
# the flops for wide embeddings.
_GRAM_BLOCK = 256


def gram(x: jax.Array) -> jax.Array:
    """Return ``x.T @ x`` for an ``(n, d)`` array, computing only upper blocks.

    Args:
      x: an ``(n, d)`` array.

    Returns:
      The symmetric ``(d, d)`` Gram matrix.

    """
    d = x.shape[1]
    if d <= 2 * _GRAM_BLOCK:
        return matmul(x.T, x)
    starts = list(range(0, d, _GRAM_BLOCK))
    rows = []
    for i, start in enumerate(starts):
        stop = min(start + _GRAM_BLOCK, d)
        # Block row i: columns start..d (the diagonal block and those right of it).
        upper = matmul(x[:, start:stop].T, x[:, start:])
        left = [rows[j][1][:, start - starts[j] : stop - starts[j]].T for j in range(i)]
        rows.append((left, upper))
    return jnp.concatenate([jnp.concatenate([*left, upper], axis=1) for left, upper in rows])


def _host_mean_and_scatter(rows: Any) -> np.ndarray:
    # Float64 copy of the float32 rows, centred in place, then Xc^T Xc, which
    # NumPy hands to BLAS syrk (n d^2 flops, half a GEMM's) because both
    # operands are views of one buffer. Row 0 of the result is the mean.
    x = np.array(rows, dtype=np.float64, order="C")
    mean = x.mean(axis=0)
    x -= mean
    return np.concatenate([mean[None], x.T @ x])


def _float64_on_host(fn: Any, shape: tuple[int, ...], *args: jax.Array) -> jax.Array:
    """``fn(*args)``, a float64 ``shape`` array, computed on the host (CPU only).

    The result travels as pairs of uint32 words: JAX canonicalises a
    callback's result with the x64 setting of the thread that runs it, which
    is not the caller's scoped ``jax.enable_x64``, and would round it to
    float32 (so would it float64 arguments: pass float32 ones).
    """

    def as_words(*host_args: np.ndarray) -> np.ndarray:
        value = np.ascontiguousarray(fn(*host_args), dtype=np.float64)
        return value.view(np.uint32).reshape(*shape, 2)

    words = jax.ShapeDtypeStruct((*shape, 2), jnp.uint32)
    packed = jax.pure_callback(as_words, words, *args, vmap_method="sequential")
    return lax.bitcast_convert_type(packed, jnp.float64)


def mean_and_scatter(x: jax.Array, dtype: Any) -> tuple[jax.Array, jax.Array]:
    """Mean and scatter matrix ``Xc^T Xc`` (``Xc`` = centred rows) in ``dtype``.

    The rows are centred before the product (no ``E[xx^T] - mu mu^T``
    cancellation). XLA has no symmetric rank-k update, and its CPU float64
    product ran at about 48 GFLOP/s here against about 65 for OpenBLAS's
    ``syrk``, which also does half the flops. So float32 rows wanted in
    float64 (embeddings as models emit them) are, on CPU, widened, centred and
    multiplied by NumPy (BLAS ``syrk``) in one :func:`jax.pure_callback`; the
    values are the same up to summation order.
    Elsewhere, and for other dtypes, XLA computes them.

    Args:
      x: ``(n, d)`` rows.
      dtype: float dtype of the results.

    Returns:
      ``(mean, scatter)`` of shapes ``(d,)`` and ``(d, d)``.

    """

    def device(v: jax.Array) -> jax.Array:
        v = v.astype(dtype)
        mean = v.mean(axis=0)
        return jnp.concatenate([mean[None], gram(v - mean)])

    if x.ndim != 2 or x.dtype != jnp.float32 or jnp.dtype(dtype) != jnp.float64:
        out = device(x)
    else:
        d = x.shape[1]

        def host(v: jax.Array) -> jax.Array:
            return _float64_on_host(_host_mean_and_scatter, (d + 1, d), v)

        out = lax.platform_dependent(x, cpu=host, default=device)
    return out[0], out[1:]


class CovarianceFactor(NamedTuple):
    """A factor ``F`` with ``F @ F.T == sigma``, and whether ``sigma`` is definite.

    Attributes:
      factor: the lower Cholesky factor when ``sigma`` is numerically positive
        definite; otherwise ``V diag(sqrt(max(λ, 0)))`` from ``eigh``.
      definite: boolean scalar, true when ``factor`` is the Cholesky factor.

    """

    factor: jax.Array
    definite: jax.Array


def covariance_factor(sigma: jax.Array) -> CovarianceFactor:
    """Factor a symmetric PSD matrix as ``F F^T`` (Cholesky, or ``eigh`` when singular).

    The Cholesky factor is kept only when every pivot ``L_ii^2`` exceeds
    ``d * eps * max_j sigma_jj``: a rank-deficient matrix (fewer rows than
    dimensions, duplicated rows, constant dimensions) can pass Cholesky with
    pivots at rounding level, and is factored by ``eigh`` instead. On CPU only
    the branch taken runs (under ``vmap`` both would: callers map sequentially).

    Args:
      sigma: symmetric PSD ``(d, d)`` matrix.

    Returns:
      A :class:`CovarianceFactor`.

    """
    sigma = 0.5 * (sigma + sigma.T)
    chol = jnp.linalg.cholesky(sigma)
    pivots = jnp.square(jnp.diagonal(chol))
    floor = sigma.shape[0] * jnp.finfo(sigma.dtype).eps * jnp.max(jnp.diagonal(sigma))
    definite = jnp.isfinite(chol).all() & (jnp.min(pivots) > floor)

    def _eigh_factor(_: jax.Array) -> jax.Array:
        w, v = jnp.linalg.eigh(sigma)
        return v * jnp.sqrt(jnp.clip(w, 0.0))[None, :]

    factor = lax.cond(definite, lambda c: c, _eigh_factor, chol)
    return CovarianceFactor(factor, definite)


TRACE_METHODS: tuple[str, ...] = ("eigh", "svd")


def trace_sqrt_product(sigma_x: jax.Array, sigma_y: jax.Array, method: str = "eigh") -> jax.Array:
    r"""Trace of the matrix square root of ``sigma_x @ sigma_y`` for PSD inputs.

    See :func:`trace_sqrt_of_factors`, applied to :func:`covariance_factor`
    of each matrix.

    Args:
      sigma_x: symmetric PSD ``(d, d)`` matrix.
      sigma_y: symmetric PSD ``(d, d)`` matrix.
      method: ``"eigh"`` or ``"svd"`` (see :func:`trace_sqrt_of_factors`).

    Returns:
      A non-negative scalar.

    """
    return trace_sqrt_of_factors(
        covariance_factor(sigma_x), covariance_factor(sigma_y), method=method
    )


def trace_sqrt_of_factors(
    a: CovarianceFactor, b: CovarianceFactor, method: str = "eigh"
) -> jax.Array:
    r"""``tr sqrt(Σa Σb)`` from factors ``Σ = F F^T`` of two PSD matrices.

    .. math::
       \operatorname{tr}\sqrt{\Sigma_a\Sigma_b}
       = \sum_i \sqrt{\lambda_i(B B^\top)} = \sum_i \sigma_i(B),
       \qquad B = F_a^\top F_b .

    Two routes to the same spectrum, both real and non-negative by
    construction (never complex like ``sqrtm`` or non-symmetric ``eigvals``,
    never NaN):

    * both matrices definite (Cholesky factors), float64: eigenvalues only
      of the symmetric ``B B^T`` (LAPACK ``syevd`` without vectors on CPU),
      clipped at zero. Cheaper than singular values of ``B``: reducing to
      tridiagonal form costs half the flops of reducing to bidiagonal form.
    * a singular matrix, or float32: singular values of ``B``. Here the
      zero part of the spectrum would come out of the eigenvalue route as
      ``±eps * λmax`` noise whose square roots add up (measured 4.6e-8
      relative FAD error at n = 1,000 < d = 2,048, against 1.3e-14 for
      singular values); singular values are each accurate to
      ``eps * σmax`` and never square anything.

    Measured relative FAD error against a 40-digit mpmath reference (d = 96,
    two samples of one distribution, FAD 8e-3): 6.7e-13 (eigenvalue route),
    1.2e-13 (singular values), 5.3e-9 (``scipy.linalg.sqrtm`` and ``eigvals``).

    ``method="svd"`` takes singular values in every case: about 1.4x the
    time at d = 2048 (bidiagonal rather than tridiagonal reduction), with the
    error of the singular-value route (7e-15 to 6e-14 on the benchmark's
    near-identical sets, against 1e-12 to 1e-11 for the eigenvalue route).

    Args:
      a: factor of ``Σa`` (:func:`covariance_factor`).
      b: factor of ``Σb``.
      method: ``"eigh"`` (default: the eigenvalue route where it applies) or
        ``"svd"`` (singular values always).

    Returns:
      A non-negative scalar.

    """
    if method == "svd" or a.factor.dtype != jnp.float64:
        return nuclear_norm(matmul(a.factor.T, b.factor))

    def _eigenvalue_route(fa: jax.Array, fb: jax.Array) -> jax.Array:
        w = symmetric_eigenvalues(gram(matmul(fb.T, fa)))
        return jnp.sqrt(jnp.clip(w, 0.0)).sum()

    def _singular_value_route(fa: jax.Array, fb: jax.Array) -> jax.Array:
        return nuclear_norm(matmul(fa.T, fb))

    return lax.cond(
        a.definite & b.definite, _eigenvalue_route, _singular_value_route, a.factor, b.factor
    )


def nuclear_norm(c: jax.Array) -> jax.Array:
    """Sum of the singular values of ``c`` (values only, no vectors)."""
    return jnp.linalg.svd(c, compute_uv=False).sum()


def _lapack_eigenvalues(m: jax.Array) -> jax.Array:
    # jaxlib's CPU LAPACK kernel for syevd, called with jobz = "N" (values
    # only: tridiagonal reduction + root-free QR). jnp.linalg.eigvalsh always
    # asks for vectors and takes about twice as long at d = 2048.
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
def _has_lapack_eigenvalues(dtype: Any) -> bool:
    if _jaxlib_lapack is None or np.dtype(dtype) not in (np.float32, np.float64):
        return False
    try:
        name = _jaxlib_lapack.build_lapack_fn_target("syevd_ffi", np.dtype(dtype))
        return any(entry[0] == name for entry in _jaxlib_lapack.registrations()["cpu"])
    except Exception:  # noqa: BLE001 - any change in jaxlib's layout: use eigvalsh
        return False


def symmetric_eigenvalues(m: jax.Array) -> jax.Array:
    """Eigenvalues (ascending) of a symmetric matrix, without eigenvectors where possible.

    On CPU this calls LAPACK ``syevd`` in values-only mode through jaxlib's
    registered kernel; on other platforms, or if that kernel is not found,
    :func:`jax.numpy.linalg.eigvalsh`. The lower triangle is read.

    Args:
      m: symmetric ``(..., d, d)`` float32 or float64 matrix.

    Returns:
      ``(..., d)`` eigenvalues in ascending order.

    """
    if not _has_lapack_eigenvalues(m.dtype):
        return jnp.linalg.eigvalsh(m)
    return lax.platform_dependent(m, cpu=_lapack_eigenvalues, default=jnp.linalg.eigvalsh)
