"""Independent float64 reference implementations written plainly in NumPy/SciPy.

They share no code with jaxmetrics: the Fréchet distance uses scipy's Schur
``sqrtm`` or an SVD of factor products, the kernel distance is a Python loop
over subsets, and PRDC comes from the ``prdc`` package itself.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg


def frechet_sqrtm(mu_x, cov_x, mu_y, cov_y) -> float:
    """What FAD toolkits compute: scipy's Schur square root of the product."""
    root = scipy.linalg.sqrtm(cov_x @ cov_y)
    root = np.real(root)
    diff = mu_x - mu_y
    return float(diff @ diff + np.trace(cov_x) + np.trace(cov_y) - 2.0 * np.trace(root))


def _psd_factor(cov):
    w, v = np.linalg.eigh(cov)
    return v * np.sqrt(np.clip(w, 0.0, None))


def frechet_svd(mu_x, cov_x, mu_y, cov_y) -> float:
    """tr sqrt(Σx Σy) as the nuclear norm of Fx^T Fy (Σ = F F^T): no squaring,

    each singular value accurate to eps * ||Fx^T Fy||, so it stays accurate for
    singular and near-singular covariances where sqrtm struggles.
    """
    nuclear = scipy.linalg.svdvals(_psd_factor(cov_x).T @ _psd_factor(cov_y)).sum()
    diff = mu_x - mu_y
    return float(diff @ diff + np.trace(cov_x) + np.trace(cov_y) - 2.0 * nuclear)


def frechet_from_data_svd(x, y) -> float:
    """Fréchet distance via the SVD of the centred cross-Gram matrix (float64)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    xc, yc = x - x.mean(0), y - y.mean(0)
    n, m = len(x), len(y)
    nuclear = scipy.linalg.svdvals(xc @ yc.T).sum() / np.sqrt((n - 1) * (m - 1))
    diff = x.mean(0) - y.mean(0)
    traces = (xc**2).sum() / (n - 1) + (yc**2).sum() / (m - 1)
    return float(diff @ diff + traces - 2.0 * nuclear)


def stats(x):
    x = np.asarray(x, np.float64)
    return x.mean(0), np.cov(x, rowvar=False)


def polynomial_kernel(a, b, degree=3, gamma=None, coef0=1.0):
    gamma = 1.0 / a.shape[1] if gamma is None else gamma
    return (a @ b.T * gamma + coef0) ** degree


def rbf_kernel(a, b, bandwidth):
    sq = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    return np.exp(-sq / (2.0 * bandwidth**2))


def mmd2(kxx, kxy, kyy, estimator="unbiased") -> float:
    n, m = kxx.shape[0], kyy.shape[0]
    offxx = kxx.sum() - np.trace(kxx)
    offyy = kyy.sum() - np.trace(kyy)
    if estimator == "biased":
        return float(kxx.sum() / n**2 + kyy.sum() / m**2 - 2 * kxy.sum() / (n * m))
    if estimator == "unbiased":
        return float(offxx / (n * (n - 1)) + offyy / (m * (m - 1)) - 2 * kxy.sum() / (n * m))
    return float((offxx + offyy - 2 * (kxy.sum() - np.trace(kxy))) / (n * (n - 1)))


def kernel_distance_loop(x, y, idx_x, idx_y, **kernel_args):
    """A plain loop over subsets, as KID implementations write it."""
    values = []
    for ix, iy in zip(idx_x, idx_y, strict=True):
        a, b = x[ix], y[iy]
        values.append(
            mmd2(
                polynomial_kernel(a, a, **kernel_args),
                polynomial_kernel(a, b, **kernel_args),
                polynomial_kernel(b, b, **kernel_args),
            )
        )
    return float(np.mean(values)), float(np.std(values)), np.array(values)


def correlated_gaussian(rng, n, d, *, shift=0.0, scale=1.0, rank=None):
    """Samples with a non-trivial covariance spectrum (optionally low rank)."""
    rank = d if rank is None else rank
    basis = rng.normal(size=(rank, d)) / np.sqrt(rank)
    spectrum = np.geomspace(3.0, 0.05, rank)
    z = rng.normal(size=(n, rank)) * np.sqrt(spectrum)
    return (z @ basis) * scale + shift
