"""LAION-CLAP: parity with laion_clap's own model and get_audio_embedding_from_data,
offline import, layers, long inputs, batching."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from emb_helpers import need, rel_err

import embedders
from embedders._clap import CLIP_SAMPLES, prepare, segment_starts

pytestmark = pytest.mark.embedders

SR = 48_000


def _audio(batch: int, samples: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / SR
    tones = np.sin(2 * np.pi * rng.uniform(100, 8000, (batch, 1)) * t)
    return (0.3 * tones + 0.05 * rng.standard_normal((batch, samples))).astype(np.float32)


def _reference(module, audio: np.ndarray) -> dict[str, np.ndarray]:
    """laion_clap's get_audio_embedding_from_data(use_tensor=True), with the
    l-1 / l-2 activations taken by forward hooks as audio-metrics does."""
    torch = need("torch")
    captured = {}
    hooks = [
        module.model.audio_projection[i].register_forward_hook(
            lambda m, inp, out, key=key: captured.__setitem__(key, out.detach().clone())
        )
        for i, key in ((0, "l-2"), (2, "l-1"))
    ]
    try:
        with torch.no_grad():
            final = module.get_audio_embedding_from_data(torch.from_numpy(audio), use_tensor=True)
    finally:
        for hook in hooks:
            hook.remove()
    return {"final": final.numpy(), "l-1": captured["l-1"].numpy(), "l-2": captured["l-2"].numpy()}


def test_laion_clap_version_is_the_one_we_build_against():
    assert importlib.metadata.version("laion_clap") == embedders.LAION_CLAP_VERSION == "1.1.7"


def test_prepare_repeat_pads_like_laion_clap():
    audio = _audio(2, 130_001)
    out = prepare(audio)
    assert out.shape == (2, 1, CLIP_SAMPLES)
    np.testing.assert_array_equal(out[:, 0, :130_001], audio)
    np.testing.assert_array_equal(out[:, 0, 260_002:390_003], audio)
    assert not out[:, 0, 390_003:].any()
    assert segment_starts(CLIP_SAMPLES) == [0]
    assert segment_starts(25 * SR) == [0, CLIP_SAMPLES, 15 * SR]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("samples", "silent"),
    [(SR // 2, True), (3 * SR + 7, False), (CLIP_SAMPLES, False)],
    ids=["0.5s+silent", "3s", "exact-10s"],
)
def test_parity_with_laion_clap_all_layers(clap_reference, samples, silent):
    audio = _audio(2 if silent else 1, samples, seed=samples)
    if silent:
        audio[1] = 0.0
    ref = _reference(clap_reference.module, audio)
    for layer in embedders.LaionClap.layers():
        ours = embedders.get("clap-music", layer=layer, device="cpu").embed(audio)
        assert ours.shape == (len(audio), 512) and ours.dtype == np.float32
        assert rel_err(ours, ref[layer]) < 1e-5, layer


@pytest.mark.slow
def test_longer_than_10s_is_mean_of_segments(clap_reference):
    clap = embedders.get("clap-music", layer="l-1", device="cpu")
    audio = _audio(1, 12 * SR, seed=5)
    pooled = clap.embed(audio)
    # segments: [0 s, 10 s) and [2 s, 12 s) (the last one ends at the end)
    segments = np.concatenate([audio[:, :CLIP_SAMPLES], audio[:, -CLIP_SAMPLES:]])
    np.testing.assert_allclose(pooled[0], clap.embed(segments).mean(0), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_batch_invariance_determinism_and_sharing(clap_reference):
    clap = embedders.get("laion_clap_music", device="cpu", batch_size=2)
    audio = _audio(3, SR, seed=9)
    before = audio.copy()
    together = clap.embed(audio)  # batches of 2 and 1
    alone = np.concatenate([clap.embed(audio[i : i + 1]) for i in range(3)])
    assert rel_err(together, alone) < 1e-5
    np.testing.assert_array_equal(alone[:1], clap.embed(audio[:1]))
    np.testing.assert_array_equal(audio, before)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, rtol=1e-5)
    l2 = embedders.get("laion_clap_music_l-2", device="cpu")
    assert l2._model is clap._model and l2.layer == "l-2" and l2.name == "clap-music-l-2"
    speech = embedders.get("laion_clap_music_speech_l-1", device="cpu")
    assert speech._model is not clap._model
    assert speech.weights_path.name == "music_speech_audioset_epoch_15_esc_89.98.pt"
    # that checkpoint's audio_projection.2.bias differs by +1 everywhere
    l1 = embedders.get("clap-music", layer="l-1", device="cpu").embed(audio[:1])
    np.testing.assert_allclose(speech.embed(audio[:1]) - l1, 1.0, rtol=1e-4)


def test_bad_input_and_arguments(clap_reference):
    clap = embedders.get("clap-music", device="cpu")
    with pytest.raises(ValueError, match="rank 3"):
        clap.embed(np.zeros((1, 1, SR), np.float32))
    with pytest.raises(TypeError, match="float32"):
        clap.embed(np.zeros((1, SR), np.float64))
    with pytest.raises(ValueError, match="empty batch"):
        clap.embed(np.zeros((0, SR), np.float32))
    with pytest.raises(ValueError, match="at least 1"):
        clap.embed(np.zeros((2, 0), np.float32))
    inf = np.zeros((1, SR), np.float32)
    inf[0, 3] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        clap.embed(inf)
    with pytest.raises(ValueError, match="layer"):
        embedders.get("clap-music", layer="l-3")
    with pytest.raises(ValueError, match="selects layer 'l-1'"):
        embedders.get("clap-music-l-1", layer="l-2")
    with pytest.raises(ValueError, match="checkpoint"):
        embedders.LaionClap("speech")


def test_checkpoint_without_audio_keys_is_an_error(clap_reference, tmp_path):
    torch = need("torch")
    text_only = {"module.text_branch.embeddings.word_embeddings.weight": torch.zeros(2, 2)}
    path = tmp_path / "text_only.pt"
    torch.save({"state_dict": text_only}, path)
    with pytest.raises(ValueError, match=r"missing keys: audio_branch\..*in all"):
        embedders.LaionClap(weights=path)


OFFLINE_SCRIPT = textwrap.dedent(
    """
    import socket, sys
    def refuse(*args, **kwargs):
        raise OSError("network access attempted")
    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse
    import numpy as np
    import embedders
    clap = embedders.get("clap-music", layer="l-2", device="cpu")
    out = clap.embed(np.zeros((1, 4800), np.float32))
    assert out.shape == (1, 512), out.shape
    assert "laion_clap" not in sys.modules, "laion_clap/__init__ was executed"
    assert "transformers" not in sys.modules, "transformers was imported"
    print("OFFLINE-OK")
    """
)


@pytest.mark.slow
def test_import_and_construction_need_no_network(clap_reference, weights_dir):
    env = dict(os.environ, JAXMETRICS_WEIGHTS=str(weights_dir), JAXMETRICS_OFFLINE="1")
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        env.pop(key, None)
    result = subprocess.run(
        [sys.executable, "-c", OFFLINE_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "OFFLINE-OK" in result.stdout
