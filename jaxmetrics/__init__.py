"""jaxmetrics: evaluation metrics for generative audio as pure, jitted JAX functions.

FAD (Fréchet distance), KD (kernel distance / MMD²), PRDC and APA between sets
of embeddings. Hyper-parameters are keyword-only, multi-valued results are
NamedTuple pytrees, and the default precision is float64 under a scoped x64
context (the global ``jax_enable_x64`` flag is never changed).
"""

from jaxmetrics._src.kernels import median_pairwise_distance
from jaxmetrics._src.version import VERSION
from jaxmetrics.analysis.bootstrap import BootstrapCI, bootstrap_ci, bootstrap_indices
from jaxmetrics.analysis.extrapolation import (
    Extrapolation,
    fit_inverse_n,
    frechet_distance_inf,
    metric_inf,
    resample_indices,
    sample_sizes,
)
from jaxmetrics.analysis.file_bootstrap import (
    FileIntervals,
    file_bootstrap_intervals,
    file_resamples,
)
from jaxmetrics.analysis.per_file import (
    FileDiagnostics,
    file_diagnostics,
    file_frechet_distances,
    worst_first,
)
from jaxmetrics.analysis.sweeps import kernel_distance_sweep, mmd2_sweep
from jaxmetrics.metrics.apa import APA, apa, apa_batch, apa_from_distances
from jaxmetrics.metrics.diagnostics import (
    WindowDiagnostics,
    window_diagnostics,
    window_diagnostics_batch,
)
from jaxmetrics.metrics.evaluate import evaluate_batch
from jaxmetrics.metrics.frechet import (
    frechet_distance,
    frechet_distance_batch,
    frechet_distance_from_stats,
)
from jaxmetrics.metrics.kernel_distance import (
    KernelDistance,
    kernel_distance,
    kernel_distance_batch,
)
from jaxmetrics.metrics.mmd import kad, mmd2
from jaxmetrics.metrics.prdc import PRDC, prdc, prdc_batch
from jaxmetrics.metrics.sets import stack_sets
from jaxmetrics.metrics.stats import GaussianStats, gaussian_stats, merge_stats
from jaxmetrics.metrics.subsets import (
    effective_subset_size,
    numpy_subset_indices,
    torch_fidelity_subset_indices,
    torchmetrics_subset_indices,
)

__version__ = VERSION


def __getattr__(name: str):
    """Import the audio pipeline (``AudioMetrics``) on first use; the core stays light."""
    if name == "AudioMetrics":
        from jaxmetrics.audio.audio_metrics import AudioMetrics

        return AudioMetrics
    raise AttributeError(f"module 'jaxmetrics' has no attribute {name!r}")


__all__ = [
    "APA",
    "PRDC",
    "AudioMetrics",
    "BootstrapCI",
    "Extrapolation",
    "FileDiagnostics",
    "FileIntervals",
    "GaussianStats",
    "KernelDistance",
    "WindowDiagnostics",
    "apa",
    "apa_batch",
    "apa_from_distances",
    "bootstrap_ci",
    "bootstrap_indices",
    "effective_subset_size",
    "evaluate_batch",
    "file_bootstrap_intervals",
    "file_diagnostics",
    "file_frechet_distances",
    "file_resamples",
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
    "window_diagnostics",
    "window_diagnostics_batch",
    "worst_first",
]
