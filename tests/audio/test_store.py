"""The Parquet embedding store: round trip, identity, resume after a kill, streamed statistics."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pq = pytest.importorskip("pyarrow.parquet")
sf = pytest.importorskip("soundfile")
pytest.importorskip("librosa")

from jaxmetrics import AudioMetrics, gaussian_stats  # noqa: E402
from jaxmetrics.audio.embed_store import embed_to_store, list_audio  # noqa: E402
from jaxmetrics.audio.files import AudioFiles, find_audio  # noqa: E402
from jaxmetrics.audio.state import EmbeddingSet  # noqa: E402
from jaxmetrics.audio.store import (  # noqa: E402
    STATS_CHUNK,
    FileEmbeddings,
    StoreIdentity,
    is_store,
    open_store,
)

REPO = Path(__file__).resolve().parents[2]
WIN = 1.0  # seconds; logmel runs at 16 kHz


def _write_folder(root: Path, n: int = 7, seed: int = 0) -> None:
    """n noise files (16 and 22.05 kHz, in two sub-folders), a too-short one and a corrupt one."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        sr = 16000 if i % 2 else 22050
        folder = root / ("a-b" if i % 3 == 0 else "a")  # "a-b" < "a/" as strings, not as paths
        folder.mkdir(parents=True, exist_ok=True)
        audio = rng.normal(0, 0.1 * (1 + i % 3), int(sr * (1.5 + i))).astype(np.float32)
        sf.write(folder / f"f{i}.wav", audio, sr)
    sf.write(root / "short.wav", np.zeros(800, np.float32), 16000)
    (root / "corrupt.wav").write_bytes(b"not audio")


def _in_process(root: Path) -> tuple[np.ndarray, AudioFiles]:
    am = AudioMetrics(["kd"], embedder="logmel", win_dur=WIN, progress=False)
    reader = AudioFiles(find_audio(str(root)), am.sample_rate, am.window_length, am.win_dur)
    return am.embed_stems(reader), reader


def _embed(root: Path, store: Path, **kwargs):
    kwargs = {"embedder": "logmel", "win_dur": WIN, "progress": False, **kwargs}
    return embed_to_store(str(root), store, **kwargs)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("audio")
    _write_folder(root)
    return root


@pytest.fixture(scope="module")
def reference(folder):
    return _in_process(folder)


def test_round_trip_equals_in_process_pipeline(folder, reference, tmp_path):
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    report = _embed(folder, tmp_path / "store", files_per_shard=3)
    expected, reader = reference
    rows = report.store.read()
    # same windows, same order (find_audio's), same embedder calls: the same numbers
    np.testing.assert_allclose(rows.embeddings, expected, rtol=0, atol=1e-6)
    assert rows.embeddings.dtype == np.float32
    used = [Path(p).relative_to(folder).as_posix() for p in reader.used]
    assert list(dict.fromkeys(rows.paths)) == used
    assert list(np.bincount(np.unique(rows.paths, return_inverse=True)[1])) == [
        reader.windows_per_file[used.index(p)] for p in sorted(set(used))
    ]
    assert report.files == len(used) and report.windows == len(expected)
    # skipped files recorded with the in-process pipeline's reasons
    in_process = sorted(
        (Path(s.path).relative_to(folder).as_posix(), s.reason) for s in reader.skipped
    )
    assert sorted(report.skipped) == in_process
    assert sorted(open_store(tmp_path / "store").skipped()) == in_process
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
    # selected files, in store order whatever order they are asked in
    pick = [used[3], used[0]]
    part = report.store.read(pick)
    assert list(dict.fromkeys(part.paths)) == sorted(pick, key=lambda r: tuple(r.split("/")))


def test_readable_by_plain_pyarrow_and_pandas(folder, reference, tmp_path):
    _embed(folder, tmp_path / "store", files_per_shard=2)
    table = pq.read_table(tmp_path / "store")
    assert table.column_names == ["path", "digest", "window", "start", "embedding"]
    kind = table.schema.field("embedding").type
    assert (kind.list_size, str(kind.value_type)) == (128, "float")
    schema = pq.read_schema(next((tmp_path / "store").glob("part-*")))
    identity = json.loads(schema.metadata[b"jaxmetrics.store"])["identity"]
    assert identity["embedder"].startswith("logmel") and identity["window_length"] == 16000
    pd = pytest.importorskip("pandas")
    df = pd.read_parquet(tmp_path / "store")
    df["parts"] = df["path"].map(lambda p: tuple(p.split("/")))
    df = df.sort_values(["parts", "window"])
    np.testing.assert_array_equal(np.stack(df["embedding"].to_numpy()), reference[0])
    assert (df["start"] == df["window"] * 16000).all()


def test_identity_mismatch_is_refused(folder, tmp_path):
    store = tmp_path / "store"
    _embed(folder, store, files_per_shard=4)
    with pytest.raises(ValueError, match=r"store.*window_length: 32000 requested, store has 16000"):
        _embed(folder, store, win_dur=2.0)
    am = AudioMetrics(["fad"], embedder="logmel", win_dur=2.0, progress=False)
    with pytest.raises(ValueError, match=rf"{store}.*window_length: 32000 != 16000"):
        am.add_reference(store)
    other = StoreIdentity(**{**open_store(store).identity._asdict(), "jaxmetrics_version": "0.0"})
    with pytest.raises(ValueError, match=r"jaxmetrics_version: '0.0' requested"):
        open_store(store, other)
    # a shard written with another identity (copied in from another store) is refused on read
    alien = open_store(tmp_path / "alien", other)
    alien.write_shard([FileEmbeddings("x.wav", "00", np.ones((2, 128), np.float32))])
    shutil.copy(alien.shards()[0], store / "part-00000099-0000beef.parquet")
    with pytest.raises(ValueError, match=r"part-00000099-0000beef.parquet.*jaxmetrics_version"):
        open_store(store).read()


def test_bad_input_is_refused_before_work(folder, tmp_path):
    user = tmp_path / "not-a-store"
    user.mkdir()
    (user / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not an embedding store"):
        _embed(folder, user)
    assert [p.name for p in user.iterdir()] == ["notes.txt"]
    with pytest.raises(ValueError, match="files_per_shard must be a positive int"):
        _embed(folder, tmp_path / "s", files_per_shard=0)
    with pytest.raises(ValueError, match="executor must be one of"):
        _embed(folder, tmp_path / "s", executor="dask")
    with pytest.raises(ValueError, match="workers must be a positive int"):
        _embed(folder, tmp_path / "s", workers=0)
    with pytest.raises(ValueError, match="num_gpus must be None or a number >= 0"):
        _embed(folder, tmp_path / "s", num_gpus=-1)
    assert not (tmp_path / "s").exists()
    with pytest.raises(ValueError, match="not a jaxmetrics embedding store"):
        open_store(tmp_path / "missing")
    with pytest.raises(TypeError, match="identity must be a StoreIdentity"):
        open_store(tmp_path / "s", identity=3)
    store = open_store(tmp_path / "s2", StoreIdentity("e", "", "", 4, 16000))
    store.write_shard([FileEmbeddings("a.wav", "d", np.zeros((1, 3), np.float32))])
    with pytest.raises(ValueError, match="embedding dim 4, the store has 3"):
        store.write_shard([FileEmbeddings("b.wav", "d", np.zeros((1, 4), np.float32))])
    with pytest.raises(ValueError, match="not in the store"):
        store.read(["b.wav"])


def test_changed_file_is_embedded_again(folder, tmp_path):
    root = tmp_path / "audio"
    shutil.copytree(folder, root)
    store = tmp_path / "store"
    first = _embed(root, store, files_per_shard=3)
    assert _embed(root, store).windows == 0  # nothing pending: nothing embedded
    changed = root / "a" / "f1.wav"
    sf.write(changed, np.random.default_rng(9).normal(0, 0.3, 16000 * 3).astype(np.float32), 16000)
    (root / "a" / "f2.wav").write_bytes(b"now corrupt")
    again = _embed(root, store, files_per_shard=3)
    assert (again.files, again.windows) == (1, 3)
    assert again.already_stored == first.files + len(first.skipped) - 2
    assert [s.path for s in again.skipped] == ["a/f2.wav"]
    expected, reader = _in_process(root)
    st = open_store(store)
    rows = st.read()
    np.testing.assert_allclose(rows.embeddings, expected, rtol=0, atol=1e-6)
    # f1 had 2 windows, now 3; f2 had 3, now none
    assert len(rows.embeddings) == first.windows - 2 + 3 - 3
    assert sorted(s.path for s in st.skipped()) == ["a/f2.wav", "corrupt.wav", "short.wav"]
    # the older rows were dropped from the folder: plain readers see each file once
    table = pq.read_table(store)
    assert table.num_rows == len(expected)
    assert set(table.column("path").to_pylist()) == set(st.files())
    assert st.compact() == 0


def test_partial_temporary_file_is_ignored_and_removed(folder, reference, tmp_path):
    store = tmp_path / "store"
    _embed(folder, store, files_per_shard=3)
    shard = open_store(store).shards()[-1]
    partial = store / f".{shard.name}.k2j4x9.tmp"
    partial.write_bytes(shard.read_bytes()[:200])  # a writer killed half-way through
    shard.unlink()
    st = open_store(store)
    assert 0 < st.windows < len(reference[0])
    pq.read_table(store)  # plain pyarrow skips the hidden temporary
    rerun = _embed(folder, store, files_per_shard=3)
    assert not partial.exists()
    assert rerun.windows == len(reference[0]) - st.windows
    np.testing.assert_allclose(open_store(store).read().embeddings, reference[0], atol=1e-6)


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    import pyarrow.parquet as pq
    from jaxmetrics.audio.embed_store import embed_to_store

    calls = []
    write_table = pq.write_table

    def dying_write(table, where, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # the third shard: half its bytes written, then SIGKILL
            where.write(b"PAR1" + bytes(1000))
            where.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        return write_table(table, where, **kwargs)

    pq.write_table = dying_write
    embed_to_store(sys.argv[1], sys.argv[2], embedder="logmel", win_dur=1.0,
                   files_per_shard=2, progress=False)
    """
)


def test_writer_killed_mid_shard_resumes_with_only_missing_windows(folder, reference, tmp_path):
    store = tmp_path / "store"
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, str(folder), str(store)], env=env, capture_output=True
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    names = sorted(p.name for p in store.iterdir())
    assert len([n for n in names if n.startswith("part-")]) == 2
    assert len([n for n in names if n.startswith(".part-")]) == 1  # the shard being written
    st = open_store(store)
    stored = st.windows
    assert len(st.files()) == 4 and 0 < stored < len(reference[0])
    assert pq.read_table(store).num_rows == stored
    rerun = _embed(folder, store, files_per_shard=2)
    assert rerun.windows == len(reference[0]) - stored
    assert rerun.already_stored == 4
    np.testing.assert_allclose(open_store(store).read().embeddings, reference[0], atol=1e-6)
    assert not [p for p in store.iterdir() if p.name.startswith(".")]


def _synthetic_store(path: Path, rows: np.ndarray, sizes: list[int], per_shard: int):
    st = open_store(path, StoreIdentity("synthetic", "", "", 16000, 16000))
    files, start = [], 0
    for i, n in enumerate(sizes):
        files.append(FileEmbeddings(f"d{i % 3}/f{i:03d}.wav", f"{i:032x}", rows[start : start + n]))
        start += n
    order = sorted(range(len(files)), key=lambda i: tuple(files[i].rel.split("/")))
    shuffled = [files[i] for i in np.random.default_rng(1).permutation(len(files))]
    for at in range(0, len(shuffled), per_shard):
        st.write_shard(shuffled[at : at + per_shard])
    return st, np.concatenate([files[i].embeddings for i in order])


def test_streamed_stats_equal_gaussian_stats_of_all_rows(tmp_path):
    rng = np.random.default_rng(0)
    sizes = list(rng.integers(1, 400, size=23))
    rows = (rng.normal(size=(sum(sizes), 16)) * rng.uniform(0.1, 3, 16) + 5).astype(np.float32)
    st, ordered = _synthetic_store(tmp_path / "a", rows, sizes, per_shard=4)
    assert sum(sizes) > 3 * STATS_CHUNK
    np.testing.assert_array_equal(st.read().embeddings, ordered)
    streamed = st.stats()
    whole = gaussian_stats(ordered.astype(np.float64))
    assert int(streamed.count) == len(ordered)
    # float64 sums of float32 data: rounding O(n eps64) relative to the scale of x and x x^T
    np.testing.assert_allclose(streamed.mean, whole.mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(streamed.covariance, whole.covariance, rtol=1e-10, atol=1e-10)
    # the same chunks as the in-process pipeline folds: the same operations, the same bits,
    # whatever the sharding
    folded = EmbeddingSet(False)
    for at in range(0, len(ordered), 100):
        folded.add(ordered[at : at + 100])
    other, _ = _synthetic_store(tmp_path / "b", rows, sizes, per_shard=9)
    for s in (folded.stats(), other.stats()):
        for a, b in zip(streamed, s, strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_audio_metrics_reference_from_store_equals_audio(folder, tmp_path):
    store = tmp_path / "store"
    _embed(folder, store, files_per_shard=3)
    candidate = np.random.default_rng(5).normal(0, 0.2, (6, 16000 * 3)).astype(np.float32)
    for metrics in (["fad"], ["fad", "kd", "prdc"]):
        from_audio = AudioMetrics(metrics, embedder="logmel", win_dur=WIN, progress=False)
        from_audio.add_reference(AudioFiles(find_audio(str(folder)), 16000, 16000, WIN))
        from_store = AudioMetrics(metrics, embedder="logmel", win_dur=WIN, progress=False)
        from_store.add_reference(store)
        assert from_store.reference_windows == from_audio.reference_windows
        assert from_store.evaluate(candidate) == from_audio.evaluate(candidate)
        # a store as the candidate too
        files = AudioFiles(find_audio(str(folder)), 16000, 16000, WIN)
        assert from_store.evaluate(store) == from_audio.evaluate(files)
    apa = AudioMetrics(["apa"], embedder="logmel", win_dur=WIN, progress=False)
    with pytest.raises(ValueError, match="apa needs the reference audio"):
        apa.add_reference(store)
    assert is_store(store) and not is_store(folder)
    with pytest.raises(ValueError, match="not a jaxmetrics embedding store"):
        from_store.evaluate(str(folder))  # a folder of audio is not a store


def test_files_through_fsspec_memory_filesystem(folder, reference, tmp_path):
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    for p in folder.rglob("*.wav"):
        fs.pipe(f"/jm-test/{p.relative_to(folder).as_posix()}", p.read_bytes())
    try:
        files, root = list_audio("memory://jm-test")
        assert len(files) == 9 and root == "memory:///jm-test"
        report = embed_to_store(
            "memory://jm-test", tmp_path / "store", embedder="logmel", win_dur=WIN, progress=False
        )
        np.testing.assert_allclose(report.store.read().embeddings, reference[0], atol=1e-6)
        assert {s.path for s in report.skipped} == {"short.wav", "corrupt.wav"}
        assert _embed_remote_again(tmp_path / "store").windows == 0
    finally:
        fs.rm("/jm-test", recursive=True)


def _embed_remote_again(store: Path):
    return embed_to_store("memory://jm-test", store, embedder="logmel", win_dur=WIN, progress=False)
