"""FAISS indices for dense retrieval: Flat (exact), HNSW, IVF-Flat and IVF-PQ.

Index types and what they cost per vector of dimension d:

=========  ==============================  ===========================================
type       memory per vector               notes
=========  ==============================  ===========================================
flat       4·d bytes (2·d on GPU fp16)      exact; the reference for recall
hnsw       4·d + ~8·M bytes                 fast on CPU, no GPU support, slow to build
ivf_flat   4·d bytes                        nprobe of nlist lists scanned per query
ivf_pq     pq_m bytes (+ 4·d on disk)       compressed; exact re-ranking of ``refine``·k
=========  ==============================  ===========================================

With faiss-gpu and CUDA present, flat and IVF indices are cloned to every GPU in fp16,
sharded (each GPU holds 1/n of the vectors); otherwise one log line says search stays on
the CPU. ``faiss`` is imported only inside these functions.
"""

from __future__ import annotations

import logging
import math
import sys
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field
from tqdm import tqdm

from sleuth._optional import require
from sleuth.types import StrictModel

logger = logging.getLogger(__name__)

FaissType = Literal["flat", "hnsw", "ivf_flat", "ivf_pq"]
# faiss-cpu 1.15 keeps batches of under ~1000 queries off BLAS by default. Measured here,
# a threshold of 16 made batch-64 Flat search 2.5-6x faster, but made single queries
# slower (0.3 -> ~8 ms at 10k vectors), so the threshold is chosen per batch.
BLAS_THRESHOLD = 16
_faiss_default_blas: int | None = None


class FaissSpec(StrictModel):
    """Which FAISS index to build and how to search it."""

    type: FaissType = "flat"
    """flat (exact), hnsw, ivf_flat or ivf_pq."""
    hnsw_m: int = Field(default=32, ge=4)
    """HNSW graph degree."""
    ef_construction: int = Field(default=100, ge=8)
    """HNSW build-time beam width."""
    ef_search: int = Field(default=64, ge=1)
    """HNSW search-time beam width (raised to k when k is larger)."""
    nlist: int | None = Field(default=None, ge=1)
    """IVF lists; default about 4·sqrt(n), and at most n/39 so k-means has enough points."""
    nprobe: int = Field(default=16, ge=1)
    """IVF lists scanned per query."""
    pq_m: int | None = Field(default=None, ge=1)
    """IVF-PQ sub-quantisers (bytes per vector at 8 bits); default d/8, a divisor of d."""
    pq_bits: int = Field(default=8, ge=4, le=12)
    """Bits per PQ code; lowered automatically on tiny corpora."""
    refine: int = Field(default=4, ge=0)
    """IVF-PQ: re-rank refine·k candidates with the exact vectors (memory-mapped); 0 = off."""
    train_size: int = Field(default=200_000, ge=1000)
    """Vectors sampled to train IVF centroids and PQ codebooks."""
    use_gpu: Literal["auto", "never"] = "auto"
    """Use faiss-gpu when it and a CUDA device are present."""


def faiss_module() -> Any:
    global _faiss_default_blas
    faiss = require("faiss", "dense", purpose="dense retrieval")
    if _faiss_default_blas is None:
        _faiss_default_blas = int(faiss.cvar.distance_compute_blas_threshold)
    return faiss


def tune_blas(faiss: Any, batch: int) -> None:
    """BLAS for batches of BLAS_THRESHOLD queries or more, faiss' default below that.

    The setting is process-global; a race between threads only costs speed, never results.
    """
    wanted = BLAS_THRESHOLD if batch >= BLAS_THRESHOLD else _faiss_default_blas
    if wanted is not None and faiss.cvar.distance_compute_blas_threshold != wanted:
        faiss.cvar.distance_compute_blas_threshold = wanted


def default_nlist(n: int) -> int:
    return max(1, min(int(4 * math.sqrt(n)), n // 39))


def default_pq_m(dim: int) -> int:
    target = max(1, dim // 8)
    return max(m for m in range(1, target + 1) if dim % m == 0)


def factory_string(spec: FaissSpec, n: int, dim: int) -> str:
    """The ``faiss.index_factory`` description for ``spec`` on n vectors of size dim."""
    if spec.type == "flat":
        return "Flat"
    if spec.type == "hnsw":
        return f"HNSW{spec.hnsw_m},Flat"
    nlist = spec.nlist or default_nlist(n)
    if spec.type == "ivf_flat":
        return f"IVF{nlist},Flat"
    bits = min(spec.pq_bits, max(4, int(math.log2(max(n, 16) / 39))))
    # "np": no polysemous training, which Sleuth does not use and which took minutes here.
    return f"IVF{nlist},PQ{spec.pq_m or default_pq_m(dim)}x{bits}np"


def build_faiss(vectors: Any, spec: FaissSpec, metric: str = "ip", *, progress: bool = True,
                seed: int = 0) -> Any:
    """Train (IVF) and fill an index from an (n, d) float32 array, in chunks with progress."""
    faiss = faiss_module()
    n, dim = vectors.shape
    faiss_metric = faiss.METRIC_INNER_PRODUCT if metric == "ip" else faiss.METRIC_L2
    index = faiss.index_factory(dim, factory_string(spec, n, dim), faiss_metric)
    if spec.type == "hnsw":
        index.hnsw.efConstruction = spec.ef_construction
    if not index.is_trained:
        rng = np.random.default_rng(seed)
        sample = np.sort(rng.choice(n, size=min(n, spec.train_size), replace=False))
        index.train(np.ascontiguousarray(vectors[sample], dtype=np.float32))
    step = 50_000
    with tqdm(total=n, desc=f"faiss {spec.type}", unit=" vectors", file=sys.stderr,
              disable=not progress, mininterval=1.0) as bar:
        for start in range(0, n, step):
            index.add(np.ascontiguousarray(vectors[start:start + step], dtype=np.float32))
            bar.update(min(step, n - start))
    return index


def configure_search(index: Any, spec: FaissSpec) -> None:
    """Apply search-time parameters (nprobe, efSearch) to a CPU index."""
    faiss = faiss_module()
    if spec.type == "hnsw":
        faiss.downcast_index(index).hnsw.efSearch = spec.ef_search
    elif spec.type in ("ivf_flat", "ivf_pq"):
        faiss.extract_index_ivf(index).nprobe = spec.nprobe


def to_gpus(index: Any, spec: FaissSpec) -> tuple[Any, str]:
    """(index, where): the index cloned to all GPUs in fp16 and sharded, or left on CPU."""
    faiss = faiss_module()
    if spec.use_gpu == "never":
        return index, "cpu"
    gpus = faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0
    if gpus == 0 or not hasattr(faiss, "index_cpu_to_all_gpus"):
        _log_once("faiss: no GPU support or no CUDA device; searching on the CPU")
        return index, "cpu"
    if spec.type == "hnsw":
        logger.info("faiss: HNSW has no GPU implementation; searching on the CPU")
        return index, "cpu"
    options = faiss.GpuMultipleClonerOptions()
    options.shard = True
    options.useFloat16 = True
    options.useFloat16LookupTables = True
    gpu_index = faiss.index_cpu_to_all_gpus(index, co=options)
    if spec.type != "flat":
        faiss.GpuParameterSpace().set_index_parameter(gpu_index, "nprobe", spec.nprobe)
    logger.info("faiss: %s index on %d GPU(s), fp16, sharded", spec.type, gpus)
    return gpu_index, f"gpu x{gpus}"


_logged: set[str] = set()


def _log_once(message: str) -> None:
    if message not in _logged:
        _logged.add(message)
        logger.info(message)


def write_faiss(index: Any, path: Path) -> None:
    faiss_module().write_index(index, str(path))


def read_faiss(path: Path) -> Any:
    """Read an index memory-mapped where FAISS supports it, else into RAM."""
    faiss = faiss_module()
    try:
        return faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
    except RuntimeError:
        return faiss.read_index(str(path))


__all__ = [
    "BLAS_THRESHOLD",
    "FaissSpec",
    "FaissType",
    "build_faiss",
    "configure_search",
    "default_nlist",
    "factory_string",
    "read_faiss",
    "to_gpus",
    "tune_blas",
    "write_faiss",
]
