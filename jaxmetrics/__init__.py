"""jaxmetrics: evaluation metrics for generative audio as pure, jitted JAX functions.

FAD (Fréchet distance), KD (kernel distance / MMD²), PRDC and APA between sets
of embeddings. Hyper-parameters are keyword-only, multi-valued results are
NamedTuple pytrees, and the default precision is float64 under a scoped x64
context (the global ``jax_enable_x64`` flag is never changed).
"""

from jaxmetrics._apa import APA, apa, apa_from_distances
from jaxmetrics._frechet import frechet_distance, frechet_distance_from_stats
from jaxmetrics._kernels import median_pairwise_distance
from jaxmetrics._mmd import (
    KernelDistance,
    effective_subset_size,
    kernel_distance,
    mmd2,
    numpy_subset_indices,
)
from jaxmetrics._prdc import PRDC, prdc
from jaxmetrics._stats import GaussianStats, gaussian_stats, merge_stats

__version__ = "0.1.0"

__all__ = [
    "APA",
    "PRDC",
    "GaussianStats",
    "KernelDistance",
    "apa",
    "apa_from_distances",
    "effective_subset_size",
    "frechet_distance",
    "frechet_distance_from_stats",
    "gaussian_stats",
    "kernel_distance",
    "median_pairwise_distance",
    "merge_stats",
    "mmd2",
    "numpy_subset_indices",
    "prdc",
]
