"""jaxmetrics: evaluation metrics for generative audio as pure, jitted JAX functions.

FAD (Fréchet distance), KD (kernel distance / MMD²), PRDC and APA between sets
of embeddings. Hyper-parameters are keyword-only, multi-valued results are
NamedTuple pytrees, and the default precision is float64 under a scoped x64
context (the global ``jax_enable_x64`` flag is never changed).
"""

from jaxmetrics._apa import APA, apa, apa_from_distances
from jaxmetrics._batch import (
    apa_batch,
    evaluate_batch,
    frechet_distance_batch,
    kernel_distance_batch,
    prdc_batch,
    stack_sets,
)
from jaxmetrics._bootstrap import BootstrapCI, bootstrap_ci, bootstrap_indices
from jaxmetrics._extrapolation import (
    Extrapolation,
    fit_inverse_n,
    frechet_distance_inf,
    metric_inf,
    resample_indices,
    sample_sizes,
)
from jaxmetrics._frechet import frechet_distance, frechet_distance_from_stats
from jaxmetrics._kernels import median_pairwise_distance
from jaxmetrics._mmd import (
    KernelDistance,
    effective_subset_size,
    kad,
    kernel_distance,
    mmd2,
    numpy_subset_indices,
    torch_fidelity_subset_indices,
    torchmetrics_subset_indices,
)
from jaxmetrics._prdc import PRDC, prdc
from jaxmetrics._stats import GaussianStats, gaussian_stats, merge_stats
from jaxmetrics._sweeps import kernel_distance_sweep, mmd2_sweep

__version__ = "0.1.0"


def __getattr__(name: str):
    """Import the audio pipeline (``AudioMetrics``) on first use; the core stays light."""
    if name == "AudioMetrics":
        from jaxmetrics._audio_metrics import AudioMetrics

        return AudioMetrics
    raise AttributeError(f"module 'jaxmetrics' has no attribute {name!r}")


__all__ = [
    "APA",
    "PRDC",
    "AudioMetrics",
    "BootstrapCI",
    "Extrapolation",
    "GaussianStats",
    "KernelDistance",
    "apa",
    "apa_from_distances",
    "apa_batch",
    "bootstrap_ci",
    "bootstrap_indices",
    "effective_subset_size",
    "evaluate_batch",
    "fit_inverse_n",
    "frechet_distance",
    "frechet_distance_batch",
    "frechet_distance_from_stats",
    "frechet_distance_inf",
    "gaussian_stats",
    "kad",
    "kernel_distance",
    "kernel_distance_batch",
    "kernel_distance_sweep",
    "median_pairwise_distance",
    "merge_stats",
    "metric_inf",
    "mmd2",
    "mmd2_sweep",
    "numpy_subset_indices",
    "prdc",
    "prdc_batch",
    "resample_indices",
    "sample_sizes",
    "stack_sets",
    "torch_fidelity_subset_indices",
    "torchmetrics_subset_indices",
]
