"""Registry names, the weight-free logmel embedder, and importing without torch."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import embedders


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("vggish", ("vggish", None)),
        ("clap-music", ("clap-music", None)),
        ("laion_clap_music", ("clap-music", None)),
        ("laion_clap_music_l-1", ("clap-music", "l-1")),
        ("laion_clap_music_speech_l-2", ("clap-music-speech", "l-2")),
        ("clap-music-speech", ("clap-music-speech", None)),
        ("LogMel", ("logmel", None)),
    ],
)
def test_names(name, expected):
    assert embedders.parse_name(name) == expected


def test_unknown_names():
    with pytest.raises(ValueError, match="unknown embedder 'openl3'"):
        embedders.get("openl3")
    with pytest.raises(ValueError, match="unknown embedder"):
        embedders.parse_name("vggish_l-1")
    with pytest.raises(TypeError, match="str"):
        embedders.get(3)


def _tone(hz: float, seconds: float = 2.0, sr: int = 16_000) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_logmel_values():
    pytest.importorskip("librosa")
    logmel = embedders.get("logmel")
    audio = np.stack([_tone(500.0), _tone(3000.0), np.zeros(32_000, np.float32)])
    emb = logmel.embed(audio)
    assert emb.shape == (3, 128) and emb.dtype == np.float32
    assert (logmel.name, logmel.sample_rate, logmel.dim) == ("logmel", 16_000, 128)
    means, stds = emb[:, :64], emb[:, 64:]
    assert np.argmax(means[0]) < np.argmax(means[1])  # the higher tone, the higher band
    np.testing.assert_allclose(means[2], np.log(1e-6), rtol=1e-6)  # silence
    np.testing.assert_allclose(stds[2], 0.0, atol=1e-6)
    assert np.all(stds[0] < 1.0)  # steady tone: small spread over time
    np.testing.assert_array_equal(emb, logmel.embed(audio))  # deterministic
    alone = np.concatenate([logmel.embed(audio[i : i + 1]) for i in range(3)])
    np.testing.assert_allclose(emb, alone, rtol=1e-6, atol=1e-6)  # batch invariant


def test_logmel_frames_and_bad_input():
    pytest.importorskip("librosa")
    logmel = embedders.LogMel(n_mels=32)
    audio = np.stack([_tone(440.0, 3.0)])
    frames = logmel.embed_frames(audio)
    assert frames.shape == (1, 3, 64) and frames.dtype == np.float32
    with pytest.raises(ValueError, match="at least 512"):
        logmel.embed(np.zeros((1, 100), np.float32))
    with pytest.raises(TypeError, match="float32"):
        logmel.embed(audio.astype(np.float16))
    with pytest.raises(ValueError, match="rank 1"):
        logmel.embed(audio[0])
    with pytest.raises(ValueError, match="n_mels"):
        embedders.LogMel(n_mels=0)


NO_TORCH = textwrap.dedent(
    """
    import sys
    BLOCKED = ("torch", "torchvision", "torchvggish", "torchlibrosa", "laion_clap")

    class NoTorch:  # a core-only install: these packages are not there
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}")
            return None

    sys.meta_path.insert(0, NoTorch())
    import numpy as np
    import embedders
    assert embedders.get("logmel").embed(np.zeros((1, 16000), np.float32)).shape == (1, 128)
    for name in ("vggish", "clap-music"):
        try:
            embedders.get(name)
        except ImportError as err:
            assert "pip install -e '.[embedders]'" in str(err), err
        else:
            raise AssertionError(name + " built without torch")
    assert not any(m.split(".")[0] in BLOCKED for m in sys.modules)
    print("NO-TORCH-OK")
    """
)


def test_package_imports_without_torch():
    pytest.importorskip("librosa")
    result = subprocess.run(
        [sys.executable, "-c", NO_TORCH], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "NO-TORCH-OK" in result.stdout
