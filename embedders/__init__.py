"""Audio embedders behind one numpy-in, numpy-out adapter.

``get(name)`` builds VGGish, LAION-CLAP (music, music+speech; final, l-1 and
l-2 layers) or the weight-free ``logmel`` baseline. Importing this package
does not import torch; the torch-backed embedders import it when built and
fail with the install command if it is missing.
"""

from embedders._base import Embedder, check_audio
from embedders._clap import CLAP_CHECKPOINTS, LaionClap
from embedders._clap_import import LAION_CLAP_VERSION
from embedders._logmel import LogMel
from embedders._registry import NAMES, get, parse_name
from embedders._vggish import TORCHVGGISH_VERSION, VGGISH_WEIGHTS, VGGish
from embedders._weights import (
    ENV_OFFLINE,
    ENV_WEIGHTS,
    WeightFile,
    WeightsNotFoundError,
    cache_dir,
    resolve_weights,
)

__all__ = [
    "CLAP_CHECKPOINTS",
    "ENV_OFFLINE",
    "ENV_WEIGHTS",
    "LAION_CLAP_VERSION",
    "NAMES",
    "TORCHVGGISH_VERSION",
    "VGGISH_WEIGHTS",
    "Embedder",
    "LaionClap",
    "LogMel",
    "VGGish",
    "WeightFile",
    "WeightsNotFoundError",
    "cache_dir",
    "check_audio",
    "get",
    "parse_name",
    "resolve_weights",
]
