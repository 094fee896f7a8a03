"""Load kadtk's own KAD functions without its model zoo.

``kadtk/kad.py`` imports its embedding and model loaders (torchaudio, laion_clap,
transformers, ...) only for the classes that score folders of audio; the two
functions benchmarked here, ``calc_kernel_audio_distance`` and
``median_pairwise_distance``, need torch alone. Install it with
``pip install --no-deps kadtk hypy-utils``; this module stands in empty modules
for the loaders and executes ``kad.py`` itself, unchanged.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path


def load_kad():
    """kadtk's ``kad`` module, or ``None`` if kadtk is not installed."""
    spec = importlib.util.find_spec("kadtk")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0])
    package = types.ModuleType("kadtk")
    package.__path__ = [str(folder)]
    sys.modules["kadtk"] = package
    stand_ins = {
        "kadtk.emb_loader": {"EmbeddingLoader": object},
        "kadtk.model_loader": {"ModelLoader": object},
        "kadtk.utils": {"PathLike": str},
    }
    for name, attrs in stand_ins.items():
        module = types.ModuleType(name)
        module.__dict__.update(attrs)
        sys.modules[name] = module
    kad_spec = importlib.util.spec_from_file_location("kadtk.kad", folder / "kad.py")
    module = importlib.util.module_from_spec(kad_spec)
    kad_spec.loader.exec_module(module)
    return module
