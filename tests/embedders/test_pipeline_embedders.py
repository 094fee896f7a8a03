"""AudioMetrics with VGGish and LAION-CLAP from random-weight checkpoints (real loading path).

The checkpoints are written by this folder's fixtures in the released
formats and found through ``$JAXMETRICS_WEIGHTS``; nothing is downloaded.
The established package's two README examples run with only the import line
changed and ``n_windows`` lowered from 100 to 4 (CPU time); the unchanged
text was run by hand (see the README section "AudioMetrics and the command
line").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from emb_helpers import need

import jaxmetrics as jm
from jaxmetrics.audio.state import score_embeddings
from jaxmetrics.audio.synthetic_audio import synth_clip

pytestmark = pytest.mark.embedders

# The audio-metrics 1.0.4 README examples, import line changed (shared with
# benchmarks/bench_pipeline.py).
README_EXAMPLES = (Path(__file__).parent / "audio_metrics_readme_examples.txt").read_text()


def test_vggish_pipeline_equals_manual_windows(vggish_state):
    embedders = need("embedders")
    rng = np.random.default_rng(5)
    ref = [synth_clip(rng, seconds=s, sr=22050) for s in (2.5, 3.2, 2.0, 4.1)]
    cand = [
        synth_clip(rng, seconds=s, sr=22050) + rng.normal(0, 0.05, int(s * 22050))
        for s in (3.0, 2.2, 3.9)
    ]
    am = jm.AudioMetrics(
        ["fad", "kd", "prdc"],
        embedder="vggish",
        device="cpu",
        win_dur=1.0,
        input_sr=22050,
        progress=False,
    )
    am.add_reference(ref)
    got = am.evaluate(iter(cand))
    soxr = need("soxr")
    model = embedders.get("vggish", device="cpu")

    def manual(items):
        windows = []
        for x in items:
            y = soxr.resample(x, 22050, 16000, quality="HQ").astype(np.float32)
            windows += [y[i * 16000 : (i + 1) * 16000] for i in range(len(y) // 16000)]
        return model.embed(np.stack(windows))

    expected = score_embeddings(
        ["fad", "kd", "prdc"], reference=manual(ref), candidate=manual(cand)
    )
    assert am.reference_windows == 2 + 3 + 2 + 4
    for key, value in expected.items():
        np.testing.assert_allclose(got[key], value, rtol=1e-6, atol=1e-9)


def test_frame_pooling_is_refused(vggish_state):
    need("torchvggish")
    embedders = need("embedders")
    am = jm.AudioMetrics(
        ["fad"],
        embedder=embedders.get("vggish", pooling="frames", device="cpu"),
        win_dur=2.0,
        progress=False,
    )
    with pytest.raises(ValueError, match="one embedding per window"):
        am.add_reference(np.zeros((2, 32000), np.float32))


def test_readme_examples_with_clap(clap_reference, capsys):
    need("laion_clap")
    code = README_EXAMPLES.replace("n_windows = 100", "n_windows = 4")
    assert code.count("n_windows = 4") == 1
    np.random.seed(0)
    exec(compile(code, "README", "exec"), {})  # noqa: S102 - the README's own text
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    first, second = (eval(line) for line in lines)  # noqa: S307 - dicts of floats we printed
    assert list(first) == [
        "fad",
        "kernel_distance_mean",
        "kernel_distance_std",
        "precision",
        "recall",
        "density",
        "coverage",
    ]
    assert list(second) == ["fad", "apa"] and 0.0 <= second["apa"] <= 1.0


def test_clap_state_names_the_layer(clap_reference, tmp_path):
    need("laion_clap")
    rng = np.random.default_rng(1)
    audio = rng.normal(0, 0.1, (3, 48000 * 2)).astype(np.float32)
    final = jm.AudioMetrics(
        ["fad"], embedder="clap-music", device="cpu", win_dur=2.0, progress=False
    )
    final.add_reference(audio)
    final.save_state(tmp_path / "final.npz")
    l1 = jm.AudioMetrics(
        ["fad"], embedder="laion_clap_music_l-1", device="cpu", win_dur=2.0, progress=False
    )
    with pytest.raises(ValueError, match="clap-music-l-1"):
        l1.load_state(tmp_path / "final.npz")
