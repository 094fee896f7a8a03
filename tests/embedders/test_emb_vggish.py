"""VGGish: parity with torchvggish's own preprocessing and model, shapes, pooling, batching."""

from __future__ import annotations

import numpy as np
import pytest
from emb_helpers import need, rel_err

import embedders
from embedders._vggish_features import MIN_SAMPLES, log_mel_examples, num_examples

pytestmark = pytest.mark.embedders

SR = 16_000


def _audio(batch: int, samples: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / SR
    tones = np.sin(2 * np.pi * rng.uniform(100, 4000, (batch, 1)) * t)
    return (0.3 * tones + 0.05 * rng.standard_normal((batch, samples))).astype(np.float32)


@pytest.fixture(scope="module")
def vggish(vggish_state):
    return embedders.get("vggish", device="cpu")


def _reference_embeddings(state: dict, audio: np.ndarray) -> list[np.ndarray]:
    """torchvggish's waveform_to_examples and VGG, output of the last linear layer."""
    torch = need("torch")
    tv = need("torchvggish")
    model = tv.torchvggish._vgg(postprocess=False)
    model.load_state_dict(state)
    model.eval()
    captured = {}
    # clone: the ReLU(inplace=True) that follows overwrites the linear output
    model.embeddings[4].register_forward_hook(lambda m, i, o: captured.__setitem__("x", o.clone()))
    out = []
    with torch.no_grad():
        for item in audio:
            model(tv.vggish_input.waveform_to_examples(item, SR))
            out.append(captured["x"].numpy())
    return out


def test_torchvggish_internals_we_call_exist():
    tv = need("torchvggish")
    import importlib.metadata

    assert importlib.metadata.version("torchvggish") == embedders.TORCHVGGISH_VERSION == "0.2"
    assert tv.torchvggish.VGGISH_WEIGHTS == embedders.VGGISH_WEIGHTS.url
    model = tv.torchvggish.VGG(tv.torchvggish.make_layers(), postprocess=False)
    assert isinstance(model.embeddings[5], need("torch").nn.ReLU)
    assert tv.vggish_params.SAMPLE_RATE == SR
    assert callable(tv.vggish_input.waveform_to_examples)


@pytest.mark.parametrize("samples", [MIN_SAMPLES, 2 * SR + 123, 5 * SR])
def test_features_equal_torchvggish(samples):
    tv = need("torchvggish")
    audio = _audio(3, samples)
    ours = log_mel_examples(audio)
    for item, got in zip(audio, ours, strict=True):
        ref = tv.vggish_input.waveform_to_examples(item, SR).detach().numpy()[:, 0]
        np.testing.assert_array_equal(got, ref)
    assert ours.shape[1] == num_examples(samples)


@pytest.mark.slow
@pytest.mark.parametrize(
    "samples", [MIN_SAMPLES, SR * 3 + 700, SR * 5], ids=["one-frame", "short", "5s"]
)
def test_parity_with_torchvggish(vggish, vggish_state, samples):
    audio = _audio(3, samples, seed=samples)
    audio[1] = 0.0  # a silent window
    ref_frames = _reference_embeddings(vggish_state, audio)
    frames = vggish.embed_frames(audio)
    assert rel_err(frames, np.stack(ref_frames)) < 1e-5
    assert rel_err(vggish.embed(audio), np.stack([f.mean(0) for f in ref_frames])) < 1e-5


def test_shapes_dtypes_and_pooling(vggish):
    audio = _audio(2, 3 * SR)
    mean = vggish.embed(audio)
    frames = vggish.embed_frames(audio)
    assert mean.shape == (2, 128) and mean.dtype == np.float32
    assert frames.shape == (2, 3, 128) and frames.dtype == np.float32
    np.testing.assert_allclose(mean, frames.mean(axis=1), rtol=1e-6, atol=1e-7)
    per_frame = embedders.get("vggish", pooling="frames", device="cpu")
    flat = per_frame.embed(audio)
    assert flat.shape == (6, 128)
    np.testing.assert_array_equal(flat, frames.reshape(6, 128))
    assert (vggish.name, vggish.sample_rate, vggish.dim) == ("vggish", SR, 128)
    assert isinstance(vggish, embedders.Embedder)


def test_model_loaded_once_and_shared(vggish):
    other = embedders.get("vggish", pooling="frames", device="cpu", batch_size=3)
    assert other._model is vggish._model
    assert not vggish._model.training


def test_batch_invariance_and_chunking(vggish):
    audio = _audio(5, 2 * SR, seed=3)
    together = vggish.embed(audio)
    alone = np.concatenate([vggish.embed(audio[i : i + 1]) for i in range(5)])
    assert rel_err(together, alone) < 1e-5
    small_batches = embedders.get("vggish", device="cpu", batch_size=3).embed(audio)
    assert rel_err(small_batches, together) < 1e-5


def test_deterministic_and_input_untouched(vggish):
    audio = _audio(2, 2 * SR, seed=4)
    before = audio.copy()
    audio.setflags(write=False)
    first = vggish.embed(audio)
    np.testing.assert_array_equal(first, vggish.embed(audio))
    np.testing.assert_array_equal(audio, before)


def test_bad_input(vggish):
    good = _audio(1, SR)
    with pytest.raises(ValueError, match="rank 1"):
        vggish.embed(good[0])
    with pytest.raises(TypeError, match="float32"):
        vggish.embed(good.astype(np.float64))
    with pytest.raises(TypeError, match="float32"):
        vggish.embed((good * 32767).astype(np.int16))
    with pytest.raises(TypeError, match="numpy.ndarray"):
        vggish.embed(good.tolist())
    with pytest.raises(ValueError, match="empty batch"):
        vggish.embed(np.zeros((0, SR), np.float32))
    with pytest.raises(ValueError, match="at least 15600"):
        vggish.embed(np.zeros((1, MIN_SAMPLES - 1), np.float32))
    nan = good.copy()
    nan[0, 10] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        vggish.embed(nan)
    with pytest.raises(ValueError, match="pooling"):
        embedders.VGGish(pooling="max")
    with pytest.raises(ValueError, match="batch_size"):
        embedders.VGGish(batch_size=0)


def test_device_choice(vggish_state):
    torch = need("torch")
    default = embedders.get("vggish")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert default.device.type == expected
    assert next(default._model.parameters()).device.type == expected
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            embedders.get("vggish", device="cuda")
    with pytest.raises(ValueError, match="not a torch device"):
        embedders.get("vggish", device="tpu-please")


def test_key_mismatch_is_an_error(vggish_state, tmp_path):
    torch = need("torch")
    broken = dict(vggish_state)
    del broken["embeddings.4.bias"]
    broken["embeddings.6.weight"] = torch.zeros(1)
    path = tmp_path / "vggish-broken.pth"
    torch.save(broken, path)
    with pytest.raises(
        ValueError,
        match=r"missing keys: embeddings\.4\.bias.*unexpected keys: "
        r"embeddings\.6\.weight",
    ):
        embedders.VGGish(weights=path)
    reshaped = dict(vggish_state)
    reshaped["embeddings.4.bias"] = torch.zeros(127)
    torch.save(reshaped, path)
    with pytest.raises(ValueError, match="size mismatch"):
        embedders.VGGish(weights=path)
