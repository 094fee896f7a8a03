"""``jaxmetrics embed -o STORE``, and stores as inputs of ``score`` and ``evaluate`` (subprocesses).

Checks that the numbers from stores are the numbers from ``.npz`` files and
from audio, that a rerun resumes (counting the windows embedded), that stores
of another identity and bad outputs are refused with one ``error:`` line
before any work, and that ``--ray`` writes the store a local run writes.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_run import command, env

from jaxmetrics.audio.store import is_store, open_store
from jaxmetrics.audio.synthetic_audio import synth_clip

sf = pytest.importorskip("soundfile")
pytest.importorskip("librosa")
pytest.importorskip("pyarrow")

SR = 16000
LOGMEL = ["--embedder", "logmel", "--win-dur", "1", "--no-progress"]
ALL = ["--metrics", "fad,kd,prdc"]


def jm(*args: str, cache: Path, prefix: list[str] | None = None, timeout: float = 300):
    """Run the command (or ``prefix`` then its arguments); the completed process."""
    return subprocess.run(
        [*(prefix or command()), *args],
        capture_output=True,
        text=True,
        env=env(cache),
        timeout=timeout,
        check=False,
    )


def _ok(proc) -> str:
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    return proc.stdout


def _one_error_line(proc) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def _write(path: Path, audio: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, SR)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A reference (with one file too short for a window) and a candidate folder of audio."""
    root = tmp_path_factory.mktemp("store-cli")
    rng = np.random.default_rng(17)
    for i in range(8):
        _write(root / "ref" / f"c{i}.wav", synth_clip(rng, seconds=3.0, sr=SR))
    _write(root / "ref" / "short.wav", np.zeros(800))
    for i in range(6):
        noisy = synth_clip(rng, seconds=3.0, sr=SR) + rng.normal(0, 0.1, 3 * SR)
        _write(root / "cand" / f"c{i}.wav", noisy.clip(-1, 1))
    return root


def _embedded(stdout: str) -> tuple[int, int, int]:
    """(windows embedded, files embedded, files already stored) from ``embed``'s summary."""
    found = re.search(
        r"this run embedded (\d+) windows from (\d+) files, (\d+) files were already stored",
        stdout,
    )
    assert found, stdout
    return int(found[1]), int(found[2]), int(found[3])


def _results(path: Path) -> dict:
    return json.loads(path.read_text())["results"]


def test_stores_give_the_numbers_of_npz_files_and_audio(data, tmp_path):
    cache, out = tmp_path / "cache", tmp_path / "out"
    out.mkdir()
    ref, cand = str(data / "ref"), str(data / "cand")
    proc = jm("embed", ref, "-o", str(out / "ref_store"), *LOGMEL, cache=cache)
    assert _embedded(_ok(proc)) == (24, 8, 0)
    assert "skipped 1 of 9 files" in proc.stderr and "short.wav: shorter than one window" in (
        proc.stderr
    )  # listed as the CLI lists skipped files
    assert is_store(out / "ref_store")
    _ok(jm("embed", cand, "-o", str(out / "cand_store"), *LOGMEL, cache=cache))
    _ok(jm("embed", ref, "-o", str(out / "ref.npz"), *LOGMEL, cache=cache))
    _ok(jm("embed", cand, "-o", str(out / "cand.npz"), *LOGMEL, cache=cache))

    def score(a: str, b: str) -> dict:
        js = tmp_path / f"score-{a}-{b}.json"
        _ok(jm("score", str(out / a), str(out / b), "--json", str(js), cache=cache))
        return next(iter(_results(js).values()))

    from_npz = score("ref.npz", "cand.npz")
    assert score("ref_store", "cand_store") == from_npz  # every digit
    assert score("ref.npz", "cand_store") == from_npz  # mixed inputs
    assert score("ref_store", "cand.npz") == from_npz

    def evaluate(a: str, b: str) -> dict:
        js = tmp_path / f"evaluate-{Path(a).name}-{Path(b).name}.json"
        _ok(jm("evaluate", a, b, *LOGMEL, *ALL, "--json", str(js), cache=cache))
        return json.loads(js.read_text())

    from_audio = evaluate(ref, cand)
    from_stores = evaluate(str(out / "ref_store"), str(out / "cand_store"))
    (audio_row,) = from_audio["results"].values()
    (store_row,) = from_stores["results"].values()
    assert store_row == audio_row == from_npz
    assert from_stores["reference"]["windows"] == 24 and from_stores["reference"]["files"] == 8
    (skipped,) = from_stores["reference"]["skipped"]  # recorded in the store, relative path
    assert skipped["path"] == "short.wav" and "shorter than one window" in skipped["reason"]
    (mixed_row,) = evaluate(str(out / "ref_store"), cand)["results"].values()
    assert mixed_row == audio_row


def test_rerun_resumes_and_embeds_only_new_files(data, tmp_path):
    cache, folder, store = tmp_path / "cache", tmp_path / "audio", tmp_path / "store"
    shutil.copytree(data / "cand", folder)
    assert _embedded(_ok(jm("embed", str(folder), "-o", str(store), *LOGMEL, cache=cache))) == (
        18,
        6,
        0,
    )
    again = _ok(jm("embed", str(folder), "-o", str(store), *LOGMEL, cache=cache))
    assert _embedded(again) == (0, 0, 6)
    _write(folder / "new.wav", synth_clip(np.random.default_rng(2), seconds=2.0, sr=SR))
    third = _ok(jm("embed", str(folder), "-o", str(store), *LOGMEL, cache=cache))
    assert _embedded(third) == (2, 1, 6)
    assert "wrote" in third and "20 windows x 128 from 7 files" in third
    assert not cache.exists()  # a store output is its own resume record: no other cache


def test_stores_of_another_identity_are_refused_before_any_work(data, tmp_path):
    cache = tmp_path / "cache"
    one, half = str(tmp_path / "one"), str(tmp_path / "half")
    _ok(jm("embed", str(data / "cand"), "-o", one, *LOGMEL, cache=cache))
    half_opts = ["--embedder", "logmel", "--win-dur", "0.5", "--no-progress"]
    _ok(jm("embed", str(data / "cand"), "-o", half, *half_opts, cache=cache))
    line = _one_error_line(jm("score", one, half, cache=cache))
    assert "window_length: 8000 in " in line and "16000 in " in line
    npz = str(tmp_path / "one.npz")
    _ok(jm("embed", str(data / "cand"), "-o", npz, *LOGMEL, cache=tmp_path / "npz-cache"))
    assert "win_dur" in _one_error_line(jm("score", npz, half, cache=cache))
    # evaluate: the store must match the command line's embedder and window
    line = _one_error_line(jm("evaluate", one, str(data / "ref"), *half_opts, cache=cache))
    assert "another identity than the command line" in line and "window_length" in line
    line = _one_error_line(jm("evaluate", half, one, *half_opts, cache=cache))
    assert f"candidate set {one}" in line
    # embed into an existing store with another window
    before = sorted(p.name for p in Path(one).iterdir())
    line = _one_error_line(jm("embed", str(data / "ref"), "-o", one, *half_opts, cache=cache))
    assert "window_length" in line
    assert sorted(p.name for p in Path(one).iterdir()) == before
    assert not cache.exists()  # nothing was embedded by the refused runs


def test_bad_store_outputs_and_options_are_refused(data, tmp_path):
    cache = tmp_path / "cache"
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    (tmp_path / "plain").write_text("a file")
    store = str(tmp_path / "store")
    _ok(jm("embed", str(data / "cand"), "-o", store, *LOGMEL, cache=cache))
    ref = str(data / "ref")
    cases = [
        (("embed", ref, "-o", str(data / "ref" / "store")), "inside the input folder"),
        (("embed", ref, "-o", str(tmp_path / "busy")), "holding other files"),
        (("embed", ref, "-o", str(tmp_path / "plain")), "is a file; a store is a folder"),
        (("embed", ref, "-o", str(tmp_path / "x.npz"), "--ray"), "not an .npz file"),
        (("embed", ref, "-o", str(tmp_path / "s"), "--workers", "2"), "only used with --ray"),
        (("embed", ref, "-o", str(tmp_path / "s"), "--no-cache"), "its own resume record"),
        (("evaluate", store, ref, "--metrics", "fad,apa", "--context-name", "c"), "apa needs"),
        (("evaluate", ref, store, "--json", f"{store}/r.json"), "inside the input folder"),
    ]
    for args, message in cases:
        assert message in _one_error_line(jm(*args, *LOGMEL, cache=cache)), args
    assert "is a folder" in _one_error_line(jm("score", store, str(tmp_path / "busy"), cache=cache))
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"
    assert (tmp_path / "plain").read_text() == "a file"
    assert not (tmp_path / "s").exists() and not (data / "ref" / "store").exists()


_NO_RAY = """
import sys
sys.modules["ray"] = None  # import ray raises ImportError, as without the extra
from jaxmetrics.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_ray_without_ray_gives_the_install_hint(data, tmp_path):
    out = tmp_path / "store"
    proc = jm(
        "embed",
        str(data / "cand"),
        "-o",
        str(out),
        "--ray",
        *LOGMEL,
        cache=tmp_path / "cache",
        prefix=[sys.executable, "-c", _NO_RAY],
    )
    line = _one_error_line(proc)
    assert "pip install -e '.[ray]'" in line
    assert not out.exists()


@pytest.mark.slow
def test_ray_with_one_worker_writes_the_local_store(data, tmp_path):
    pytest.importorskip("ray.data")
    cache = tmp_path / "cache"
    local, ray = tmp_path / "local", tmp_path / "ray"
    _ok(jm("embed", str(data / "ref"), "-o", str(local), *LOGMEL, cache=cache))
    proc = jm(
        "embed",
        str(data / "ref"),
        "-o",
        str(ray),
        "--ray",
        "--workers",
        "1",
        *LOGMEL,
        cache=cache,
        timeout=600,
    )
    assert _embedded(_ok(proc)) == (24, 8, 0) and "(Ray)" in proc.stdout
    assert "short.wav: shorter than one window" in proc.stderr
    a, b = open_store(local), open_store(ray)
    assert a.identity == b.identity and a.files() == b.files() and a.skipped() == b.skipped()
    ra, rb = a.read(), b.read()
    assert ra.paths.tolist() == rb.paths.tolist() and ra.windows.tolist() == rb.windows.tolist()
    np.testing.assert_allclose(ra.embeddings, rb.embeddings, rtol=0, atol=1e-6)


def test_batch_size_reaches_embed_to_store_and_is_reported(data, tmp_path, monkeypatch, capsys):
    from jaxmetrics.cli import embed_store as cli_embed_store
    from jaxmetrics.cli import main

    seen = []
    real = cli_embed_store.embed_to_store

    def spy(*args, **kwargs):
        seen.append(kwargs["batch_size"])
        return real(*args, **kwargs)

    monkeypatch.setattr(cli_embed_store, "embed_to_store", spy)
    monkeypatch.setenv("JAXMETRICS_OFFLINE", "1")
    cand = str(data / "cand")
    assert main(["embed", cand, "-o", str(tmp_path / "two"), "--batch-size", "2", *LOGMEL]) == 0
    assert "batch size 2)" in capsys.readouterr().out
    assert main(["embed", cand, "-o", str(tmp_path / "auto"), *LOGMEL]) == 0
    assert "batch size 32)" in capsys.readouterr().out  # chosen for the CPU
    assert seen == [2, None]
    two, auto = open_store(tmp_path / "two").read(), open_store(tmp_path / "auto").read()
    assert two.paths.tolist() == auto.paths.tolist()
    np.testing.assert_allclose(two.embeddings, auto.embeddings, rtol=0, atol=1e-6)


def test_batch_size_is_honoured_for_npz_outputs(data, tmp_path):
    out = str(tmp_path / "cand.npz")
    proc = jm("embed", str(data / "cand"), "-o", out, "--batch-size", "3", *LOGMEL, cache=tmp_path)
    assert "batch size 3)" in _ok(proc)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "must be at least 1, got 0"),
        ("-4", "must be at least 1"),
        ("2.5", "expected a whole number, got '2.5'"),
    ],
)
def test_bad_batch_sizes_are_argparse_errors(data, tmp_path, capsys, value, message):
    from jaxmetrics.cli import main

    store = tmp_path / "store"
    with pytest.raises(SystemExit) as exit_:
        main(["embed", str(data / "cand"), "-o", str(store), "--batch-size", value, *LOGMEL])
    assert exit_.value.code == 2
    assert f"argument --batch-size: {message}" in capsys.readouterr().err
    assert not store.exists()
