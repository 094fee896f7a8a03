"""Finding audio files: each file once, links that loop or dangle listed, globs, per-song pairs."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from jaxmetrics.audio.files import InputError, discover_audio, find_audio, pair_by_song

sf = pytest.importorskip("soundfile")


def _wav(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.zeros(160), 16000)


@pytest.fixture
def tree(tmp_path):
    _wav(tmp_path / "a" / "x.wav")
    _wav(tmp_path / "a" / "sub" / "y.flac")
    (tmp_path / "a" / "notes.txt").write_text("not audio")
    _wav(tmp_path / "a" / ".hidden.wav")
    os.symlink(".", tmp_path / "a" / "me")  # a loop
    os.symlink("..", tmp_path / "a" / "sub" / "up")  # another loop
    os.symlink("sub", tmp_path / "a" / "again")  # a second way into sub/
    os.symlink("gone.wav", tmp_path / "a" / "dangling.wav")
    os.symlink("x.wav", tmp_path / "a" / "alias.wav")
    os.symlink("self", tmp_path / "a" / "self")
    return tmp_path


def _names(paths, root):
    return sorted(str(p.relative_to(root)) for p in paths)


@pytest.mark.parametrize("pattern", ["a", "a/**/*.wav", "a/**/*"])
def test_each_file_once_and_what_was_left_out(tree, pattern):
    start = time.monotonic()
    found = discover_audio(str(tree / pattern))
    assert time.monotonic() - start < 10  # loops end (they used to hang)
    names = _names(found.files, tree)
    expected = ["a/.hidden.wav", "a/sub/y.flac", "a/x.wav"] if pattern == "a" else None
    if pattern == "a/**/*.wav":
        expected = ["a/x.wav"]  # wildcards skip hidden names, as glob does
    if pattern == "a/**/*":
        expected = ["a/sub/y.flac", "a/x.wav"]
    assert names == expected
    reasons = {os.path.basename(s.path): s.reason for s in found.skipped}
    assert "broken link" in reasons["dangling.wav"]
    assert "symbolic link loop" in reasons["self"]
    assert "already searched" in reasons["me"]
    assert "same file as" in reasons["alias.wav"]  # kept as x.wav, not through the link
    assert "already searched" in reasons["again"]  # sub/ is searched under its own name


def test_glob_depth_and_errors(tree):
    assert _names(find_audio(str(tree / "a" / "*.wav")), tree) == ["a/x.wav"]
    assert _names(find_audio(str(tree / "a" / "*" / "*.flac")), tree) == ["a/sub/y.flac"]
    with pytest.raises(InputError, match="no such file or folder"):
        find_audio(str(tree / "nope"))
    with pytest.raises(InputError, match="no audio files found"):
        find_audio(str(tree / "a" / "*.mp3"))
    assert find_audio(str(tree / "a" / "x.wav")) == [tree / "a" / "x.wav"]


def test_pair_by_song(tmp_path):
    for song in ("s1", "s2"):
        _wav(tmp_path / song / "context.wav")
        _wav(tmp_path / song / "stem.wav")
    _wav(tmp_path / "s2" / "bass.flac")
    _wav(tmp_path / "lonely" / "stem.wav")
    pairs, skipped = pair_by_song(find_audio(str(tmp_path)), "context")
    got = sorted((str(s.relative_to(tmp_path)), str(c.relative_to(tmp_path))) for s, c in pairs)
    assert got == [
        ("s1/stem.wav", "s1/context.wav"),
        ("s2/bass.flac", "s2/context.wav"),
        ("s2/stem.wav", "s2/context.wav"),
    ]
    assert [os.path.relpath(s.path, tmp_path) for s in skipped] == ["lonely/stem.wav"]
    assert "no context.* file" in skipped[0].reason
