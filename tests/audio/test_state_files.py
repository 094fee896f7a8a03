"""State files: bad files are ValueErrors naming them; digests; identity; atomic writes."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

import jaxmetrics as jm
from jaxmetrics.audio import npz_files
from jaxmetrics.audio.atomic import write_atomic

pytest.importorskip("librosa")

SR = 16_000


class Toy:
    """A deterministic toy embedder (sample_rate, embed)."""

    name = "toy"
    sample_rate = SR
    scale = 1.0

    def embed(self, audio):
        frames = audio.reshape(audio.shape[0], -1, 400)
        return (self.scale * np.log(np.mean(frames**2, axis=-1)[:, :8] + 1e-6)).astype(np.float32)


class OtherToy(Toy):
    """Same ``name`` as Toy, another function."""

    name = "toy"
    scale = 2.0


def make(metrics=("fad", "kd"), embedder=None, **kw):
    return jm.AudioMetrics(
        list(metrics), embedder=embedder or Toy(), win_dur=0.5, progress=False, **kw
    )


@pytest.fixture(scope="module")
def state(tmp_path_factory):
    rng = np.random.default_rng(0)
    am = make()
    am.add_reference(rng.normal(0, 0.1, (6, SR * 2)).astype(np.float32))
    path = tmp_path_factory.mktemp("state") / "ref.npz"
    am.save_state(path)
    return path


def _load(path, **kw):
    make(**kw).load_state(path)


def test_round_trip_carries_a_digest(state):
    with np.load(state) as data:
        assert int(data["version"]) == 2 and len(str(data["digest"])) == 64
    _load(state)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: b[: len(b) // 2], "damaged or truncated"),
        (lambda b: b"", "empty file"),
        (lambda b: b"just some text\n", "not an .npz"),
    ],
    ids=["truncated", "empty", "text"],
)
def test_damaged_files_are_value_errors_naming_the_file(state, tmp_path, damage, message):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(damage(state.read_bytes()))
    with pytest.raises(ValueError, match=f"bad.npz: .*{message}"):
        _load(bad)


def test_every_flipped_byte_is_refused(state, tmp_path):
    data = state.read_bytes()
    bad = tmp_path / "flip.npz"
    rng = np.random.default_rng(1)
    for pos in rng.choice(len(data), size=40, replace=False):
        flipped = bytearray(data)
        flipped[pos] ^= 0x01
        bad.write_bytes(bytes(flipped))
        try:
            _load(bad)
        except ValueError as err:
            assert "flip.npz" in str(err)
        else:  # a flip in zip padding or an unused header field changes nothing we read
            with np.load(bad) as a, np.load(state) as b:
                assert all(np.array_equal(a[k], b[k]) for k in b.files)


def test_other_files(tmp_path, state):
    np.save(tmp_path / "rows.npy", np.zeros((4, 8)))
    with pytest.raises(ValueError, match="rows.npy: a bare .npy array"):
        _load(tmp_path / "rows.npy")
    with pytest.raises(ValueError, match="is a folder"):
        _load(tmp_path)
    with pytest.raises(ValueError, match="nope.npz: no such file"):
        _load(tmp_path / "nope.npz")
    np.savez(tmp_path / "obj.npz", x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="obj.npz: .*pickled"):
        _load(tmp_path / "obj.npz")
    np.savez(tmp_path / "plain.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="plain.npz: not an AudioMetrics state file"):
        _load(tmp_path / "plain.npz")
    arrays = dict(np.load(state))
    del arrays["version"]
    np.savez(tmp_path / "nover.npz", **arrays)
    with pytest.raises(ValueError, match="nover.npz: .*'version'"):
        _load(tmp_path / "nover.npz")


def _rewrite(state, path, **changes):
    """A state edited after writing, its digest recomputed (so only the content checks see it)."""
    arrays = dict(np.load(state))
    arrays.update(changes)
    arrays.pop("digest")
    npz_files.write_arrays(path, arrays)
    return path


def test_edits_are_found(state, tmp_path):
    arrays = dict(np.load(state))
    edited = dict(arrays, **{"stem.mean": arrays["stem.mean"] + 1.0})
    np.savez(tmp_path / "nodigest.npz", **edited)  # digest left stale
    with pytest.raises(ValueError, match="does not match its digest"):
        _load(tmp_path / "nodigest.npz")
    path = _rewrite(state, tmp_path / "mean.npz", **{"stem.mean": arrays["stem.mean"] + 1.0})
    with pytest.raises(ValueError, match="statistics do not match the stored rows"):
        _load(path)
    big = np.array(arrays["stem.count"] + 5)
    path = _rewrite(state, tmp_path / "count.npz", **{"stem.count": big})
    with pytest.raises(ValueError, match="count .* but the file stores"):
        _load(path)
    no_digest = {k: v for k, v in arrays.items() if k != "digest"}
    np.savez(tmp_path / "stripped.npz", **no_digest)
    with pytest.raises(ValueError, match="lacks its content digest"):
        _load(tmp_path / "stripped.npz")


def test_version_1_files_still_load(state, tmp_path):
    arrays = {k: v for k, v in np.load(state).items() if k != "digest"}
    arrays["version"] = np.array(1)
    np.savez(tmp_path / "v1.npz", **arrays)
    _load(tmp_path / "v1.npz")


def test_another_embedder_of_the_same_name_is_refused(state):
    assert make().embedder_identity != make(embedder=OtherToy()).embedder_identity
    with pytest.raises(ValueError, match="embedder="):
        _load(state, embedder=OtherToy())


def test_save_is_atomic(state, tmp_path):
    target = tmp_path / "keep.npz"
    target.write_bytes(state.read_bytes())

    def crash(f):
        f.write(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, crash)
    assert target.read_bytes() == state.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["keep.npz"]  # no temporary file left
    with pytest.raises(FileNotFoundError):
        make().save_state(tmp_path / "nodir" / "x.npz")
    assert zipfile.is_zipfile(target)


def test_atomic_writes_get_the_mode_a_plain_open_would_give(tmp_path):
    """mkstemp's private 0600 must not leak into reports and CSVs meant to be shared."""
    import os

    from jaxmetrics.audio.atomic import write_text_atomic

    old = os.umask(0o022)
    try:
        fresh = write_text_atomic(tmp_path / "new.csv", "a\n")
        assert fresh.stat().st_mode & 0o777 == 0o644
        kept = tmp_path / "kept.csv"
        kept.write_text("old\n")
        kept.chmod(0o640)
        write_text_atomic(kept, "new\n")
        assert kept.stat().st_mode & 0o777 == 0o640
        assert kept.read_text() == "new\n"
    finally:
        os.umask(old)
