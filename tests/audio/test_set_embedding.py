"""Embedding an input set through its store: only missing or changed files, current files only."""

from __future__ import annotations

import numpy as np
import pytest

import jaxmetrics as jm
from jaxmetrics.audio.files import AudioFiles, find_audio
from jaxmetrics.audio.set_embedding import SetEmbedder, input_root, set_store
from jaxmetrics.audio.synthetic_audio import synth_clip

sf = pytest.importorskip("soundfile")
pytest.importorskip("pyarrow")
pytest.importorskip("librosa")

SR = 16000


def _files(folder, am):
    return AudioFiles(find_audio(str(folder)), am.sample_rate, am.window_length, am.win_dur)


def test_resume_change_and_removal(tmp_path):
    rng = np.random.default_rng(4)
    folder = tmp_path / "audio"
    folder.mkdir()
    for i in range(5):
        sf.write(str(folder / f"c{i}.wav"), synth_clip(rng, seconds=2.0 + i, sr=SR), SR)
    sf.write(str(folder / "short.wav"), np.zeros(100), SR)
    am = jm.AudioMetrics(["kd"], embedder="logmel", win_dur=1.0, progress=False)
    store = set_store(tmp_path / "cache", am, input_root(str(folder)))

    def run(use_store=True):
        files = _files(folder, am)
        embedder = SetEmbedder(files, am, store if use_store else None, str(folder))
        rows = embedder.run()
        return rows, embedder, files

    whole, first, files = run(use_store=False)
    assert first.embedded == whole.shape[0] == 2 + 3 + 4 + 5 + 6
    stored, second, files = run()
    np.testing.assert_allclose(stored, whole, rtol=1e-6, atol=1e-6)
    assert (second.embedded, second.reused) == (20, 0)
    assert files.windows_per_file == [2, 3, 4, 5, 6] and len(files.skipped) == 1
    again, third, files = run()
    assert (third.embedded, third.reused) == (0, 20) and "shorter" in files.skipped[0].reason
    np.testing.assert_array_equal(again, stored)
    sf.write(str(folder / "c1.wav"), synth_clip(rng, seconds=3.0, sr=SR), SR)  # changed bytes
    (folder / "c4.wav").unlink()  # gone: its stored rows must not be read
    changed, fourth, files = run()
    assert (fourth.embedded, fourth.reused) == (3, 11)
    assert changed.shape[0] == 14 and files.windows_per_file == [2, 3, 4, 5]
    np.testing.assert_array_equal(changed[:2], stored[:2])
    np.testing.assert_array_equal(changed[5:], stored[5:14])
    assert store.read().embeddings.shape[0] == 20  # compacted: c1 once (c4 kept, not read)
