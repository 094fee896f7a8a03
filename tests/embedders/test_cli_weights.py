"""``--weights PATH`` on the command line: a file or a folder, named in the outputs; bad files."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from jaxmetrics import cli
from jaxmetrics.audio.synthetic_audio import synth_clip

sf = pytest.importorskip("soundfile")
pytest.importorskip("librosa")


@pytest.fixture
def folders(tmp_path):
    rng = np.random.default_rng(2)
    for name in ("ref", "cand"):
        for i in range(3):
            (tmp_path / name).mkdir(exist_ok=True)
            sf.write(
                str(tmp_path / name / f"c{i}.wav"), synth_clip(rng, seconds=2.0, sr=16000), 16000
            )
    return tmp_path


def test_weights_file_and_folder(folders, vggish_state, weights_dir, tmp_path, monkeypatch, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    shutil.copy(weights_dir / "vggish-10086976.pth", mine / "vggish-10086976.pth")
    monkeypatch.setenv("JAXMETRICS_WEIGHTS", str(tmp_path / "empty"))  # nowhere else to look
    monkeypatch.setenv("JAXMETRICS_OFFLINE", "1")  # restored after --weights DIR sets it
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    args = [
        "evaluate",
        str(folders / "ref"),
        str(folders / "cand"),
        "--embedder",
        "vggish",
        "--win-dur",
        "1",
        "--device",
        "cpu",
        "--no-progress",
    ]
    for weights, named in ((mine / "vggish-10086976.pth", True), (mine, False)):
        out = tmp_path / "out.json"
        assert cli.main([*args, "--weights", str(weights), "--json", str(out)]) == 0
        summary = json.loads(out.read_text())
        assert ("weights=vggish-10086976.pth" in summary["embedder"]) == named
        assert summary["results"][str(folders / "cand")]["fad"] >= 0
    (tmp_path / "bad.pth").write_bytes(bytes(range(256)) * 8)
    assert cli.main([*args, "--weights", str(tmp_path / "bad.pth")]) == 2
    err = capsys.readouterr().err
    assert "bad.pth" in err and "weights_only" not in err and "Traceback" not in err
    assert cli.main([*args, "--weights", str(tmp_path / "nope.pth")]) == 2
    assert "--weights" in capsys.readouterr().err
