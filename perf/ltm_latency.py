"""AgeMem LTM latency: one Add_memory and one top-3 Retrieve_memory on a store of 1k / 10k / 100k items.

Each operation is timed (a) without embedding time (precomputed random unit vectors passed as `embedding=`) and
(b) with the real all-MiniLM-L6-v2 embedding of a short text, side by side with a brute-force numpy baseline on the
same vectors: a preallocated float32 matrix (append = one row write, search = matrix @ q + argpartition). The store
file lives in a temp dir on disk, so its adds include SQLite's fsync. The prefill goes through `add_many` (one
transaction); only the individual operations on top of it are timed, (a) and (b) interleaved so both see the same
store size (it grows by 2 x ops during a size's run). The ratio is store mean / numpy mean.
Usage: python perf/ltm_latency.py [--sizes 1000 10000 100000] [--ops 200] [--no-embedding] [--dir DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from agents.agemem.store import MemoryStore
from agents.embeddings import DEFAULT_EMBEDDER, Embedder, load_embedder

DIM = 384
TOP_K = 3


class NumpyIndex:
    """The floor any vector store is measured against: no persistence, no metadata, no locking."""

    def __init__(self, capacity: int) -> None:
        self.vectors = np.zeros((capacity, DIM), dtype=np.float32)
        self.n = 0

    def append(self, vector: np.ndarray) -> None:
        self.vectors[self.n] = vector
        self.n += 1

    def search(self, query: np.ndarray) -> np.ndarray:
        scores = self.vectors[: self.n] @ query
        best = np.argpartition(-scores, TOP_K - 1)[:TOP_K]
        return best[np.argsort(-scores[best])]


def unit_vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def timed(call: Callable[[], object]) -> float:
    start = time.perf_counter_ns()
    call()
    return (time.perf_counter_ns() - start) / 1e3  # microseconds


def fmt(us: float) -> str:
    return f"{us:8.1f} us" if us < 1000 else f"{us / 1000:8.2f} ms"


def in_memory_add_us(rng: np.random.Generator, ops: int) -> float:
    """What an add costs besides the fsync of its commit."""
    with MemoryStore(None) as store:
        store.add_many(["prefill"] * 1000, embeddings=unit_vectors(rng, 1000))
        return float(np.mean([timed(partial(store.add, "note", embedding=v)) for v in unit_vectors(rng, ops)]))


def run_size(size: int, ops: int, embedder: Embedder | None, folder: Path, rng: np.random.Generator) -> list[str]:
    prefill = unit_vectors(rng, size)
    adds, queries = unit_vectors(rng, ops), unit_vectors(rng, ops)
    store = MemoryStore(folder / f"ltm-{size}.sqlite", embedder)
    start = time.perf_counter()
    for begin in range(0, size, 10_000):
        end = min(size, begin + 10_000)
        store.add_many([f"prefill note {i}" for i in range(begin, end)], embeddings=prefill[begin:end])
    fill_s = time.perf_counter() - start
    store.close()
    start = time.perf_counter()
    store = MemoryStore(folder / f"ltm-{size}.sqlite", embedder)
    open_s = time.perf_counter() - start
    baseline = NumpyIndex(size + 2 * ops)
    baseline.vectors[:size], baseline.n = prefill, size

    modes = ["excluded"] + (["included"] if embedder else [])
    times: dict[tuple[str, str, str], list[float]] = {}

    def record(op: str, mode: str, store_call: Callable[[], object], numpy_call: Callable[[], object]) -> None:
        times.setdefault((op, mode, "store"), []).append(timed(store_call))
        times.setdefault((op, mode, "numpy"), []).append(timed(numpy_call))

    def embedded(method: Callable[[np.ndarray], object], text: str) -> object:
        return method(embedder.embed([text])[0])

    for i in range(ops):
        record(
            "add", "excluded", partial(store.add, f"new note {i}", embedding=adds[i]), partial(baseline.append, adds[i])
        )
        if embedder:
            text = f"The user said their favourite colour is shade number {i}."
            record("add", "included", partial(store.add, text), partial(embedded, baseline.append, text))
    for i in range(ops):
        record(
            "retrieve",
            "excluded",
            partial(store.retrieve, "q", TOP_K, embedding=queries[i]),
            partial(baseline.search, queries[i]),
        )
        if embedder:
            text = f"What is the user's favourite colour, number {i}?"
            record(
                "retrieve", "included", partial(store.retrieve, text, TOP_K), partial(embedded, baseline.search, text)
            )
    store.close()

    lines = []
    for op in ("add", "retrieve"):
        for mode in modes:
            ours, theirs = np.array(times[(op, mode, "store")]), np.array(times[(op, mode, "numpy")])
            lines.append(
                f"{size:>8,}  {op:<9} {mode:<9}  {fmt(ours.mean())} {fmt(np.percentile(ours, 95))}  "
                f"{fmt(theirs.mean())} {fmt(np.percentile(theirs, 95))}  {ours.mean() / theirs.mean():7.2f}x"
            )
    lines.append(f"{'':>8}  prefill {size:,} items in {fill_s:.2f} s (add_many), reopen + index load {open_s:.2f} s")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--ops", type=int, default=200, help="timed adds and retrievals per size and mode")
    embedding = parser.add_mutually_exclusive_group()
    embedding.add_argument("--with-embedding", dest="embedding", action="store_true", default=True, help="(default)")
    embedding.add_argument("--no-embedding", dest="embedding", action="store_false", help="skip the MiniLM rows")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the embedder")
    parser.add_argument("--dir", type=Path, default=None, help="where the store files go (default: a temp dir)")
    args = parser.parse_args()

    embedder = None
    if args.embedding:
        import torch

        torch.set_num_threads(args.threads)
        embedder = load_embedder(DEFAULT_EMBEDDER)
        embedder.embed(["warm up"])
    print("baseline: brute-force numpy (float32 matrix, matmul + argpartition)", end="; ")
    if importlib.util.find_spec("mem0") is not None:
        print("mem0ai is importable: Mem0's vector store could be added here as a third column")
    else:
        print("mem0ai is not installed, so Mem0's vector store is not compared")
    rng = np.random.default_rng(0)
    print(f"store add without disk (path=None, no fsync): {fmt(in_memory_add_us(rng, args.ops)).strip()} mean")
    included = f"; embedding 'included' = {DEFAULT_EMBEDDER} on CPU, {args.threads} torch thread(s)" if embedder else ""
    print(f"{args.ops} timed ops per row{included}")
    print(
        f"{'items':>8}  {'op':<9} {'embedding':<9}  {'store mean':>11} {'store p95':>11}  "
        f"{'numpy mean':>11} {'numpy p95':>11}  {'ratio':>8}"
    )
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for size in args.sizes:
            for line in run_size(size, args.ops, embedder, Path(tmp), rng):
                print(line, flush=True)


if __name__ == "__main__":
    main()
