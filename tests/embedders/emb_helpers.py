"""Helpers shared by the embedder tests (reference models, checkpoint writers)."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

IN_CI = bool(os.environ.get("CI"))


def need(module: str):
    """Import ``module``; skip when it is missing, except in CI where that fails."""
    if IN_CI:
        return importlib.import_module(module)
    return pytest.importorskip(module)


ROBERTA_BASE = dict(
    vocab_size=50265,
    hidden_size=768,
    num_hidden_layers=12,
    num_attention_heads=12,
    intermediate_size=3072,
    max_position_embeddings=514,
    type_vocab_size=1,
    layer_norm_eps=1e-5,
    pad_token_id=1,
    bos_token_id=0,
    eos_token_id=2,
)


def build_reference_clap():
    """laion_clap's own ``CLAP_Module`` (HTSAT-base), built with no network.

    ``import laion_clap`` fetches three tokenizers at import time and the
    model fetches RoBERTa in its constructor; both are replaced here by
    offline stand-ins: no tokenizer (the text branch is not used) and a
    randomly initialised RoBERTa of roberta-base's configuration, whose
    state-dict keys and shapes are those of the released checkpoints.
    """
    transformers = need("transformers")
    config = transformers.RobertaConfig(**ROBERTA_BASE)
    patches = [
        mock.patch.object(transformers.BertTokenizer, "from_pretrained", lambda *a, **k: None),
        mock.patch.object(transformers.RobertaTokenizer, "from_pretrained", lambda *a, **k: None),
        mock.patch.object(transformers.BartTokenizer, "from_pretrained", lambda *a, **k: None),
        mock.patch.object(
            transformers.RobertaModel,
            "from_pretrained",
            lambda *a, **k: transformers.RobertaModel(config),
        ),
    ]
    for patch in patches:
        patch.start()
    try:
        laion_clap = importlib.import_module("laion_clap")
        module = laion_clap.CLAP_Module(enable_fusion=False, amodel="HTSAT-base", device="cpu")
    finally:
        for patch in patches:
            patch.stop()
    return module.eval()


def save_clap_checkpoint(state: dict, path: Path, torch) -> None:
    """Write ``state`` as the released files are: DDP-prefixed keys under "state_dict".

    The released files were saved with transformers < 4.31, so they carry the
    ``text_branch.embeddings.position_ids`` buffer (laion_clap 1.1.7 deletes
    it when loading, and fails if it is absent).
    """
    full = {f"module.{k}": v for k, v in state.items()}
    positions = ROBERTA_BASE["max_position_embeddings"]
    full["module.text_branch.embeddings.position_ids"] = torch.arange(positions)[None]
    torch.save({"epoch": 15, "name": path.stem, "state_dict": full}, path)


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    """Largest per-row relative error ||a - b|| / ||b||."""
    a = np.asarray(a, np.float64).reshape(-1, np.shape(a)[-1])
    b = np.asarray(b, np.float64).reshape(-1, np.shape(b)[-1])
    norms = np.maximum(np.linalg.norm(b, axis=1), 1e-30)
    return float(np.max(np.linalg.norm(a - b, axis=1) / norms))
