"""From user audio to fixed-length windows: input forms, resampling, slicing, misaligned pairs.

Accepted inputs (as the ``audio-metrics`` package accepts them):

- a numpy array or torch tensor ``(batch, samples)`` (stems) or
  ``(batch, samples, 2)`` (context, stem pairs): one item per row;
- any iterable (list, generator) of items ``(samples,)`` or ``(samples, 2)``,
  whose lengths may differ.

Each item is one song: it is resampled from ``input_sr`` to the embedder's
rate (soxr, ``HQ``, as ``audio-metrics``), then cut into non-overlapping
windows of ``int(win_dur * sr)`` samples; the trailing remainder shorter than
one window is dropped (make lengths multiples of ``win_dur`` to keep
everything). Nothing here imports torch: a tensor is recognised by its type's
module and converted with its own ``.numpy()``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import numpy as np

__all__ = ["MisalignedPairer", "Window", "iter_items", "iter_windows", "window_length"]


class Window(NamedTuple):
    """One window of one song: ``audio`` is ``(win,)`` or ``(win, 2)`` float32."""

    song: int
    audio: np.ndarray


def _is_torch(x: Any) -> bool:
    return type(x).__module__.split(".")[0] == "torch"


def as_numpy(x: Any, name: str = "item") -> np.ndarray:
    """Convert an array-like (numpy, torch tensor, list) to a numpy array, checking its dtype."""
    if _is_torch(x):
        x = x.detach().cpu()
        if str(x.dtype) == "torch.bfloat16":
            x = x.float()
        x = x.numpy()
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(
            f"{name} must hold floating-point samples in [-1, 1], got dtype {x.dtype}"
            + ("; divide integer PCM by its full scale first" if x.dtype.kind in "iu" else "")
        )
    return x


def iter_items(data: Any) -> Iterator[np.ndarray]:
    """Yield the songs of an input as numpy arrays ``(samples,)`` or ``(samples, 2)``.

    Raises:
        TypeError: for a non-iterable input or non-float samples.
        ValueError: for a bad rank or channel count (with the item's index).

    """
    if isinstance(data, np.ndarray) or _is_torch(data):
        array = as_numpy(data, "audio")
        if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 2):
            raise ValueError(
                "an audio array must have shape (batch, samples) or (batch, samples, 2), "
                f"got {array.shape}; pass a single song as [song]"
            )
        yield from array
        return
    if isinstance(data, (str, bytes)) or not isinstance(data, Iterable):
        raise TypeError(
            "audio must be an array (batch, samples[, 2]) or an iterable of (samples,) / "
            f"(samples, 2) items, got {type(data).__name__}"
        )
    for index, item in enumerate(data):
        item = as_numpy(item, f"item {index}")
        if item.ndim not in (1, 2) or (item.ndim == 2 and item.shape[1] != 2):
            raise ValueError(
                f"item {index} must have shape (samples,) or (samples, 2), got {item.shape}"
            )
        yield item


def window_length(win_dur: float, sr: int) -> int:
    """Samples per window, ``int(win_dur * sr)`` as ``audio-metrics`` computes it."""
    return int(sr * win_dur)


def iter_windows(
    items: Iterable[np.ndarray],
    *,
    sr: int,
    win_dur: float,
    input_sr: int | None = None,
    need_pairs: bool = False,
) -> Iterator[Window]:
    """Resample each song, check it, and cut it into windows.

    Args:
        items: songs from :func:`iter_items`.
        sr: the embedder's sample rate.
        win_dur: window duration in seconds.
        input_sr: the songs' rate; None means already ``sr``.
        need_pairs: require ``(samples, 2)`` items (APA).

    Yields:
        :class:`Window` with float32 audio, in song order.

    Raises:
        ValueError: for NaN/inf samples, or mono items when pairs are needed.

    """
    win = window_length(win_dur, sr)
    if win < 1:
        raise ValueError(f"win_dur={win_dur} gives windows of {win} samples at {sr} Hz")
    resample = input_sr is not None and int(input_sr) != int(sr)
    if resample:
        import soxr
    for song, item in enumerate(items):
        if need_pairs and item.ndim != 2:
            raise ValueError(
                f"item {song}: APA needs (samples, 2) items pairing context and stem "
                f"(channel 0 context, channel 1 stem), got shape {item.shape}"
            )
        if not np.isfinite(item).all():
            raise ValueError(
                f"item {song} contains {int(np.count_nonzero(~np.isfinite(item)))} NaN or "
                "infinite samples"
            )
        if resample:
            item = soxr.resample(item, input_sr, sr, quality="HQ")
        count = item.shape[0] // win
        for i in range(count):
            yield Window(song, np.asarray(item[i * win : (i + 1) * win], dtype=np.float32))


def _song_derangement(songs: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """A random permutation ``p`` with ``songs[p[i]] != songs[i]`` wherever that is possible.

    A uniform random permutation is repaired by swaps: for a window ``i``
    paired with a stem of its own song, a random partner ``j`` is sought
    such that exchanging their stems fixes ``i`` without breaking ``j``.

    Returns:
        The permutation and the number of same-song pairs that remain (non-zero
        only when one song holds more than half of the windows).

    """
    n = songs.shape[0]
    perm = rng.permutation(n)
    for i in rng.permutation(n):
        if songs[perm[i]] != songs[i]:
            continue
        candidates = np.flatnonzero((songs[perm] != songs[i]) & (songs != songs[perm[i]]))
        if candidates.size:
            j = rng.choice(candidates)
            perm[i], perm[j] = perm[j], perm[i]
    same = int(np.count_nonzero(songs[perm] == songs))
    if same:
        # Left with a song too large to pair elsewhere: at least avoid self-pairs.
        for i in np.flatnonzero(perm == np.arange(n)):
            j = (i + 1) % n
            perm[i], perm[j] = perm[j], perm[i]
    return perm, same


class MisalignedPairer:
    """Pairs each context with the stem of a window from another song, in bounded memory.

    Windows are collected into blocks of ``block`` windows (up to ``2 * block``
    are held, as float32 copies); within a block the stems are permuted so
    that no context keeps a stem of its own song (see
    :func:`_song_derangement`). Every context and every stem is used exactly
    once, so the anti-reference has the same context and stem marginals as the
    reference and differs only in alignment. Reproducible for a given seed
    and input order.

    Args:
        block: windows per block (memory: ``2 * block`` window pairs).
        rng: numpy generator.

    """

    def __init__(self, block: int, rng: np.random.Generator) -> None:
        self.block = block
        self.rng = rng
        self.pending: list[Window] = []
        self.same_song = 0
        self.total = 0

    def push(self, window: Window) -> list[np.ndarray]:
        """Add a reference window; return the misaligned pairs now ready."""
        self.pending.append(Window(window.song, np.array(window.audio, np.float32)))
        if len(self.pending) < 2 * self.block:
            return []
        head, self.pending = self.pending[: self.block], self.pending[self.block :]
        return self._pair(head)

    def finish(self) -> list[np.ndarray]:
        """Pair what is left (at most ``2 * block - 1`` windows) and warn about same-song pairs."""
        head, self.pending = self.pending, []
        pairs = self._pair(head) if head else []
        if self.same_song:
            warnings.warn(
                f"APA anti-reference: {self.same_song} of {self.total} misaligned pairs take "
                "the stem of a window of the same song (one song holds more than half of a "
                f"block of {self.block} windows); add songs or raise shuffle_buffer",
                stacklevel=3,
            )
        return pairs

    def _pair(self, windows: list[Window]) -> list[np.ndarray]:
        songs = np.array([w.song for w in windows])
        perm, same = _song_derangement(songs, self.rng)
        self.same_song += same
        self.total += len(windows)
        return [
            np.stack([w.audio[:, 0], windows[j].audio[:, 1]], axis=1)
            for w, j in zip(windows, perm, strict=True)
        ]
