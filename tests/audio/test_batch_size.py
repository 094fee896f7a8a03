"""The batch size chosen for a device (jaxmetrics.audio.batch_size), with fake devices."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from jaxmetrics.audio import batch_size as bs
from jaxmetrics.audio.batch_size import (
    CPU_BATCH_SIZE,
    GPU_BATCH_CAP,
    batch_size_for,
    default_batch_size,
    device_kind,
    window_bytes,
)

GIB = 2**30


def test_off_cuda_or_with_unknown_memory_the_cpu_size():
    assert CPU_BATCH_SIZE == 32
    for kind in ("cpu", "mps", "xla"):
        assert default_batch_size(kind, 100 * GIB, 1) == CPU_BATCH_SIZE
    assert default_batch_size("cuda", None, 1000) == CPU_BATCH_SIZE


def test_cuda_fills_the_share_of_free_memory_within_the_cap():
    per = window_bytes(16000 * 5)  # a 5 s window at 16 kHz
    assert per == 4 * 16000 * 5 * bs.WINDOW_BYTES_FACTOR
    free = 10 * per  # half of it: 5 windows
    assert default_batch_size("cuda", free, per) == int(free * bs.GPU_MEMORY_SHARE // per) == 5
    assert default_batch_size("cuda", 139 * GIB, per) == GPU_BATCH_CAP  # a large GPU: the cap
    assert default_batch_size("cuda", per // 10, per) == 1  # a full GPU: one window at a time
    assert default_batch_size("cuda", 0, per) == 1
    sizes = [default_batch_size("cuda", f * GIB, per) for f in (1, 2, 4, 8, 16, 32)]
    assert sizes == sorted(sizes)  # more free memory never gives a smaller batch


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="bytes_per_window"):
        default_batch_size("cuda", GIB, 0)
    with pytest.raises(ValueError, match="free_bytes"):
        default_batch_size("cuda", -1, 10)


def test_device_kind_of_embedders():
    assert device_kind(object()) == "cpu"  # no device attribute (logmel, user objects)
    assert device_kind(SimpleNamespace(device="cuda:1")) == "cuda"
    assert device_kind(SimpleNamespace(device=SimpleNamespace(type="mps"))) == "mps"


def test_batch_size_for_asks_the_embedders_device(monkeypatch):
    asked = []

    class FakeCuda:
        @staticmethod
        def mem_get_info(device):
            asked.append(device)
            return 8 * GIB, 80 * GIB

    import sys

    monkeypatch.setitem(sys.modules, "torch", SimpleNamespace(cuda=FakeCuda))
    metrics = SimpleNamespace(embedder=SimpleNamespace(device="cuda:0"), window_length=240000)
    want = default_batch_size("cuda", 8 * GIB, window_bytes(240000))
    assert batch_size_for(metrics) == want and asked == ["cuda:0"]
    on_cpu = SimpleNamespace(embedder=object(), window_length=240000)
    assert batch_size_for(on_cpu) == CPU_BATCH_SIZE and len(asked) == 1


def test_stores_choose_it_when_none_is_given():
    pytest.importorskip("librosa")
    from jaxmetrics.audio.embed_store import metrics_for_store

    assert metrics_for_store("logmel", win_dur=1.0).batch_size == CPU_BATCH_SIZE
    assert metrics_for_store("logmel", win_dur=1.0, batch_size=7).batch_size == 7
    with pytest.raises(ValueError, match="batch_size"):
        metrics_for_store("logmel", win_dur=1.0, batch_size=0)
