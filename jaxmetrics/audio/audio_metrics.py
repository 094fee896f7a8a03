"""``AudioMetrics``: audio in, FAD/KD/PRDC/APA out; a drop-in for ``audio_metrics.AudioMetrics``.

Importing this module does not import torch: the embedders package (and so
torch) is imported when a named embedder is built, and a torch tensor is
converted by its own methods.
"""

from __future__ import annotations

import concurrent.futures
import copy
import os
import queue
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from jaxmetrics.audio import mixing as _mixing
from jaxmetrics.audio import state as _state
from jaxmetrics.audio import state_files as _state_files
from jaxmetrics.audio import windows as _windows
from jaxmetrics.audio.metric_names import METRICS, parse_metric_names
from jaxmetrics.audio.state import EmbeddingSet, Projection

__all__ = ["DEFAULT_EMBEDDER", "METRICS", "STATE_FORMAT", "STATE_VERSION", "AudioMetrics"]

DEFAULT_EMBEDDER = "clap-music"
STATE_FORMAT = _state_files.STATE_FORMAT
STATE_VERSION = _state_files.STATE_VERSION

# Why this module is long: AudioMetrics is one class whose methods share one
# state (the reference statistics and embeddings, the cache, the pairing of
# stems and mixes, saving and loading it); windows, mixes, files and the
# score computations live in their own modules.
_NEED_ROWS = ("kd", "prdc")


class _Embedder:
    """One calling convention over our embedders and audio-metrics-style ones."""

    def __init__(self, embedder: Any) -> None:
        self.model = embedder
        if hasattr(embedder, "embed") and hasattr(embedder, "sample_rate"):
            self.sample_rate = int(embedder.sample_rate)
            self._call = embedder.embed
            parts = [str(getattr(embedder, "name", type(embedder).__qualname__))]
            for attr in ("pooling", "n_mels"):
                if hasattr(embedder, attr):
                    parts.append(f"{attr}={getattr(embedder, attr)}")
            if isinstance(getattr(embedder, "identity", None), str):
                parts = [embedder.identity]  # the embedder names its own settings
            elif type(embedder).__module__.split(".")[0] != "embedders":
                # A user's class: two classes of the same ``name`` are different embedders.
                parts.append(f"class={type(embedder).__module__}.{type(embedder).__qualname__}")
            self.identity = ",".join(parts)
        elif hasattr(embedder, "forward") and hasattr(embedder, "sr"):
            # audio-metrics' convention: forward({"audio": (b, n)}) -> {"embedding": tensor}
            self.sample_rate = int(embedder.sr)
            self._call = self._forward
            self.identity = f"{type(embedder).__module__}.{type(embedder).__qualname__}"
        else:
            raise TypeError(
                "embedder must be a name, an embedder with sample_rate and embed(audio), or an "
                f"audio-metrics-style one with sr and forward(data); got {type(embedder).__name__}"
            )
        self.identity += f",sr={self.sample_rate}"

    def _forward(self, audio: np.ndarray) -> np.ndarray:
        out = self.model.forward({"audio": audio})
        return _windows.as_numpy(out["embedding"] if isinstance(out, Mapping) else out, "embedding")

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        emb = np.asarray(self._call(audio), dtype=np.float32)
        if emb.ndim != 2 or emb.shape[0] != audio.shape[0]:
            raise ValueError(
                f"the embedder returned shape {emb.shape} for {audio.shape[0]} windows; the "
                "pipeline needs one embedding per window (VGGish: pooling='mean')"
            )
        return emb


def _is_store_argument(data: Any) -> bool:
    """A path (only a store folder is a path input) or an ``EmbeddingStore``."""
    return isinstance(data, (str, os.PathLike)) or type(data).__name__ == "EmbeddingStore"


def build_embedder(embedder: Any, device: Any = None) -> Any:
    """Build a named embedder (``embedders.get``), or return an embedder object as it is."""
    if embedder is None:
        embedder = DEFAULT_EMBEDDER
    if not isinstance(embedder, str):
        return embedder
    try:
        import embedders
    except ImportError as err:  # pragma: no cover - the package ships both
        raise ImportError(
            "named embedders need the embedders package, installed from a jaxmetrics "
            "checkout: pip install -e '.[embedders]' (see the README, section Embedders)"
        ) from err
    key, _ = embedders.parse_name(embedder)
    kwargs = {} if device is None or key == "logmel" else {"device": device}
    return embedders.get(embedder, **kwargs)


def _progress(desc: str, enabled: bool, total: int | None = None) -> Any:
    if enabled:
        try:
            from tqdm.auto import tqdm

            return tqdm(desc=desc, total=total, unit="win", leave=True, dynamic_ncols=True)
        except ImportError:
            pass

    class _Silent:
        def update(self, n: int) -> None:
            pass

        def close(self) -> None:
            pass

    return _Silent()


_DONE = object()


def _prefetch(batches: Iterator[Any], depth: int) -> Iterator[Any]:
    """Run a generator in a background thread, ``depth`` items ahead (bounded memory)."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for item in batches:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_DONE)
        except BaseException as err:  # noqa: BLE001 - re-raised in the consumer
            q.put(err)

    thread = threading.Thread(target=work, name="jaxmetrics-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get(timeout=0.1)
            except queue.Empty:
                pass
        thread.join()


class AudioMetrics:
    """FAD, KD, PRDC and APA of candidate audio against reference audio.

    The interface of ``audio_metrics.AudioMetrics`` (1.0.4): build it, add
    reference audio (repeatedly if you like), then evaluate candidate sets::

        metrics = AudioMetrics(metrics=["fad", "kd", "prdc"], input_sr=48000)
        metrics.add_reference(reference)         # (n, samples) array, or an iterable
        metrics.evaluate(candidate)              # {"fad": ..., "kernel_distance_mean": ...}

    Audio is resampled from ``input_sr`` to the embedder's rate, cut into
    ``win_dur`` windows (the remainder of each item shorter than a window is
    dropped) and embedded, one embedding per window (see
    :mod:`jaxmetrics.audio.windows` for the accepted input forms). FAD, KD and
    PRDC compare stems: the item itself, or channel 1 of a ``(samples, 2)``
    pair. APA needs ``(samples, 2)`` pairs (channel 0 the context, channel 1
    the stem): reference pairs are mixed as they are (aligned) and with the
    stem of a window of another song (misaligned, see
    :class:`jaxmetrics.audio.windows.MisalignedPairer`); candidate pairs are mixed
    as they are; all mixes are embedded and summarised as Gaussian
    statistics. Embeddings are kept only when KD, PRDC or ``n_pca`` need them;
    otherwise statistics are streamed (memory independent of the number of
    windows).

    Args:
        metrics: names among ``fad``, ``kd``, ``prdc``, ``apa``.
        n_pca: if set, a PCA with that many components is fitted on the
            reference embeddings (stems and, for APA, aligned mixes) and
            applied to both sets.
        embedder: an embedder name (``embedders.get``; default
            ``"clap-music"``, LAION-CLAP music as audio-metrics), or an
            embedder object: ours (``sample_rate``, ``embed``) or one in
            audio-metrics' convention (``sr``, ``forward``). Saved states and
            stores record its identity: its ``name`` and settings, and for a
            class of your own its module and class name; an ``identity``
            string attribute, if it has one, replaces all of these.
        mix_function: ``"PP"``, ``"P0"``-``"P2"``, ``"L0"`` (default)-``"L2"``
            (see :mod:`jaxmetrics.audio.mixing`) or a callable ``f(pair, sr=sr)``.
        win_dur: window duration in seconds.
        input_sr: sample rate of the input audio; None means it already has
            the embedder's rate.
        device: torch device for a named embedder (None: best available).
        seed: seed of the misaligned pairing (None: 0; reproducible).
        batch_size: windows per embedder call.
        shuffle_buffer: windows per misaligned-pairing block (memory: twice
            that many reference window pairs).
        progress: show tqdm progress bars (windows embedded, rate).

    Raises:
        ValueError: on unknown metric, embedder or mix function names, or bad
            sizes.

    Examples:
        >>> import numpy as np
        >>> from jaxmetrics import AudioMetrics
        >>> am = AudioMetrics(["fad"], embedder="logmel", win_dur=1.0, progress=False)
        >>> rng = np.random.default_rng(0)
        >>> am.add_reference(rng.normal(0, 0.1, (8, 16000 * 4)).astype(np.float32))
        >>> result = am.evaluate(rng.normal(0, 0.1, (8, 16000 * 4)).astype(np.float32))
        >>> list(result)
        ['fad']

    """

    def __init__(
        self,
        metrics: Any = ("apa", "fad"),
        n_pca: int | None = None,
        embedder: Any = None,
        mix_function: str | Callable[..., np.ndarray] | None = None,
        win_dur: float = 5.0,
        input_sr: int | None = None,
        device: Any = None,
        seed: int | None = None,
        *,
        batch_size: int = 32,
        shuffle_buffer: int = 64,
        progress: bool = True,
    ) -> None:
        self.metrics = parse_metric_names(metrics)
        if n_pca is not None and (not isinstance(n_pca, int) or isinstance(n_pca, bool)):
            raise TypeError(f"n_pca must be None or a positive int, got {n_pca!r}")
        if n_pca is not None and n_pca < 1:
            raise ValueError(f"n_pca must be a positive int, got {n_pca}")
        if not (isinstance(win_dur, (int, float)) and win_dur > 0):
            raise ValueError(f"win_dur must be a positive number of seconds, got {win_dur!r}")
        if input_sr is not None and (not isinstance(input_sr, (int, np.integer)) or input_sr < 1):
            raise ValueError(f"input_sr must be None or a positive int, got {input_sr!r}")
        for name, value in (("batch_size", batch_size), ("shuffle_buffer", shuffle_buffer)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.n_pca = n_pca
        self.win_dur = float(win_dur)
        self.input_sr = None if input_sr is None else int(input_sr)
        self.seed = 0 if seed is None else int(seed)
        self.batch_size = batch_size
        self.shuffle_buffer = shuffle_buffer
        self.progress = progress
        self.mix_function_name, self.mix_function = _mixing.get_mix_function(mix_function)
        self.embedder = build_embedder(embedder, device)
        self._embed = _Embedder(self.embedder)
        self.sample_rate = self._embed.sample_rate
        self.need_apa = "apa" in self.metrics
        self.stems_mode = any(m != "apa" for m in self.metrics)
        self._store_stems = n_pca is not None or any(m in _NEED_ROWS for m in self.metrics)
        self._store_cand_stems = any(m in _NEED_ROWS for m in self.metrics)
        self._store_mixes = n_pca is not None and self.need_apa
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self.last_anti_reference_same_song = 0
        self.reset_reference()

    # ------------------------------------------------------------------ reference
    def reset_reference(self) -> None:
        """Forget all reference audio."""
        self._reference = {
            "stem": EmbeddingSet(self._store_stems),
            "mix": EmbeddingSet(self._store_mixes),
            "anti": EmbeddingSet(False),
        }
        self._reference_calls = 0
        self._cache: dict[str, Any] = {}

    def add_reference(self, reference: Any) -> None:
        """Embed reference audio and add it to the reference set (accumulates over calls).

        Args:
            reference: an array/tensor ``(n, samples)`` or ``(n, samples, 2)``,
                or an iterable of ``(samples,)`` / ``(samples, 2)`` items; or
                an embedding store (its folder, or an ``EmbeddingStore``):
                see :meth:`add_reference_store`.

        Raises:
            ValueError: on bad shapes, NaN samples, or mono items with APA.

        """
        if _is_store_argument(reference):
            self.add_reference_store(reference)
            return
        rng = np.random.default_rng((self.seed, self._reference_calls))
        sets = self._run(reference, "reference", rng)
        for name, new in sets.items():
            self._reference[name].extend(new)
        self._reference_calls += 1
        self._cache = {}

    def add_reference_store(self, store: Any) -> None:
        """Add the embeddings of an embedding store to the reference (accumulates over calls).

        The store (see :mod:`jaxmetrics.audio.store`) must have been written
        with this embedder, window and jaxmetrics version. For FAD alone its
        statistics are streamed shard by shard (memory independent of its
        size), folded in the same chunks as :meth:`add_reference` folds audio,
        so the reference equals the one computed from the same files
        in-process; KD, PRDC and ``n_pca`` read its rows. APA needs audio.

        Args:
            store: the store's folder, or an ``EmbeddingStore``.

        Raises:
            ValueError: if the folder is not a store, its identity differs
                (the fields are named), it is empty, or APA is asked for.

        """
        self._reference["stem"].extend(self._store_set(store, "reference"))
        self._reference_calls += 1
        self._cache = {}

    def _store_set(self, store: Any, mode: str) -> EmbeddingSet:
        """The stem embeddings of a store: rows where they are needed, else streamed statistics."""
        from jaxmetrics.audio import store as store_module

        if self.need_apa:
            raise ValueError(
                f"apa needs the {mode} audio (its mixes); a store holds stem embeddings only"
            )
        if not isinstance(store, store_module.EmbeddingStore):
            store = store_module.open_store(store)  # reads only: never creates a folder
        diff = store_module.StoreIdentity.of(self).differences(store.identity)
        if diff:
            raise ValueError(
                f"{store.path}: the store was written with another identity "
                f"({'; '.join(diff)}; first value: this AudioMetrics')"
            )
        rows = self._store_stems if mode == "reference" else self._store_cand_stems
        if rows:
            new = EmbeddingSet(True)
            new.add(store.read().embeddings)
            return new
        stats = store.stats()
        return EmbeddingSet.from_arrays(
            {f"stem.{k}": np.asarray(v) for k, v in stats._asdict().items()}, "stem", False
        )

    @property
    def reference_windows(self) -> int:
        """Number of reference windows embedded so far."""
        ref = self._reference
        return ref["stem"].count if self.stems_mode else ref["mix"].count

    def _check_reference(self) -> None:
        if self.reference_windows == 0:
            raise ValueError(
                "the reference set is empty: call add_reference() with audio of at least one "
                f"window (win_dur={self.win_dur} s, {self.window_length} samples at "
                f"{self.sample_rate} Hz) first"
            )

    @property
    def embedder_identity(self) -> str:
        """The embedder's name and settings, as written into saved state and embedding files."""
        return self._embed.identity

    @property
    def window_length(self) -> int:
        """Samples per window at the embedder's rate."""
        return _windows.window_length(self.win_dur, self.sample_rate)

    # ------------------------------------------------------------------ evaluation
    def __call__(self, candidate: Any) -> dict[str, float]:
        """Same as :meth:`evaluate`."""
        return self.evaluate(candidate)

    def evaluate(self, candidate: Any) -> dict[str, float]:
        """Embed a candidate set and score it against the reference.

        Args:
            candidate: same forms as :meth:`add_reference`, an embedding
                store included (FAD, KD, PRDC).

        Returns:
            Python floats under the keys of audio-metrics: ``fad``,
            ``kernel_distance_mean``, ``kernel_distance_std``, ``precision``,
            ``recall``, ``density``, ``coverage``, ``apa`` (those requested).

        Raises:
            ValueError: if the reference or the candidate set is empty.

        """
        self._check_reference()
        if _is_store_argument(candidate):
            return self._score({"stem": self._store_set(candidate, "candidate")})
        sets = self._run(candidate, "candidate", None)
        return self._score(sets)

    def evaluate_many(self, candidates: Mapping[str, Any]) -> dict[str, dict[str, float]]:
        """Evaluate several candidate sets against the same reference.

        The reference work (statistics, PCA, projected rows) is done once.

        Args:
            candidates: ``{name: candidate}``.

        Returns:
            ``{name: evaluate(candidate)}``.

        """
        if not isinstance(candidates, Mapping):
            raise TypeError("evaluate_many takes a mapping {name: candidate}")
        return {name: self.evaluate(data) for name, data in candidates.items()}

    def embed_stems(self, data: Any) -> np.ndarray:
        """Embeddings ``(windows, dim)`` of the stems of ``data``, in input order (no scoring)."""
        embed = copy.copy(self)  # shares the embedder and caches; only the flags below differ
        embed.metrics, embed.need_apa, embed.stems_mode = ["kd"], False, True
        embed._store_cand_stems = True
        return embed._run(data, "candidate", None)["stem"].embeddings()

    def add_reference_embeddings(self, embeddings: Any) -> None:
        """Add stem embeddings computed elsewhere to the reference (FAD, KD, PRDC only).

        Args:
            embeddings: an ``(n, dim)`` array, or an iterable of such arrays,
                from this AudioMetrics' embedder and window (e.g. a cache of
                :meth:`embed_stems` results).

        Raises:
            ValueError: with APA (it needs the mixes, not the stems), or if no
                rows are given.

        """
        new = self._embedding_set(embeddings, self._store_stems, "reference")
        self._reference["stem"].extend(new)
        self._reference_calls += 1
        self._cache = {}

    def evaluate_embeddings(self, embeddings: Any) -> dict[str, float]:
        """Score candidate stem embeddings computed elsewhere (as :meth:`evaluate` would).

        Args:
            embeddings: an ``(n, dim)`` array, or an iterable of such arrays.

        Returns:
            The keys of :meth:`evaluate` (FAD, KD, PRDC).

        """
        self._check_reference()
        stem = self._embedding_set(embeddings, self._store_cand_stems, "candidate")
        return self._score({"stem": stem, "mix": EmbeddingSet(False), "anti": EmbeddingSet(False)})

    def _embedding_set(self, embeddings: Any, store: bool, mode: str) -> EmbeddingSet:
        if self.need_apa:
            raise ValueError("APA needs the audio (its mixes): pass audio, not embeddings")
        chunks = [embeddings] if isinstance(embeddings, np.ndarray) else embeddings
        out = EmbeddingSet(store)
        for chunk in chunks:
            out.add(np.asarray(chunk, np.float32))
        if out.count == 0:
            raise ValueError(f"no {mode} embeddings were given")
        return out

    # ------------------------------------------------------------------ internals
    def _mix(self, pairs: list[np.ndarray]) -> np.ndarray:
        if self.mix_function_name in _mixing.MIX_FUNCTIONS:
            # a named mix: the whole batch at once (vectorised, no per-window calls)
            return _mixing.mix_batch(self.mix_function_name, pairs, self.sample_rate)

        def one(pair: np.ndarray) -> np.ndarray:
            return np.asarray(self.mix_function(pair, sr=self.sample_rate), np.float32)

        if len(pairs) > 1:
            if self._pool is None:
                workers = max(1, min(8, os.cpu_count() or 1))
                self._pool = concurrent.futures.ThreadPoolExecutor(workers, "jaxmetrics-mix")
            mixes = list(self._pool.map(one, pairs))
        else:
            mixes = [one(p) for p in pairs]
        return np.stack(mixes)

    def _batches(
        self, data: Any, mode: str, rng: np.random.Generator | None
    ) -> Iterator[tuple[str, np.ndarray]]:
        windows = _windows.iter_windows(
            _windows.iter_items(data),
            sr=self.sample_rate,
            win_dur=self.win_dur,
            input_sr=self.input_sr,
            need_pairs=self.need_apa,
        )
        pairer = None
        if self.need_apa and mode == "reference":
            pairer = _windows.MisalignedPairer(self.shuffle_buffer, rng)
        bs = self.batch_size
        stems: list[np.ndarray] = []
        mixes: list[np.ndarray] = []
        anti: list[np.ndarray] = []
        for window in windows:
            if self.stems_mode:
                audio = window.audio
                stems.append(audio[:, 1] if audio.ndim == 2 else audio)
                if len(stems) == bs:
                    yield "stem", np.stack(stems)
                    stems = []
            if self.need_apa:
                mixes.append(window.audio)
                if len(mixes) == bs:
                    yield "mix", self._mix(mixes)
                    mixes = []
                if pairer is not None:
                    anti.extend(pairer.push(window))
                    while len(anti) >= bs:
                        yield "anti", self._mix(anti[:bs])
                        anti = anti[bs:]
        if pairer is not None:
            anti.extend(pairer.finish())
            self.last_anti_reference_same_song = pairer.same_song
        if stems:
            yield "stem", np.stack(stems)
        if mixes:
            yield "mix", self._mix(mixes)
        for start in range(0, len(anti), bs):
            yield "anti", self._mix(anti[start : start + bs])

    def _run(self, data: Any, mode: str, rng: np.random.Generator | None) -> dict[str, Any]:
        reference = mode == "reference"
        sets = {
            "stem": EmbeddingSet(self._store_stems if reference else self._store_cand_stems),
            "mix": EmbeddingSet(self._store_mixes if reference else False),
            "anti": EmbeddingSet(False),
        }
        self.last_anti_reference_same_song = 0
        # an input that knows its name and size (the command line's AudioFiles) labels the bar
        bar = _progress(
            getattr(data, "label", None) or f"{mode} windows",
            self.progress,
            getattr(data, "expected_windows", None),
        )
        try:
            for category, audio in _prefetch(self._batches(data, mode, rng), depth=2):
                sets[category].add(self._embed(audio))
                bar.update(audio.shape[0])
        finally:
            bar.close()
        if self.last_anti_reference_same_song:
            warnings.warn(
                f"APA anti-reference: {self.last_anti_reference_same_song} misaligned pairs take "
                "the stem of a window of the same song (one song holds more than half of a "
                f"block of {self.shuffle_buffer} windows); add songs or raise shuffle_buffer",
                stacklevel=3,
            )
        if (self.stems_mode and sets["stem"].count == 0) or (
            self.need_apa and sets["mix"].count == 0
        ):
            raise ValueError(
                f"no {mode} window was embedded: the {mode} audio is empty or every item is "
                f"shorter than one window (win_dur={self.win_dur} s = {self.window_length} "
                f"samples at {self.sample_rate} Hz, after resampling from input_sr)"
            )
        return sets

    def _projection(self, name: str) -> Projection | None:
        if self.n_pca is None:
            return None
        key = f"pca.{name}"
        if key not in self._cache:
            self._cache[key] = Projection(self._reference[name].embeddings(), self.n_pca)
        return self._cache[key]

    def _reference_stems(self) -> tuple[np.ndarray | None, Any]:
        if "stems" not in self._cache:
            ref = self._reference["stem"]
            proj = self._projection("stem")
            rows = ref.embeddings() if ref.store else None
            stats = ref.stats()
            if proj is not None:
                stats = proj.stats(stats)
                rows = proj.rows(rows) if self._store_cand_stems else None
            self._cache["stems"] = (rows, stats)
        return self._cache["stems"]

    def _score(self, cand: dict[str, EmbeddingSet]) -> dict[str, float]:
        out: dict[str, float] = {}
        if self.stems_mode:
            ref_rows, ref_stats = self._reference_stems()
            stem = cand["stem"]
            rows = stem.embeddings() if stem.store else None
            stats = stem.stats()
            proj = self._projection("stem")
            if proj is not None:
                stats = proj.stats(stats)
                rows = proj.rows(rows) if rows is not None else None
            out.update(
                _state.score_embeddings(
                    self.metrics,
                    reference=ref_rows,
                    candidate=rows,
                    reference_stats=ref_stats,
                    candidate_stats=stats,
                )
            )
        if self.need_apa:
            ref, anti, mix = (
                self._reference["mix"].stats(),
                self._reference["anti"].stats(),
                cand["mix"].stats(),
            )
            proj = self._projection("mix")
            if proj is not None:
                ref, anti, mix = proj.stats(ref), proj.stats(anti), proj.stats(mix)
            out["apa"] = _state.apa_score(mix, ref, anti)
        return out

    # ------------------------------------------------------------------ state
    def _state_config(self) -> _state_files.StateConfig:
        needed = (("stem",) if self.stems_mode else ()) + (("mix",) if self.need_apa else ())
        return _state_files.StateConfig(
            embedder=self._embed.identity,
            win_dur=self.win_dur,
            mix_function=self.mix_function_name if self.need_apa else "",
            metrics=list(self.metrics),
            store={"stem": self._store_stems, "mix": self._store_mixes, "anti": False},
            needed=needed,
        )

    def save_state(self, path: str | os.PathLike[str]) -> None:
        """Write the reference (statistics, and embeddings where kept) to an ``.npz`` file.

        No pickle: plain arrays, a format name, a version, a content digest,
        and the embedder, window and mix function the reference was computed
        with; written atomically (see :mod:`jaxmetrics.audio.state_files`).
        """
        _state_files.save(path, self._state_config(), self._reference, self._reference_calls)

    def load_state(self, path: str | os.PathLike[str]) -> None:
        """Replace the reference by one written by :meth:`save_state`.

        Raises:
            ValueError: naming the file, if it is unreadable or damaged, not
                such a state, has another version or a wrong digest, was
                computed with another embedder, window or mix function, or
                lacks embeddings these metrics need.

        """
        sets, calls = _state_files.load(path, self._state_config())
        self._reference = sets
        self._reference_calls = calls
        self._cache = {}
