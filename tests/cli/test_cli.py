"""The command line: demo, evaluate and embed on audio written here, score on cached embeddings."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest

import jaxmetrics
from jaxmetrics import cli
from jaxmetrics.audio.synthetic_audio import synth_clip

pytest.importorskip("librosa")
sf = pytest.importorskip("soundfile")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """In-process runs keep their embedding stores in a temporary folder, not the user's home."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))


def _write(path, audio, sr, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, sr, **kw)


@pytest.fixture(scope="module")
def audio_dirs(tmp_path_factory):
    """Reference and candidate folders: chords, sines, noise at several rates, stereo, bad files."""
    root = tmp_path_factory.mktemp("audio")
    rng = np.random.default_rng(3)
    rates = [16000, 22050, 44100, 8000]
    for i in range(8):
        sr = rates[i % 4]
        _write(root / "ref" / f"chords{i}.wav", synth_clip(rng, seconds=3.0, sr=sr), sr)
        _write(
            root / "cand" / f"chords{i}.flac",
            synth_clip(rng, seconds=3.0, sr=sr) + rng.normal(0, 0.05, 3 * sr),
            sr,
        )
    t = np.arange(6 * 48000) / 48000
    stereo = np.stack([np.sin(2 * np.pi * 330 * t), rng.normal(0, 0.1, t.shape)], 1) * 0.3
    _write(root / "ref" / "sub" / "long_stereo.wav", stereo, 48000)  # 6 s, stereo
    _write(root / "ref" / "noise.ogg", rng.normal(0, 0.1, 3 * 22050).clip(-1, 1), 22050)
    _write(root / "cand" / "sine.wav", 0.5 * np.sin(2 * np.pi * 440 * t[: 2 * 48000]), 48000)
    _write(root / "ref" / "short.wav", np.zeros(4000), 16000)  # 0.25 s: under one window
    nan = np.zeros(16000 * 2, np.float32)
    nan[10] = np.nan
    _write(root / "ref" / "nan.wav", nan, 16000, subtype="FLOAT")
    (root / "ref" / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage")
    (root / "ref" / "notes.txt").write_text("not audio")  # not an audio extension: ignored
    (root / "empty").mkdir()
    # APA: contexts with the same names as the stems
    for name in ("ref", "cand"):
        for f in sorted((root / name).glob("chords*")):
            data, sr = sf.read(str(f))
            _write(root / f"{name}_ctx" / f.name, np.roll(data, sr // 10), sr)
    return root


def _digest(folder):
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _run(argv, tmp_path):
    out = tmp_path / "out.json"
    code = cli.main([*argv, "--json", str(out)] if "--json" not in argv else argv)
    return code, (json.loads(out.read_text()) if out.exists() else None)


def test_demo_orders_degradations(tmp_path, capsys):
    code, summary = _run(
        ["demo", "--clips", "16", "--seconds", "4", "--no-progress", "--metrics", "fad,kd,prdc"],
        tmp_path,
    )
    assert code == 0
    rows = summary["results"]
    assert list(rows) == ["level=0", "level=0.25", "level=0.5", "level=1"]
    for key in ("fad", "kernel_distance_mean"):
        values = [r[key] for r in rows.values()]
        assert values == sorted(values), (key, values)
    for key in ("precision", "recall", "density", "coverage"):
        values = [r[key] for r in rows.values()]
        assert values == sorted(values, reverse=True), (key, values)
    out = capsys.readouterr().out
    assert "--embedder vggish" in out and "clap-music" in out


def test_demo_on_synthetic_embeddings(tmp_path):
    code, summary = _run(["demo", "--embeddings", "--rows", "600", "--metrics", "fad,kd"], tmp_path)
    assert code == 0
    fads = [r["fad"] for r in summary["results"].values()]
    assert fads == sorted(fads)


def test_evaluate_folders(audio_dirs, tmp_path, capsys):
    before = _digest(audio_dirs)
    code, summary = _run(
        [
            "evaluate",
            str(audio_dirs / "ref"),
            str(audio_dirs / "cand"),
            str(audio_dirs / "ref" / "chords*.wav"),  # a glob: the reference's own chords
            "--embedder",
            "logmel",
            "--win-dur",
            "1",
            "--metrics",
            "fad,kd,prdc",
            "--no-progress",
        ],
        tmp_path,
    )
    assert code == 0
    ref = summary["reference"]
    skipped = {s["path"].rsplit("/", 1)[1]: s["reason"] for s in ref["skipped"]}
    assert set(skipped) == {"short.wav", "nan.wav", "corrupt.wav"}
    assert "shorter than one window" in skipped["short.wav"]
    assert "NaN" in skipped["nan.wav"]
    assert "corrupt" in skipped["corrupt.wav"]
    assert ref["files"] == 10 and ref["windows"] == 8 * 3 + 6 + 3
    cand = summary["candidates"][str(audio_dirs / "cand")]
    assert cand["files"] == 9 and cand["windows"] == 8 * 3 + 2 and not cand["skipped"]
    results = summary["results"]
    noisy, own = results[str(audio_dirs / "cand")], results[str(audio_dirs / "ref" / "chords*.wav")]
    assert noisy["fad"] > own["fad"] > 0
    err = capsys.readouterr().err
    assert "skipped 3 of 13 files" in err and "corrupt.wav" in err
    assert _digest(audio_dirs) == before  # inputs never written


def test_embed_then_score_equals_evaluate(audio_dirs, tmp_path):
    common = ["--embedder", "logmel", "--win-dur", "1", "--no-progress"]
    ref, cand = tmp_path / "ref.npz", tmp_path / "cand.npz"
    assert cli.main(["embed", str(audio_dirs / "ref"), "-o", str(ref), *common]) == 0
    assert cli.main(["embed", str(audio_dirs / "cand"), "-o", str(cand), *common]) == 0
    with np.load(ref) as data:
        assert data["embeddings"].shape == (33, 128)
        assert str(data["embedder"]).startswith("logmel") and float(data["win_dur"]) == 1.0
        assert len(data["files"]) == 10 and data["file_index"].max() == 9
        assert len(data["skipped"]) == 3
    code, scored = _run(["score", str(ref), str(cand)], tmp_path)
    assert code == 0
    code, evaluated = _run(
        ["evaluate", str(audio_dirs / "ref"), str(audio_dirs / "cand"), "--metrics", "fad,kd,prdc"]
        + common,
        tmp_path,
    )
    a, b = scored["results"][str(cand)], evaluated["results"][str(audio_dirs / "cand")]
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-9, atol=1e-12)


def test_evaluate_apa_with_context_folders(audio_dirs, tmp_path):
    code, summary = _run(
        [
            "evaluate",
            str(audio_dirs / "ref"),
            str(audio_dirs / "cand"),
            "--reference-context",
            str(audio_dirs / "ref_ctx"),
            "--candidate-context",
            str(audio_dirs / "cand_ctx"),
            "--metrics",
            "fad,apa",
            "--embedder",
            "logmel",
            "--win-dur",
            "1",
            "--no-progress",
        ],
        tmp_path,
    )
    assert code == 0
    (row,) = summary["results"].values()
    assert 0.0 <= row["apa"] <= 1.0
    reasons = [s["reason"] for s in summary["reference"]["skipped"]]
    assert sum("no context file" in r for r in reasons) == 5  # stems without a context


def test_bad_input_exits_nonzero(audio_dirs, tmp_path, capsys, monkeypatch):
    logmel = ["--embedder", "logmel", "--no-progress"]
    assert cli.main(["evaluate", str(audio_dirs / "empty"), str(audio_dirs / "cand"), *logmel]) == 2
    assert "no audio files found" in capsys.readouterr().err
    assert cli.main(["evaluate", str(tmp_path / "nope"), str(audio_dirs / "cand"), *logmel]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "x.wav").write_bytes(b"garbage")
    assert cli.main(["evaluate", str(only_bad), str(audio_dirs / "cand"), *logmel]) == 2
    err = capsys.readouterr().err
    assert "none of its 1 audio files can be read" in err and "x.wav" in err
    too_short = tmp_path / "short"
    too_short.mkdir()
    _write(too_short / "s.wav", np.zeros(800), 16000)  # a readable header, under one window
    assert cli.main(["evaluate", str(too_short), str(audio_dirs / "cand"), *logmel]) == 2
    err = capsys.readouterr().err
    assert "no usable audio (1 of 1 files skipped" in err and "s.wav" in err
    with pytest.raises(SystemExit):
        cli.main(["evaluate", "a", "b", "--metrics", "fad,bogus"])
    assert "unknown metric(s) bogus" in capsys.readouterr().err
    refs = [str(audio_dirs / "ref"), str(audio_dirs / "cand")]
    assert cli.main(["evaluate", *refs, "--embedder", "wav2vec"]) == 2
    assert "unknown embedder 'wav2vec'" in capsys.readouterr().err
    assert cli.main(["evaluate", *refs, "--metrics", "apa", *logmel]) == 2
    assert "--reference-context" in capsys.readouterr().err
    # missing weights (or, without torch, the missing package): a message, no download
    monkeypatch.setenv("JAXMETRICS_OFFLINE", "1")
    monkeypatch.setenv("JAXMETRICS_WEIGHTS", str(tmp_path / "no-weights"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert cli.main(["evaluate", *refs, "--embedder", "vggish", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: embedder 'vggish' cannot be built") or (
        "weights for 'vggish' not available" in err and "vggish-10086976.pth" in err
    )


def test_score_npy_and_npz(tmp_path, rng):
    ref = rng.normal(size=(300, 8)).astype(np.float32)
    np.save(tmp_path / "ref.npy", ref)
    np.savez(tmp_path / "cand.npz", embeddings=ref[::-1] + 0.5)
    files = [str(tmp_path / "ref.npy"), str(tmp_path / "cand.npz")]
    assert cli.main(["score", *files, "--metrics", "fad"]) == 2  # nothing says how they were made
    code, summary = _run(
        ["score", *files, "--metrics", "fad,prdc", "--assume-compatible"],
        tmp_path,
    )
    assert code == 0
    (row,) = summary["results"].values()
    np.testing.assert_allclose(row["fad"], 8 * 0.25, rtol=1e-6)
    assert set(row) == {"fad", "precision", "recall", "density", "coverage"}


def test_score_refuses_mixed_embedders(tmp_path, rng):
    x = rng.normal(size=(50, 4)).astype(np.float32)
    np.savez(tmp_path / "a.npz", embeddings=x, embedder=np.array("vggish,sr=16000"))
    np.savez(tmp_path / "b.npz", embeddings=x, embedder=np.array("logmel,sr=16000"))
    assert cli.main(["score", str(tmp_path / "a.npz"), str(tmp_path / "b.npz")]) == 2


def test_unknown_metric_and_missing_file(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.main(["demo", "--metrics", "fad,bogus"])
    assert "unknown metric(s) bogus" in capsys.readouterr().err
    assert cli.main(["score", str(tmp_path / "nope.npy"), str(tmp_path / "nope.npy")]) == 2
    assert "no such file" in capsys.readouterr().err
    bad = tmp_path / "bad.npy"
    bad.write_text("not numpy")
    assert cli.main(["score", str(bad), str(bad)]) == 2
    assert "not a readable" in capsys.readouterr().err


def test_bad_embeddings_give_clear_error(tmp_path, capsys):
    x = np.ones((20, 4))
    x[3] = np.nan
    np.save(tmp_path / "x.npy", x)
    assert (
        cli.main(["score", str(tmp_path / "x.npy"), str(tmp_path / "x.npy"), "--metrics", "fad"])
        == 2
    )
    assert "row index 3" in capsys.readouterr().err


def test_core_cli_does_not_import_torch(tmp_path):
    np.save(tmp_path / "a.npy", np.random.default_rng(0).normal(size=(40, 4)))
    code = (
        "import sys, jaxmetrics.cli, jaxmetrics; "
        f"assert jaxmetrics.cli.main(['score', {str(tmp_path / 'a.npy')!r}, "
        f"{str(tmp_path / 'a.npy')!r}, '--assume-compatible']) == 0; "
        "assert 'torch' not in sys.modules and 'embedders' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_defaults_version_and_help(capsys):
    from jaxmetrics.cli.parser import build_parser

    parser = build_parser()
    assert parser.parse_args(["evaluate", "a", "b"]).win_dur == 5.0  # as AudioMetrics
    assert parser.parse_args(["embed", "a", "-o", "x.npz"]).win_dur == 5.0
    assert parser.parse_args(["demo"]).win_dur == 2.0  # the demo's short synthetic clips
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert capsys.readouterr().out.strip() == f"jaxmetrics {jaxmetrics.__version__}"
    for command in ([], ["demo"], ["evaluate"], ["embed"], ["score"]):
        with pytest.raises(SystemExit):
            cli.main([*command, "--help"])
        text = capsys.readouterr().out
        assert "``" not in text
        if command in (["evaluate"], ["embed"]):
            assert "(default 5)" in text
        if command == ["score"]:
            assert "APA" not in text


def test_a_bug_shows_its_traceback_and_asks_for_a_report(monkeypatch, capsys):
    from jaxmetrics.cli import commands

    def broken(args):
        raise RuntimeError("an internal inconsistency")

    monkeypatch.setattr(commands, "_runner", lambda command: broken)
    assert cli.main(["score", "a.npz", "b.npz"]) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: an internal inconsistency" in err
    assert "this is a bug in jaxmetrics" in err


def test_progress_names_sets_and_announces_kd(audio_dirs, tmp_path, capsys, monkeypatch):
    from jaxmetrics.cli import evaluate

    monkeypatch.setattr(evaluate, "LARGE_SET", 10)  # these sets are small: lower the bar
    args = [str(audio_dirs / "ref"), str(audio_dirs / "cand"), "--embedder", "logmel"]
    assert cli.main(["evaluate", *args, "--win-dur", "1", "--metrics", "fad,kd"]) == 0
    err = capsys.readouterr().err
    assert f"candidate set {audio_dirs / 'cand'}: 100%" in err and "26/26" in err
    assert f"candidate set {audio_dirs / 'cand'}: computing fad, kd on 26 windows" in err
