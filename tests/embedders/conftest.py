"""Fixtures for the embedder tests: random-weight checkpoints in the released formats.

Nothing here downloads: every test runs with ``JAXMETRICS_OFFLINE=1``, an
empty user cache and ``JAXMETRICS_WEIGHTS`` pointing at a directory of
checkpoints written from random weights in the exact layouts of the released
files. The reference models (torchvggish's, laion_clap's ``CLAP_Module``) are
built offline from the same files.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from emb_helpers import build_reference_clap, need, save_clap_checkpoint


@pytest.fixture(scope="session")
def weights_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("weights")


@pytest.fixture(scope="session", autouse=True)
def _offline_environment(tmp_path_factory: pytest.TempPathFactory, weights_dir: Path):
    """No downloads, an empty private cache, and the random checkpoints' directory."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JAXMETRICS_OFFLINE", "1")
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        mp.setenv("JAXMETRICS_WEIGHTS", str(weights_dir))
        yield


@pytest.fixture(scope="session")
def torch_threads():
    torch = need("torch")
    torch.set_num_threads(2)
    return torch


@pytest.fixture(scope="session")
def vggish_state(weights_dir: Path, torch_threads) -> dict:
    """torchvggish's released format: a bare state dict of its ``VGG``."""
    torch = torch_threads
    tv = need("torchvggish.torchvggish")
    torch.manual_seed(0)
    model = tv.VGG(tv.make_layers(), postprocess=False)
    state = model.state_dict()
    torch.save(state, weights_dir / "vggish-10086976.pth")
    return state


@pytest.fixture(scope="session")
def clap_reference(weights_dir: Path, torch_threads) -> SimpleNamespace:
    """Random CLAP checkpoints ("music" and "music-speech") and laion_clap's model on the first."""
    torch = torch_threads
    torch.manual_seed(1)
    reference = build_reference_clap()
    state = reference.model.state_dict()
    music = weights_dir / "music_audioset_epoch_15_esc_90.14.pt"
    save_clap_checkpoint(state, music, torch)
    # music+speech: same layout, different audio projection, so a mix-up shows.
    other = dict(state)
    other["audio_projection.2.bias"] = state["audio_projection.2.bias"] + 1.0
    save_clap_checkpoint(other, weights_dir / "music_speech_audioset_epoch_15_esc_89.98.pt", torch)
    reference.load_ckpt(str(music), verbose=False)  # laion_clap's own loader
    return SimpleNamespace(module=reference, path=music)
