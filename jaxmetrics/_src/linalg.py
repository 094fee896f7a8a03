"""Dense linear algebra kernels behind the metrics (traced code only).

Matrix products use ``precision=HIGHEST`` so accelerators never silently drop
to TF32/bfloat16 passes.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from jaxmetrics._src import host_lapack as _host_lapack
from jaxmetrics._src import routing
from jaxmetrics._src.frechet_formula import cholesky_is_definite, root_eigenvalues

HIGHEST = lax.Precision.HIGHEST
matmul = functools.partial(jnp.matmul, precision=HIGHEST)

# Width of the column blocks used to form a Gram matrix X^T X. Only blocks on
# and above the diagonal are computed (XLA has no SYRK), which saves up to half
# the flops for wide embeddings.


def gram(x: jax.Array) -> jax.Array:
    """Return ``x.T @ x`` for an ``(n, d)`` array, computing only upper blocks.

    Args:
      x: an ``(n, d)`` array.

    Returns:
      The symmetric ``(d, d)`` Gram matrix.

    """
    d = x.shape[1]
    if d <= 2 * routing.GRAM_BLOCK:
        return matmul(x.T, x)
    starts = list(range(0, d, routing.GRAM_BLOCK))
    rows = []
    for i, start in enumerate(starts):
        stop = min(start + routing.GRAM_BLOCK, d)
        # Block row i: columns start..d (the diagonal block and those right of it).
        upper = matmul(x[:, start:stop].T, x[:, start:])
        left = [rows[j][1][:, start - starts[j] : stop - starts[j]].T for j in range(i)]
        rows.append((left, upper))
    return jnp.concatenate([jnp.concatenate([*left, upper], axis=1) for left, upper in rows])


def mean_and_scatter(x: jax.Array, dtype: Any) -> tuple[jax.Array, jax.Array]:
    """Mean and scatter matrix ``Xc^T Xc`` (``Xc`` = centred rows) in ``dtype``.

    The rows are centred before the product (no ``E[xx^T] - mu mu^T``
    cancellation). XLA has no symmetric rank-k update, so it does twice the
    flops of BLAS ``syrk``, and its CPU float64 product is slower per flop
    than OpenBLAS's. So float32 rows wanted in
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

    if (
        not routing.HOST_LAPACK
        or x.ndim != 2
        or x.dtype != jnp.float32
        or jnp.dtype(dtype) != jnp.float64
    ):
        out = device(x)
    else:
        d = x.shape[1]

        def host(v: jax.Array) -> jax.Array:
            return _host_lapack.float64_on_host(_host_lapack.mean_and_scatter, (d + 1, d), v)

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


def binary_exponent(big: Any, xp: Any = jnp) -> Any:
    """``e`` with ``big = f 2^e``, ``f`` in ``[1/2, 1)`` (0 for ``big = 0``): the scale of ``big``.

    Dividing data by ``2^e`` is exact (no rounding, only a shift of
    exponents), which is how FAD and PRDC keep squares in range.
    """
    _, e = xp.frexp(big)
    return xp.where(big > 0, e, 0)


def covariance_factor(sigma: jax.Array) -> CovarianceFactor:
    """Factor a symmetric PSD matrix as ``F F^T`` (Cholesky, or ``eigh`` when singular).

    The Cholesky factor is kept only when its pivots show a definite matrix
    (:func:`~jaxmetrics._src.frechet_formula.cholesky_is_definite`); a
    singular one is factored by ``eigh``, the eigenvalues at rounding level
    of zero dropped (:func:`~jaxmetrics._src.frechet_formula.root_eigenvalues`).
    The host-LAPACK route factors by the same rule
    (:func:`jaxmetrics._src.host_lapack.covariance_factor`). On CPU only the
    branch taken runs (under ``vmap`` both would: callers map sequentially).

    Args:
      sigma: symmetric PSD ``(d, d)`` matrix.

    Returns:
      A :class:`CovarianceFactor`.

    """
    sigma = 0.5 * (sigma + sigma.T)
    chol = jnp.linalg.cholesky(sigma)
    definite = cholesky_is_definite(sigma, chol)

    def _eigh_factor(_: jax.Array) -> jax.Array:
        w, v = jnp.linalg.eigh(sigma)
        return v * root_eigenvalues(w)[None, :]

    factor = lax.cond(definite, lambda c: c, _eigh_factor, chol)
    return CovarianceFactor(factor, definite)


TRACE_METHODS: tuple[str, ...] = ("qr", "eigh", "svd")

# Below this dimension the callback's fixed cost (transfers, waking the host
# BLAS's threads) outweighs what the host's BLAS and LAPACK save; chosen with
# benchmarks/bench_choices.py --sections fad-route.


def _trace_sqrt_value(sigma_x: jax.Array, sigma_y: jax.Array, method: str) -> jax.Array:
    """The value of :func:`trace_sqrt_product` (its routes, without a derivative rule)."""

    def device(sx: jax.Array, sy: jax.Array) -> jax.Array:
        return trace_sqrt_of_factors(covariance_factor(sx), covariance_factor(sy), method=method)

    if (
        not routing.HOST_LAPACK
        or sigma_x.dtype != jnp.float64
        or sigma_x.ndim != 2
        or sigma_x.shape[0] < routing.HOST_MIN_DIM
    ):
        return device(sigma_x, sigma_y)

    def host(sx: jax.Array, sy: jax.Array) -> jax.Array:
        words = _host_lapack.as_words(sx), _host_lapack.as_words(sy)
        fn = functools.partial(_host_lapack.trace_sqrt_product, method=method)
        return _host_lapack.float64_on_host(fn, (), *words)

    return lax.platform_dependent(sigma_x, sigma_y, cpu=host, default=device)


# Under vmap, XLA:CPU runs batched LAPACK kernels (Cholesky, eigh, SVD) by
# splitting the batch over its intra-op thread pool; two such kernels running
# at once (both branches of a batched lax.cond, or the factors of both sets)
# can each wait for the pool's threads that the other holds, and the program
# never finishes. The numeric functions below are therefore mapped one
# problem at a time under vmap (jax.custom_batching.sequential_vmap): no
# batched LAPACK kernel is ever formed. They carry their own derivative rules,
# in closed form, since LAPACK's values-only kernels have none.


@functools.cache
def _sequential(fn: Any) -> Any:
    return jax.custom_batching.sequential_vmap(fn)


@functools.cache
def _sequential_trace_sqrt(method: str) -> Any:
    return jax.custom_batching.sequential_vmap(lambda sx, sy: _trace_sqrt_value(sx, sy, method))


def _symmetric(m: jax.Array) -> jax.Array:
    return 0.5 * (m + m.T)


def _psd_power(m: jax.Array, power: float) -> jax.Array:
    """``m^power`` of a symmetric PSD matrix; eigenvalues at rounding level count as 0."""
    w, v = jnp.linalg.eigh(_symmetric(m))
    floor = m.shape[0] * jnp.finfo(m.dtype).eps * jnp.max(jnp.abs(w))
    keep = w > floor
    scaled = jnp.where(keep, jnp.where(keep, w, 1.0) ** power, 0.0)
    return matmul(v * scaled[None, :], v.T)


def _trace_sqrt_gradients(sigma_x: jax.Array, sigma_y: jax.Array):
    """Twice the gradients of ``tr sqrt(Σx Σy)``: ``(Gx, Gy)``.

    With ``A = Σx^(1/2)``, ``tr sqrt(Σx Σy) = tr (A Σy A)^(1/2)``, so
    ``d/dΣy = (1/2) A (A Σy A)^(-1/2) A`` and symmetrically for ``Σx``.
    Where ``A Σy A`` is singular the derivative is unbounded; the
    pseudo-inverse gives the derivative along the non-singular directions.
    """
    ax, ay = _psd_power(sigma_x, 0.5), _psd_power(sigma_y, 0.5)
    gy = matmul(matmul(ax, _psd_power(matmul(matmul(ax, sigma_y), ax), -0.5)), ax)
    gx = matmul(matmul(ay, _psd_power(matmul(matmul(ay, sigma_x), ay), -0.5)), ay)
    return gx, gy


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def trace_sqrt_product(sigma_x: jax.Array, sigma_y: jax.Array, method: str = "qr") -> jax.Array:
    r"""Trace of the matrix square root of ``sigma_x @ sigma_y`` for PSD inputs.

    See :func:`trace_sqrt_of_factors`, applied to :func:`covariance_factor`
    of each matrix. Float64 on CPU from d = 160 runs the same steps on the host
    (:func:`jaxmetrics._src.host_lapack.trace_sqrt_product`, one
    :func:`jax.pure_callback`): LAPACK and BLAS there have the triangular
    products (``trmm``, ``lauum``) and the symmetric rank-k update (``syrk``)
    that XLA lacks. Under ``vmap`` the problems are solved one after the
    other; the derivative is ``(1/2) tr(Gx dΣx + Gy dΣy)`` in closed form
    (:func:`_trace_sqrt_gradients`), on every route.

    Args:
      sigma_x: symmetric PSD ``(d, d)`` matrix.
      sigma_y: symmetric PSD ``(d, d)`` matrix.
      method: ``"qr"``, ``"eigh"`` or ``"svd"`` (see :func:`trace_sqrt_of_factors`).

    Returns:
      A non-negative scalar.

    """
    return _sequential_trace_sqrt(method)(sigma_x, sigma_y)


@trace_sqrt_product.defjvp
def _trace_sqrt_product_jvp(method, primals, tangents):
    sigma_x, sigma_y = primals
    dx, dy = tangents
    value = trace_sqrt_product(sigma_x, sigma_y, method)
    gx, gy = _sequential(_trace_sqrt_gradients)(sigma_x, sigma_y)
    return value, 0.5 * (jnp.sum(gx * dx) + jnp.sum(gy * dy))


def trace_sqrt_of_factors(
    a: CovarianceFactor, b: CovarianceFactor, method: str = "qr"
) -> jax.Array:
    r"""``tr sqrt(Σa Σb)`` from factors ``Σ = F F^T`` of two PSD matrices.

    .. math::
       \operatorname{tr}\sqrt{\Sigma_a\Sigma_b}
       = \sum_i \sqrt{\lambda_i(C^\top C)} = \sum_i \sigma_i(C),
       \qquad C = F_b^\top F_a .

    Three routes to the same spectrum, all real and non-negative by
    construction (never complex like ``sqrtm`` or non-symmetric ``eigvals``,
    never NaN), for two definite matrices (Cholesky factors) in float64:

    * ``"qr"`` (default): ``R`` of ``C = QR``, then eigenvalues only of
      ``R R^T`` (``= Q^T C C^T Q``, the same spectrum). ``C^T C`` is never
      formed, so nothing is squared before the eigen-solver, and ``R``'s rows
      shrink down the matrix, a grading that the tridiagonal reduction from the
      top-left corner resolves to the accuracy of singular values: relative
      FAD error 7.6e-15 to 1.2e-13 on the near-identical sets of
      ``benchmarks/bench_core.py`` (d = 128 to 2048, covariance conditions 1e3
      to 1e10), against 9.3e-13 to 1.9e-11 for ``"eigh"`` and 5.7e-13 to
      8.9e-12 for ``scipy.linalg.sqrtm`` (1.5e-8 at condition 1e10). It is
      also faster than the ``"svd"`` route at large d (``bench_core.py``
      times the routes).
    * ``"eigh"``: eigenvalues only of ``C^T C``, clipped at zero (the fastest:
      tridiagonal reduction costs half the flops of bidiagonal reduction).
      Squaring ``C`` leaves each eigenvalue with an error ``~eps * λmax``, so
      small singular values come out with ``eps * σmax^2 / σ`` errors.
    * ``"svd"``: singular values of ``C`` (each to ``~eps * σmax``).

    A singular matrix (either factor from ``eigh``), or float32, always takes
    singular values: there the zero part of the spectrum would come out of
    an eigenvalue route as ``±eps * λmax`` noise whose square roots add up
    (measured 4.6e-8 relative FAD error at n = 1,000 < d = 2,048, against
    1.3e-14 for singular values).

    Args:
      a: factor of ``Σa`` (:func:`covariance_factor`).
      b: factor of ``Σb``.
      method: ``"qr"`` (default), ``"eigh"`` or ``"svd"``.

    Returns:
      A non-negative scalar.

    """
    if method == "svd" or a.factor.dtype != jnp.float64:
        return _singular_value_sum(matmul(a.factor.T, b.factor))

    def _eigenvalue_route(fa: jax.Array, fb: jax.Array) -> jax.Array:
        cross = matmul(fb.T, fa)
        if method == "qr":
            r = jnp.linalg.qr(cross, mode="r")
            w = symmetric_eigenvalues(matmul(r, r.T))
        else:
            w = symmetric_eigenvalues(gram(cross))
        return jnp.sqrt(jnp.clip(w, 0.0)).sum()

    def _singular_value_route(fa: jax.Array, fb: jax.Array) -> jax.Array:
        return _singular_value_sum(matmul(fa.T, fb))

    return lax.cond(
        a.definite & b.definite, _eigenvalue_route, _singular_value_route, a.factor, b.factor
    )


def _singular_value_sum(c: jax.Array) -> jax.Array:
    return jnp.linalg.svd(c, compute_uv=False).sum()


def _nuclear_norm_gradient(c: jax.Array) -> jax.Array:
    """``U V^T`` over the singular values above rounding level: d||C||_* = tr((U V^T)^T dC)."""
    u, s, vt = jnp.linalg.svd(c, full_matrices=False)
    floor = max(c.shape) * jnp.finfo(c.dtype).eps * jnp.max(s)
    return matmul(u * (s > floor)[None, :], vt)


@jax.custom_jvp
def nuclear_norm(c: jax.Array) -> jax.Array:
    """Sum of the singular values of ``c`` (values only, no vectors; one at a time under vmap)."""
    return _sequential(_singular_value_sum)(c)


@nuclear_norm.defjvp
def _nuclear_norm_jvp(primals, tangents):
    (c,), (dc,) = primals, tangents
    return nuclear_norm(c), jnp.sum(_sequential(_nuclear_norm_gradient)(c) * dc)


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
    if not _host_lapack.has_lapack_eigenvalues(m.dtype):
        return jnp.linalg.eigvalsh(m)
    return lax.platform_dependent(
        m, cpu=_host_lapack.lapack_eigenvalues, default=jnp.linalg.eigvalsh
    )
