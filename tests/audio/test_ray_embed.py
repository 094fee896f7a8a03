"""Embedding extraction on Ray Data writes the store the in-process writer writes.

Small on purpose (a 2-core machine): logmel, a few short files, one local Ray
instance for the module; the 2-node cluster test starts its own.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pq = pytest.importorskip("pyarrow.parquet")
sf = pytest.importorskip("soundfile")
pytest.importorskip("librosa")
ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")
psutil = pytest.importorskip("psutil")

from jaxmetrics import AudioMetrics  # noqa: E402
from jaxmetrics.audio import ray_embed  # noqa: E402
from jaxmetrics.audio.embed_store import embed_to_store  # noqa: E402
from jaxmetrics.audio.store import open_store  # noqa: E402

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
WIN = 1.0


def _write_folder(root: Path, n: int, seconds: float = 2.5, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for i in range(n):
        sr = 16000 if i % 2 else 22050
        folder = root / ("a-b" if i % 3 == 0 else "a")
        folder.mkdir(parents=True, exist_ok=True)
        audio = rng.normal(0, 0.1 * (1 + i % 3), int(sr * (seconds + i % 4))).astype(np.float32)
        sf.write(folder / f"f{i:02d}.wav", audio, sr)
    sf.write(root / "short.wav", np.zeros(800, np.float32), 16000)
    (root / "corrupt.wav").write_bytes(b"not audio")


def _embed(root: Path, store: Path, **kwargs):
    kwargs = {"embedder": "logmel", "win_dur": WIN, "progress": False, **kwargs}
    return embed_to_store(str(root), store, **kwargs)


def _same_store(a: Path, b: Path) -> None:
    sa, sb = open_store(a), open_store(b)
    ra, rb = sa.read(), sb.read()
    np.testing.assert_array_equal(ra.paths, rb.paths)
    np.testing.assert_array_equal(ra.windows, rb.windows)
    # the embedders are batch-invariant (tests/embedders): equal to float32 rounding
    np.testing.assert_allclose(ra.embeddings, rb.embeddings, rtol=0, atol=1e-6)
    assert sa.files() == sb.files() and sa.skipped() == sb.skipped()


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("audio")
    _write_folder(root, 10)
    return root


@pytest.fixture(scope="module")
def local_store(folder, tmp_path_factory) -> Path:
    store = tmp_path_factory.mktemp("local") / "store"
    _embed(folder, store, files_per_shard=3)
    return store


@pytest.fixture(scope="module")
def local_ray():
    if ray.is_initialized():
        ray.shutdown()
    # 3 logical CPUs: two CPU actors and the decoding tasks share the 2 cores
    ray.init(num_cpus=3, include_dashboard=False, logging_level="WARNING")
    yield ray
    ray.shutdown()


@pytest.mark.parametrize("workers", [1, 2])
def test_ray_store_equals_in_process_store(folder, local_store, local_ray, tmp_path, workers):
    store = tmp_path / "store"
    report = _embed(folder, store, files_per_shard=3, executor="ray", workers=workers)
    _same_store(store, local_store)
    # the same groups of files in the same shards as the in-process writer
    rows_per_shard = [[pq.read_metadata(p).num_rows for p in open_store(s).shards()]
                      for s in (store, local_store)]  # fmt: skip
    assert rows_per_shard[0] == rows_per_shard[1] and len(rows_per_shard[0]) == 4
    assert (report.files, len(report.skipped)) == (10, 2)
    assert report.windows == open_store(local_store).windows
    assert report.batch_size == 32  # none given: each CPU actor chose the CPU size
    candidate = np.random.default_rng(3).normal(0, 0.2, (5, 16000 * 3)).astype(np.float32)
    results = []
    for s in (store, local_store):
        am = AudioMetrics(["fad", "kd", "prdc"], embedder="logmel", win_dur=WIN, progress=False)
        am.add_reference(s)
        results.append(am.evaluate(candidate))
    assert results[0] == results[1]


def test_ray_run_resumes_with_only_missing_files(folder, local_store, local_ray, tmp_path):
    store = tmp_path / "store"
    shutil.copytree(local_store, store)
    last = open_store(store).shards()[-1]
    st = open_store(store)
    lost = st.windows
    last.unlink()
    lost -= open_store(store).windows
    assert lost > 0
    report = _embed(folder, store, files_per_shard=3, executor="ray", workers=1)
    assert report.windows == lost and report.already_stored == 12 - 2 - 1
    _same_store(store, local_store)
    assert _embed(folder, store, executor="ray").windows == 0  # nothing pending


def test_killed_embedding_actor_is_replaced_and_every_file_written_once(local_ray, tmp_path):
    root = tmp_path / "audio"
    _write_folder(root, 24, seconds=2.0, seed=1)
    clean = tmp_path / "clean"
    _embed(root, clean, files_per_shard=1)
    store = tmp_path / "store"
    killed: list[tuple[int, int]] = []

    def kill_an_actor() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            shards = len(list(store.glob("part-*"))) if store.exists() else 0
            if shards >= 2:
                for proc in psutil.Process().children(recursive=True):
                    try:
                        if "MapWorker" in " ".join(proc.cmdline()):
                            proc.send_signal(signal.SIGKILL)
                            killed.append((proc.pid, shards))
                            return
                    except psutil.Error:
                        continue
            time.sleep(0.05)

    killer = threading.Thread(target=kill_an_actor, daemon=True)
    killer.start()
    # one actor, two windows a batch: many small tasks, so the kill lands mid-job
    report = _embed(root, store, files_per_shard=1, batch_size=2, executor="ray", workers=1)
    killer.join()
    assert killed, "no embedding actor was found to kill"
    assert killed[0][1] < 26  # killed before the last shard was written
    assert report.files == 24 and report.batch_size == 2  # the given size, in the actor too
    _same_store(store, clean)
    assert len(open_store(store).shards()) == 26  # each file in exactly one shard


def test_missing_ray_gives_the_install_hint(monkeypatch, folder, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r"pip install -e '\.\[ray\]' in the jaxmetrics checkout"):
        ray_embed.require_ray()
    with pytest.raises(ImportError, match=r"'\.\[ray\]'"):
        _embed(folder, tmp_path / "store", executor="ray")
    assert not (tmp_path / "store").exists()
    with pytest.raises(TypeError, match="needs an embedder name"):
        _embed(folder, tmp_path / "other", executor="ray", embedder=object())
    assert not (tmp_path / "other").exists()


def test_in_process_writer_never_imports_ray(folder, tmp_path):
    code = (
        "import sys; from jaxmetrics.audio.embed_store import embed_to_store; "
        f"embed_to_store({str(folder)!r}, {str(tmp_path / 's')!r}, embedder='logmel', "
        "win_dur=1.0, progress=False); "
        "from jaxmetrics import AudioMetrics; import jaxmetrics.audio.ray_embed; "
        "assert 'ray' not in sys.modules, 'ray imported'"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_two_node_cluster_store_equals_in_process(folder, local_store, tmp_path):
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    try:
        cluster.add_node(num_cpus=2)
        ray.init(address=cluster.address, logging_level="WARNING")
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2
        store = tmp_path / "store"
        report = _embed(folder, store, files_per_shard=3, executor="ray", workers=2)
        assert report.files == 10
        _same_store(store, local_store)
    finally:
        ray.shutdown()
        cluster.shutdown()
