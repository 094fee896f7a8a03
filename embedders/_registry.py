"""Embedders by name: ``get("vggish")``, ``get("clap-music", layer="l-1")``, ..."""

from __future__ import annotations

import re
from typing import Any

from embedders._base import Embedder

__all__ = ["NAMES", "get", "parse_name"]

NAMES = ("vggish", "clap-music", "clap-music-speech", "logmel")
_LAYER_SUFFIX = re.compile(r"^(?P<base>.+?)-(?P<layer>l-[12])$")


def parse_name(name: str) -> tuple[str, str | None]:
    """Normalises a registry name, also in the seed's spelling.

    ``"laion_clap_music_speech_l-2"`` -> ``("clap-music-speech", "l-2")``,
    ``"CLAP-Music"`` -> ``("clap-music", None)``.

    Args:
        name: an embedder name.

    Returns:
        The canonical name and the layer its suffix names (or None).

    Raises:
        TypeError: if ``name`` is not a string.
        ValueError: if the name is unknown.

    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    key = name.strip().lower().replace("_", "-")
    key = key.removeprefix("laion-")
    layer = None
    match = _LAYER_SUFFIX.match(key)
    if match and match["base"].startswith("clap-"):
        key, layer = match["base"], match["layer"]
    if key not in NAMES:
        raise ValueError(
            f"unknown embedder {name!r}; known: {', '.join(NAMES)} (also spelled "
            "laion_clap_music, laion_clap_music_speech, with an optional _l-1 / _l-2 suffix)"
        )
    return key, layer


def get(name: str, **kwargs: Any) -> Embedder:
    """Build an embedder by name; its model is loaded once and shared.

    Args:
        name: ``"vggish"``, ``"clap-music"``, ``"clap-music-speech"``,
            ``"logmel"``, or the seed's spellings (``"laion_clap_music"``,
            ``"laion_clap_music_l-1"``, ``"laion_clap_music_speech_l-2"``, ...).
        **kwargs: passed to the embedder: ``device``, ``batch_size``,
            ``weights`` for all torch models, ``pooling`` for VGGish,
            ``layer`` for CLAP, ``n_mels`` for logmel.

    Returns:
        The embedder.

    Raises:
        ValueError: on an unknown name, or a ``layer`` that contradicts the
            one in the name.
        TypeError: on keyword arguments the embedder does not take.

    """
    key, layer = parse_name(name)
    if key == "vggish":
        from embedders._vggish import VGGish

        return VGGish(**kwargs)
    if key == "logmel":
        from embedders._logmel import LogMel

        return LogMel(**kwargs)
    from embedders._clap import LaionClap

    if layer is not None:
        given = kwargs.pop("layer", None)
        if given not in (None, layer):
            raise ValueError(f"name {name!r} selects layer {layer!r} but layer={given!r} was given")
        kwargs["layer"] = layer
    return LaionClap(key.removeprefix("clap-"), **kwargs)
