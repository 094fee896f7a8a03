"""Weight resolution, atomic download, safe loading: all offline (a loopback HTTP server)."""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path

import pytest
from emb_helpers import need

import embedders
from embedders._weights import WeightFile, download, load_checkpoint, resolve_weights

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        if self.path == "/short":  # announces more than it sends, then hangs up
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD) + 10))
            self.end_headers()
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 2])
            return
        if self.path != "/file.bin":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        self.wfile.write(PAYLOAD)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _spec(url: str, sha: str | None = None) -> WeightFile:
    return WeightFile("file.bin", url, sha)


def test_resolution_order(tmp_path, monkeypatch):
    explicit = tmp_path / "explicit.bin"
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    cache = embedders.cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    spec = _spec("http://127.0.0.1:9/unused")
    for path in (explicit, env_dir / "file.bin", cache / "file.bin"):
        path.write_bytes(b"x")
    monkeypatch.setenv("JAXMETRICS_WEIGHTS", str(env_dir))
    assert resolve_weights(spec, explicit) == explicit
    assert resolve_weights(spec) == env_dir / "file.bin"
    (env_dir / "file.bin").unlink()
    assert resolve_weights(spec) == cache / "file.bin"
    (cache / "file.bin").unlink()
    with pytest.raises(embedders.WeightsNotFoundError) as err:
        resolve_weights(spec)  # JAXMETRICS_OFFLINE=1 from conftest
    message = str(err.value)
    assert "file.bin" in message and spec.url in message
    assert str(env_dir) in message and str(cache) in message
    with pytest.raises(FileNotFoundError, match="missing.bin"):
        resolve_weights(spec, tmp_path / "missing.bin")


def test_cache_dir_follows_platformdirs(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert embedders.cache_dir() == tmp_path / "jaxmetrics" / "weights"


def test_download_into_cache(server, monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("JAXMETRICS_OFFLINE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    sha = hashlib.sha256(PAYLOAD).hexdigest()[:8]
    path = resolve_weights(_spec(f"{server}/file.bin", sha))
    assert path == tmp_path / "jaxmetrics" / "weights" / "file.bin"
    assert path.read_bytes() == PAYLOAD
    assert "downloading file.bin" in capsys.readouterr().err  # the progress bar
    assert [p.name for p in path.parent.iterdir()] == ["file.bin"]


@pytest.mark.parametrize(
    ("route", "sha", "match"),
    [("/short", None, "IncompleteRead|stopped at"), ("/file.bin", "deadbeef", "SHA-256")],
    ids=["interrupted", "wrong-hash"],
)
def test_failed_download_leaves_no_file(server, tmp_path, route, sha, match):
    dest = tmp_path / "weights" / "file.bin"
    with pytest.raises(Exception, match=match):
        download(_spec(server + route, sha), dest)
    assert not dest.parent.exists()  # no partial file, and no folder made for it
    (tmp_path / "kept").mkdir()
    with pytest.raises(Exception, match=match):
        download(_spec(server + route, sha), tmp_path / "kept" / "file.bin")
    assert list((tmp_path / "kept").iterdir()) == []  # a folder that existed stays


def test_unreachable_server_names_file_and_url(monkeypatch):
    monkeypatch.delenv("JAXMETRICS_OFFLINE")
    spec = _spec("http://127.0.0.1:9/file.bin")  # discard port: connection refused
    existed = embedders.cache_dir().exists()
    with pytest.raises(embedders.WeightsNotFoundError, match=r"file\.bin.*127\.0\.0\.1:9") as err:
        resolve_weights(spec)
    assert embedders.cache_dir().exists() == existed  # no empty cache folder left behind
    assert not (embedders.cache_dir() / "file.bin").exists()
    assert "--weights PATH" in str(err.value) and "explicitly" not in str(err.value)


class Payload:  # not allowed by weights_only loading
    def __reduce__(self):
        return (print, ("this must never run",))


def test_load_checkpoint_refuses_arbitrary_objects(tmp_path, capsys):
    torch = need("torch")
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "obj": Payload()}, path)
    with pytest.raises(ValueError, match="not a plain torch checkpoint") as err:
        load_checkpoint(path)
    assert "weights_only" not in str(err.value)  # never advise unpickling the file
    assert "must never run" not in capsys.readouterr().out


def test_load_checkpoint_corrupt_never_advises_unpickling(tmp_path):
    need("torch")
    path = tmp_path / "noise.pt"
    path.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(ValueError) as err:
        load_checkpoint(path)
    assert "weights_only" not in str(err.value) and "noise.pt" in str(err.value)


def test_load_checkpoint_truncated(tmp_path):
    torch = need("torch")
    path = tmp_path / "cut.pt"
    torch.save({"w": torch.zeros(1000)}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_checkpoint(path)


def test_vggish_weights_spec():
    assert embedders.VGGISH_WEIGHTS.filename == "vggish-10086976.pth"
    assert embedders.VGGISH_WEIGHTS.sha256_prefix == "10086976"
    names = {k: v.filename for k, v in embedders.CLAP_CHECKPOINTS.items()}
    assert names == {
        "music": "music_audioset_epoch_15_esc_90.14.pt",
        "music-speech": "music_speech_audioset_epoch_15_esc_89.98.pt",
    }
    for spec in embedders.CLAP_CHECKPOINTS.values():
        assert spec.url == "https://huggingface.co/lukewys/laion_clap/resolve/main/" + spec.filename


def test_missing_weights_never_fall_back(tmp_path, monkeypatch):
    need("torch")
    monkeypatch.setenv("JAXMETRICS_WEIGHTS", str(tmp_path))
    with pytest.raises(embedders.WeightsNotFoundError, match="vggish-10086976.pth"):
        embedders.get("vggish")
    assert not Path(tmp_path / "vggish-10086976.pth").exists()
