"""``sleuth index build|info``: build retrieval indices and show what one holds."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "index",
        help="build and inspect retrieval indices",
        description="Build a retrieval index from a corpus, or show an index's manifest.",
        epilog="example: sleuth index build corpus.jsonl.gz --out demo/index --kind bm25",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="index_command", metavar="ACTION", required=True)
    build = sub.add_parser(
        "build",
        help="build an index from a corpus file",
        description="Build an index from a JSONL / JSONL.gz corpus (id, title, text; or "
        "FlashRAG's id + contents) or DPR's psgs_w100.tsv. The index is written to a "
        "temporary directory and renamed into place when complete.",
        epilog="examples:\n  sleuth index build ../shared/data/hotpotqa_sandbox/corpus.jsonl.gz "
        "--out hotpot-index\n  sleuth index build psgs_w100.tsv --out wiki18 --kind dense "
        "--encoder intfloat/e5-base-v2 --faiss ivf_pq --pq-m 64 --device cuda",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    build.add_argument("corpus", type=Path, help="corpus file (.jsonl, .jsonl.gz, .tsv)")
    build.add_argument("--out", type=Path, required=True, help="index directory to create")
    build.add_argument("--kind", choices=["bm25", "dense", "hybrid"], default="bm25",
                       help="index type (default: bm25)")
    build.add_argument("--on-error", choices=["fail", "skip"], default="fail",
                       help="what to do with a malformed corpus line (default: fail)")
    build.add_argument("--overwrite", action="store_true", help="replace an existing index")
    dense = build.add_argument_group("dense and hybrid indices")
    dense.add_argument("--encoder", default="all-MiniLM-L6-v2",
                       help="sentence-transformers model; e5/bge prefixes are added automatically "
                       "(default: the bundled all-MiniLM-L6-v2)")
    dense.add_argument("--faiss", choices=["flat", "hnsw", "ivf_flat", "ivf_pq"], default="flat",
                       help="FAISS index type (default flat: exact)")
    dense.add_argument("--nlist", type=int, default=None, help="IVF lists (default ~4*sqrt(n))")
    dense.add_argument("--nprobe", type=int, default=16, help="IVF lists searched per query")
    dense.add_argument("--pq-m", type=int, default=None, help="IVF-PQ bytes per vector")
    dense.add_argument("--hnsw-m", type=int, default=32, help="HNSW graph degree")
    dense.add_argument("--batch-size", type=int, default=64, help="encoder batch size")
    dense.add_argument("--device", default=None, help="torch device for encoding (cpu, cuda)")
    dense.add_argument("--embeddings-cache", type=Path, default=None,
                       help="where encoded passages are cached and resumed "
                       "(default ~/.cache/sleuth/embeddings)")
    build.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    build.set_defaults(func=_build)
    info = sub.add_parser(
        "info",
        help="show an index's manifest",
        description="Print what an index holds: kind, corpus checksum, passage count, "
        "backend parameters and files.",
        epilog="example: sleuth index info hotpot-index --verify",
    )
    info.add_argument("directory", type=Path, help="index directory")
    info.add_argument("--verify", action="store_true", help="re-hash every file")
    info.add_argument("--json", action="store_true", help="print the manifest as JSON")
    info.set_defaults(func=_info)


def _build(args: argparse.Namespace) -> int:
    from sleuth.retrieval.encoder import EncoderSpec
    from sleuth.retrieval.faiss_index import FaissSpec
    from sleuth.retrieval.index import DenseBuild, build_index
    from sleuth.retrieval.manifest import read_manifest

    dense = DenseBuild(
        encoder=EncoderSpec.for_model(args.encoder),
        faiss=FaissSpec(type=args.faiss, nlist=args.nlist, nprobe=args.nprobe, pq_m=args.pq_m,
                        hnsw_m=args.hnsw_m),
        embeddings_dir=args.embeddings_cache,
        batch_size=args.batch_size,
        device=args.device,
    )
    out = build_index(args.corpus, args.out, args.kind, on_error=args.on_error, dense=dense,
                      overwrite=args.overwrite, progress=not args.no_progress)
    manifest = read_manifest(out)
    skipped = f", skipped {manifest.corpus.skipped_lines} bad lines" if manifest.corpus.skipped_lines else ""
    print(f"built {manifest.kind} index of {manifest.corpus.passages} passages in {out}{skipped}")
    return 0


def _info(args: argparse.Namespace) -> int:
    from sleuth.retrieval.manifest import check_files, read_manifest

    manifest = read_manifest(args.directory)
    check_files(args.directory, manifest, verify=args.verify)
    if args.json:
        print(manifest.model_dump_json(indent=2))
        return 0
    total = sum(f.size for f in manifest.files.values())
    print(f"index:    {args.directory} ({manifest.kind}, {total / 1e6:.1f} MB)")
    print(f"corpus:   {manifest.corpus.path}")
    print(f"          {manifest.corpus.passages} passages, sha256 {manifest.corpus.sha256[:16]}...")
    print(f"built:    {manifest.created} by sleuth {manifest.sleuth_version}")
    if manifest.bm25 is not None:
        print(f"bm25:     {json.dumps(manifest.bm25.model_dump())}")
    if manifest.dense is not None:
        d = manifest.dense
        print(f"dense:    {d.encoder.name} ({d.dim}-d, {d.encoder.metric}), faiss {d.factory}"
              f"{', exact vectors kept' if d.vectors else ''}")
    if manifest.fusion is not None:
        print(f"fusion:   {json.dumps(manifest.fusion.model_dump())}")
    if args.verify:
        print("verify:   every file matches its sha256", file=sys.stdout)
    return 0
