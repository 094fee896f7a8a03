"""The ``jaxmetrics`` command driven as a user drives it: subprocesses on audio written here.

Checks exit statuses, messages (one ``error:`` line, never a traceback), the
files written and not written, that every input's bytes are unchanged, that
symbolic-link loops end, and that a SIGKILL while embedding or while writing
neither damages an earlier output nor loses the files already embedded.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from cli_run import command, env

from jaxmetrics import cli
from jaxmetrics.audio.synthetic_audio import synth_clip

sf = pytest.importorskip("soundfile")
pytest.importorskip("librosa")

SR = 16000
LOGMEL = ["--embedder", "logmel", "--win-dur", "1", "--no-progress"]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """In-process runs keep their embedding stores in a temporary folder, not the user's home."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))


def jm(*args: str, cache: Path, cwd: Path | None = None, timeout: float = 300):
    """Run the command; the completed process (text output)."""
    return subprocess.run(
        [*command(), *args],
        capture_output=True,
        text=True,
        env=env(cache),
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def _write(path: Path, audio: np.ndarray, **kw) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, SR, **kw)


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Folders of audio: a reference, a close and a poor candidate, broken and linked layouts."""
    root = tmp_path_factory.mktemp("e2e")
    rng = np.random.default_rng(11)
    for i in range(8):
        _write(root / "ref" / f"c{i}.wav", synth_clip(rng, seconds=3.0, sr=SR))
    for i in range(6):
        _write(root / "good" / f"c{i}.wav", synth_clip(rng, seconds=3.0, sr=SR))
        noisy = synth_clip(rng, seconds=3.0, sr=SR) + rng.normal(0, 0.3, 3 * SR)
        _write(root / "poor" / f"c{i}.wav", noisy.clip(-1, 1))
    _write(root / "tiny" / "c.wav", synth_clip(rng, seconds=2.0, sr=SR))  # 2 windows: KD fails
    _write(root / "short" / "s.wav", np.zeros(800))  # a readable header, under one window
    _write(root / "single" / "c0.wav", synth_clip(rng, seconds=2.0, sr=SR))
    (root / "corrupt").mkdir()
    (root / "corrupt" / "x.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage")
    # one real file and links that loop back (me -> ., a/up -> ..) or point at each other
    _write(root / "loops" / "c0.wav", synth_clip(rng, seconds=2.0, sr=SR))
    os.symlink(".", root / "loops" / "me")
    (root / "loops" / "a").mkdir()
    (root / "loops" / "b").mkdir()
    os.symlink("..", root / "loops" / "a" / "up")
    os.symlink("../b", root / "loops" / "a" / "to_b")
    os.symlink("../a", root / "loops" / "b" / "to_a")
    os.symlink("missing.wav", root / "loops" / "dangling.wav")
    os.symlink("c0.wav", root / "loops" / "alias.wav")
    # APA, one folder per song: context.wav and stem.wav
    for name in ("songs_ref", "songs_cand"):
        for s in range(6):
            context = synth_clip(rng, seconds=3.0, sr=SR)
            _write(root / name / f"song{s}" / "context.wav", context)
            _write(root / name / f"song{s}" / "stem.wav", np.roll(context, SR // 20) * 0.5)
    _write(root / "songs_ref" / "lonely" / "stem.wav", synth_clip(rng, seconds=3.0, sr=SR))
    # silence and samples beyond full scale
    _write(root / "odd" / "silent.wav", np.zeros(2 * SR))
    loud = synth_clip(rng, seconds=2.0, sr=SR)
    _write(root / "odd" / "loud.wav", 1.5 * loud / np.abs(loud).max(), subtype="FLOAT")
    _write(root / "odd" / "c.wav", synth_clip(rng, seconds=2.0, sr=SR))
    return root


@pytest.fixture(scope="module")
def untouched(data):
    """Every input file's bytes, checked unchanged after the module's tests."""
    before = _digest(data)
    yield
    assert _digest(data) == before


def _no_traceback(proc) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr


def test_last_set_fails_earlier_results_kept(data, tmp_path, untouched):
    out = tmp_path / "results.json"
    sets = [str(data / n) for n in ("good", "tiny", "poor", "short")]
    proc = jm(
        "evaluate",
        str(data / "ref"),
        *sets,
        *LOGMEL,
        "--metrics",
        "fad,kd",
        "--json",
        str(out),
        cache=tmp_path / "cache",
    )
    _no_traceback(proc)
    assert proc.returncode == 1, proc.stderr
    summary = json.loads(out.read_text())
    assert list(summary["results"]) == [sets[0], sets[2]]  # completed, in order
    assert set(summary["failed"]) == {sets[1], sets[3]}
    assert summary["results"][sets[0]]["fad"] < summary["results"][sets[2]]["fad"]
    assert summary["candidates"][sets[0]]["windows"] == 18 and summary["win_dur"] == 1.0
    # the table: a row per set, failed sets marked, directions stated
    rows = {line.split("|")[0].strip(): line for line in proc.stdout.splitlines() if "|" in line}
    assert "lower" in rows["better"] and "failed" in rows[sets[1]] and "failed" in rows[sets[3]]
    assert re.search(r"\|\s+18\s+\|\s+[0-9.]+", rows[sets[0]])
    err = proc.stderr
    assert f"candidate set {sets[1]} (2 windows): " in err and "at least 4 rows" in err
    assert f"candidate set {sets[3]} (0 windows): no usable audio" in err
    assert "2 of 4 candidate sets failed" in err
    # both failures were foreseen from the file headers, before any embedding
    first_error = err.index("error:")
    assert err.index(f"candidate set {sets[1]}: 2 windows by the file headers, KD needs") < (
        first_error
    )
    assert err.index(f"candidate set {sets[3]}: by their headers, none of its files") < (
        first_error
    )


def _one_error_line(proc) -> str:
    _no_traceback(proc)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_bad_input_fails_before_any_work(data, tmp_path, untouched):
    cache = tmp_path / "cache"
    ref, good = str(data / "ref"), str(data / "good")
    cases = [
        (("evaluate", ref, good, str(data / "goood")), "goood: no such file or folder"),
        (("evaluate", ref, good, "--json", str(tmp_path / "nodir" / "x.json")), "does not exist"),
        (
            ("evaluate", ref, good, "--json", str(data / "ref" / "x.json")),
            "inside the input folder",
        ),
        (("embed", good, "-o", str(tmp_path / "nodir" / "x.npz")), "does not exist"),
        (
            ("embed", str(data / "single" / "c0.wav"), "-o", str(data / "single" / "c0.wav")),
            "is the input file",
        ),
        (("evaluate", ref, str(data / "corrupt")), "none of its 1 audio files can be read"),
    ]
    for args, message in cases:
        proc = jm(*args, *LOGMEL, cache=cache)
        assert message in _one_error_line(proc), args
    assert not cache.exists()  # nothing was embedded
    assert not (tmp_path / "nodir").exists() and not (data / "ref" / "x.json").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--reference-context", "good"], "only used by APA"),
        (["--metrics", "apa"], "--context-name NAME"),
        (["--metrics", "apa", "--context-name", "c", "--reference-context", "good"], "not both"),
        (["--weights", "nowhere.pt"], "--weights: the logmel embedder has no weights"),
        (["--no-cache", "--cache-dir", "x"], "contradict"),
        (["--cache-dir", "ref/cache"], "inside the input folder"),
    ],
)
def test_inconsistent_options_are_refused(data, args, message, capsys, monkeypatch):
    monkeypatch.chdir(data)
    assert cli.main(["evaluate", "ref", "good", *LOGMEL, *args]) == 2
    assert message in capsys.readouterr().err


def test_a_device_that_is_not_there(data, capsys):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    args = ["evaluate", str(data / "ref"), str(data / "good"), "--embedder", "vggish"]
    assert cli.main([*args, "--device", "cuda"]) == 2
    assert "no cuda device is available" in capsys.readouterr().err
    assert cli.main([*args, "--device", "tpu"]) == 2
    assert "unknown device type" in capsys.readouterr().err


def test_symlink_loops_end_and_files_are_found_once(data, tmp_path, untouched):
    for spec in (str(data / "loops" / "**" / "*.wav"), str(data / "loops")):
        out = tmp_path / "loops.json"
        proc = jm(
            "evaluate",
            str(data / "ref"),
            spec,
            *LOGMEL,
            "--json",
            str(out),
            cache=tmp_path / "cache",
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        cand = json.loads(out.read_text())["candidates"][spec]
        assert cand["files"] == 1 and cand["windows"] == 2  # c0.wav once (alias.wav is a link)
        reasons = " ".join(s["reason"] for s in cand["skipped"])
        assert "already searched" in reasons and "broken link" in reasons
        assert "same file as" in reasons


def test_per_song_layout_for_apa(data, tmp_path, untouched):
    out = tmp_path / "apa.json"
    proc = jm(
        "evaluate",
        str(data / "songs_ref"),
        str(data / "songs_cand"),
        *LOGMEL,
        "--metrics",
        "fad,apa",
        "--context-name",
        "context",
        "--json",
        str(out),
        cache=tmp_path / "cache",
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(out.read_text())
    (row,) = summary["results"].values()
    assert 0.0 <= row["apa"] <= 1.0
    assert summary["reference"]["files"] == 6
    (lonely,) = summary["reference"]["skipped"]
    assert "lonely" in lonely["path"] and "no context.* file" in lonely["reason"]


def test_silence_clipping_and_progress(data, tmp_path, untouched):
    proc = jm(
        "evaluate",
        str(data / "ref"),
        str(data / "odd"),
        "--embedder",
        "logmel",
        "--win-dur",
        "1",
        "--metrics",
        "fad,prdc",
        cache=tmp_path / "cache",
    )
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr
    assert "1 file(s) are digital silence" in err and "silent.wav" in err
    assert "beyond [-1, 1]" in err and "loud.wav" in err
    assert "windows < 2k = 20" in err  # too small for PRDC to mean much
    assert f"candidate set {data / 'odd'}: 100%" in err and "6/6" in err  # totals up front


def test_score_refuses_what_it_cannot_trust(data, tmp_path, untouched):
    cache = tmp_path / "cache"
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    assert jm("embed", str(data / "good"), "-o", str(a), *LOGMEL, cache=cache).returncode == 0
    proc = jm(
        "embed",
        str(data / "poor"),
        "-o",
        str(b),
        *LOGMEL[:2],
        "--win-dur",
        "0.5",
        "--no-progress",
        cache=cache,
    )
    assert proc.returncode == 0, proc.stderr
    assert "win_dur=0.5" in _one_error_line(jm("score", str(a), str(b), cache=cache))
    flipped = bytearray(a.read_bytes())
    flipped[len(flipped) // 2] ^= 0x01
    (tmp_path / "flip.npz").write_bytes(bytes(flipped))
    line = _one_error_line(jm("score", str(a), str(tmp_path / "flip.npz"), cache=cache))
    assert "flip.npz" in line
    assert "is a folder" in _one_error_line(jm("score", str(a), str(tmp_path), cache=cache))
    with np.load(a) as npz:
        np.save(tmp_path / "a.npy", npz["embeddings"])
    line = _one_error_line(jm("score", str(a), str(tmp_path / "a.npy"), cache=cache))
    assert "--assume-compatible" in line
    proc = jm("score", str(a), str(tmp_path / "a.npy"), "--assume-compatible", cache=cache)
    assert proc.returncode == 0 and "fad" in proc.stdout


_WRAPPER = r"""
import os, pathlib, sys, time
marker, mode, argv = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
if mode == "embedding":  # shards of three files; stop for good once the first is written
    from jaxmetrics.audio import set_embedding, store
    set_embedding.SHARD_WINDOWS = 9
    real_write = store.EmbeddingStore.write_shard
    def write_shard(self, *args):
        out = real_write(self, *args)
        marker.write_text(mode)
        time.sleep(600)
    store.EmbeddingStore.write_shard = write_shard
else:  # stop for good once the output's temporary file is written, before its rename
    name = "." + pathlib.Path(argv[argv.index("-o") + 1]).name + "."
    real_fsync = os.fsync
    def fsync(fd):
        if pathlib.Path(os.readlink(f"/proc/self/fd/{fd}")).name.startswith(name):
            marker.write_text(mode)
            time.sleep(600)
        real_fsync(fd)
    os.fsync = fsync
from jaxmetrics.cli import main
sys.exit(main(argv))
"""


def _killed(mode: str, args: list[str], cache: Path, marker: Path) -> None:
    """Run the command until it reaches ``mode``'s stopping point, then SIGKILL it."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRAPPER, str(marker), mode, *args],
        env=env(cache),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 240
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"ended before the kill: {proc.stderr.read().decode()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("never reached the stopping point")
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/fd")
def test_sigkill_while_embedding_and_while_writing(tmp_path, untouched):
    rng = np.random.default_rng(5)
    many = tmp_path / "many"
    for i in range(30):
        _write(many / f"c{i:02d}.wav", synth_clip(rng, seconds=3.0, sr=SR))
    cache, out = tmp_path / "cache", tmp_path / "out.npz"
    args = ["embed", str(many), "-o", str(out), *LOGMEL]
    _killed("embedding", args, cache, tmp_path / "m1")
    assert not out.exists()
    first = jm(*args, cache=cache)
    assert first.returncode == 0, first.stderr
    done = re.search(r"(\d+) windows embedded, (\d+) read from the embedding", first.stdout)
    embedded, cached = int(done[1]), int(done[2])
    assert cached == 9 and embedded == 90 - 9  # the first shard (3 files) survived the kill
    fresh = tmp_path / "fresh.npz"
    assert (
        jm("embed", str(many), "-o", str(fresh), *LOGMEL, "--no-cache", cache=cache).returncode == 0
    )
    with np.load(out) as resumed, np.load(fresh) as whole:
        np.testing.assert_allclose(resumed["embeddings"], whole["embeddings"], rtol=1e-5, atol=1e-5)
        assert list(resumed["files"]) == list(whole["files"])
    previous = out.read_bytes()
    _write(many / "c99.wav", synth_clip(rng, seconds=3.0, sr=SR))  # the next run writes more
    _killed("writing", args, cache, tmp_path / "m2")
    assert out.read_bytes() == previous  # the earlier output is whole and unchanged
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.npz.")]
    assert all(name.endswith(".tmp") for name in leftovers)  # never named like an output
    again = jm(*args, cache=cache)  # c99.wav was cached before the kill: nothing to embed
    assert again.returncode == 0
    assert "0 windows embedded, 93 read from the embedding store" in again.stdout
    with np.load(out) as data:
        assert data["embeddings"].shape == (93, 128)


def test_read_only_folders(data, tmp_path, untouched):
    frozen = tmp_path / "frozen"
    frozen.mkdir()
    for f in (data / "good").iterdir():
        (frozen / f.name).write_bytes(f.read_bytes())
    before = _digest(frozen)
    frozen.chmod(0o555)
    try:
        out = tmp_path / "out.json"
        proc = jm(
            "evaluate",
            str(data / "ref"),
            str(frozen),
            *LOGMEL,
            "--json",
            str(out),
            cache=tmp_path / "cache",
        )
        assert proc.returncode == 0, proc.stderr
        assert _digest(frozen) == before and sorted(p.name for p in frozen.iterdir()) == sorted(
            p.name for p in (data / "good").iterdir()
        )  # read, never written
        if os.geteuid() != 0:  # root may write anywhere: the refusal is for other users
            line = _one_error_line(
                jm(
                    "embed",
                    str(data / "good"),
                    "-o",
                    str(frozen / "x.npz"),
                    *LOGMEL,
                    cache=tmp_path / "cache",
                )
            )
            assert "is not writable" in line
    finally:
        frozen.chmod(0o755)
