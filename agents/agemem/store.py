"""AgeMem's long-term memory: items behind Add/Update/Delete_memory, searched by Retrieve_memory.

SQLite is the record (WAL, synchronous=FULL, a commit before every mutating call returns), so an add that returned
survives a killed process. Search runs on an in-memory copy: every embedding in one float32 matrix that grows by
doubling, so an add costs one row write rather than a matrix copy, and a query is one matrix-vector product.
One store = one memory scope = one file.
"""

from __future__ import annotations

import copy
import json
import re
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from agents.embeddings import Embedder

_SEQUENTIAL = re.compile(r"m[0-9a-f]{8}")  # ids this store issues
_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY, content TEXT NOT NULL, memory_type TEXT NOT NULL, metadata TEXT NOT NULL,
    embedding BLOB NOT NULL, created REAL NOT NULL, updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class MemoryItem:
    id: str
    content: str
    memory_type: str
    metadata: Mapping[str, Any]  # a copy: changing it does not change the store
    created: float
    updated: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "content": self.content,
            "memory_type": self.memory_type,
            "metadata": copy.deepcopy(dict(self.metadata)),
            "created": self.created,
            "updated": self.updated,
        }


class UnknownMemory(KeyError):
    """An id that is not (or no longer) in the store: the policy may cite stale or invented ids."""

    def __init__(self, memory_id: str) -> None:
        super().__init__(memory_id)
        self.memory_id = memory_id

    def __str__(self) -> str:
        return f"no memory with id '{self.memory_id}'"


class MemoryStore:
    """Thread-safe LTM over one SQLite file (`path=None`: in memory). `embedder` may be None if every call
    passes `embedding=`/`embeddings=` (precomputed vectors, e.g. to time the store without the model)."""

    def __init__(self, path: str | Path | None, embedder: Embedder | None = None, *, source: str = "agent") -> None:
        self.embedder = embedder
        self.source = source
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(":memory:" if path is None else str(path), check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._check_embedder()
        self._dim = embedder.dim if embedder is not None else None  # fixed once known
        self._items: dict[str, MemoryItem] = {}  # insertion order; metadata never handed out (copies are)
        self._row: dict[str, int] = {}  # id -> row of the matrix
        self._ids: list[str] = []  # row -> id
        self._order = np.zeros(0, dtype=np.int64)  # row -> insertion rank, to break score ties
        self._vectors = np.zeros((0, self._dim or 0), dtype=np.float32)
        self._next_rank = 0
        rows = self._db.execute(
            "SELECT id, content, memory_type, metadata, embedding, created, updated FROM items ORDER BY rowid"
        ).fetchall()
        if rows:
            vectors = np.frombuffer(b"".join(row[4] for row in rows), dtype=np.float32).reshape(len(rows), -1)
            self._fix_dim(vectors.shape[1])
            self._index([MemoryItem(r[0], r[1], r[2], json.loads(r[3]), r[5], r[6]) for r in rows], vectors)
        self._issued = max((int(i[1:], 16) for i in self._items if _SEQUENTIAL.fullmatch(i)), default=0)

    def add(
        self,
        content: str,
        metadata: Mapping[str, Any] | None = None,
        memory_type: str = "fact",
        *,
        embedding: np.ndarray | None = None,
    ) -> MemoryItem:
        """Store one item; metadata gains `timestamp` (ISO-8601 UTC), `source` and `tags` unless given."""
        vectors = None if embedding is None else np.asarray(embedding)[None, :]
        return self.add_many([content], [metadata], memory_type, embeddings=vectors)[0]

    def add_many(
        self,
        contents: Sequence[str],
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        memory_type: str = "fact",
        *,
        embeddings: np.ndarray | None = None,
    ) -> list[MemoryItem]:
        """`add` for many items in one transaction and one embedding batch (bulk loads, benchmark prefill)."""
        metadatas = metadatas if metadatas is not None else [None] * len(contents)
        if len(metadatas) != len(contents):
            raise ValueError("add_many needs one metadata (or None) per content")
        vectors = self._vectorise(contents, embeddings)
        now, stamp = _now()
        defaults = {"timestamp": stamp, "source": self.source, "tags": []}
        metas = [_clean_metadata({**defaults, **_mapping(meta)}) for meta in metadatas]
        with self._lock:
            self._fix_dim(vectors.shape[1])
            items = [
                MemoryItem(self._new_id(), text, memory_type, meta, now, now)
                for text, meta in zip(contents, metas, strict=True)
            ]
            with self._db:
                self._db.executemany(
                    "INSERT INTO items VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [_record(item, vector) for item, vector in zip(items, vectors, strict=True)],
                )
            self._index(items, vectors)
        return [_public(item) for item in items]

    def update(
        self,
        memory_id: str,
        content: str,
        metadata: Mapping[str, Any] | None = None,
        *,
        embedding: np.ndarray | None = None,
    ) -> MemoryItem:
        """Replace content, embedding and metadata; records `modified`.

        `metadata=None` keeps the old metadata; new metadata keeps the original `timestamp` and `source` unless it
        gives them (they say where the item came from), and `tags` default to [] as in `add`."""
        self.get(memory_id)  # fail before paying for an embedding
        vector = self._vectorise([content], None if embedding is None else np.asarray(embedding)[None, :])[0]
        now, stamp = _now()
        with self._lock:
            old = self._existing(memory_id)
            base = old.metadata if metadata is None else {**_origin(old.metadata), "tags": [], **_mapping(metadata)}
            item = replace(old, content=content, metadata=_clean_metadata({**base, "modified": stamp}), updated=now)
            with self._db:
                self._db.execute(
                    "UPDATE items SET content=?, metadata=?, embedding=?, updated=? WHERE id=?",
                    (content, json.dumps(item.metadata), vector.tobytes(), now, memory_id),
                )
            self._items[memory_id] = item
            self._vectors[self._row[memory_id]] = vector
        return _public(item)

    def delete(self, memory_id: str) -> None:
        with self._lock:
            self._existing(memory_id)
            with self._db:
                self._db.execute("DELETE FROM items WHERE id=?", (memory_id,))
            del self._items[memory_id]
            row, last = self._row.pop(memory_id), len(self._ids) - 1
            if row != last:  # move the last row into the hole: O(dim), not O(n * dim)
                moved = self._ids[last]
                self._vectors[row], self._order[row], self._ids[row] = self._vectors[last], self._order[last], moved
                self._row[moved] = row
            self._ids.pop()

    def get(self, memory_id: str) -> MemoryItem:
        with self._lock:
            return _public(self._existing(memory_id))

    def items(self) -> list[MemoryItem]:
        """All items in insertion order."""
        with self._lock:
            return [_public(item) for item in self._items.values()]

    def retrieve(
        self,
        query: str,
        top_k: int = 3,
        metadata_filter: Mapping[str, Any] | None = None,
        *,
        embedding: np.ndarray | None = None,
    ) -> list[tuple[MemoryItem, float]]:
        """The `top_k` items most cosine-similar to `query`, best first; equal scores in insertion order.

        `metadata_filter` is applied before ranking and every key must match: `memory_type` compares with the
        item's type, `tags` (a tag or a list) needs all of them among the item's tags, any other key needs the
        item's metadata value to equal the given one (an item without the key does not match)."""
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        if not self._ids:
            return []
        vector = self._vectorise([query], None if embedding is None else np.asarray(embedding)[None, :])[0]
        with self._lock:
            n = len(self._ids)
            if metadata_filter:
                wanted = _mapping(metadata_filter)
                rows = np.fromiter((i for i in range(n) if _matches(self._items[self._ids[i]], wanted)), np.int64)
                scores = self._vectors[rows] @ vector
            else:
                rows, scores = np.arange(n), self._vectors[:n] @ vector
            if len(rows) > top_k:  # keep everything tied with the k-th score, then order exactly
                keep = scores >= np.partition(scores, len(rows) - top_k)[len(rows) - top_k]
                rows, scores = rows[keep], scores[keep]
            best = np.lexsort((self._order[rows], -scores))[:top_k]
            return [(_public(self._items[self._ids[rows[i]]]), float(scores[i])) for i in best]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, memory_id: object) -> bool:
        return memory_id in self._items

    def _check_embedder(self) -> None:
        """A file embedded with one model gives garbage when queried with another: refuse to mix them."""
        if self.embedder is None:
            return
        with self._db:
            self._db.execute("INSERT OR IGNORE INTO info VALUES ('embedder', ?)", (self.embedder.name,))
        (stored,) = self._db.execute("SELECT value FROM info WHERE key='embedder'").fetchone()
        if stored != self.embedder.name:
            self._db.close()
            raise ValueError(f"this memory store was embedded with '{stored}', not '{self.embedder.name}'")

    def _vectorise(self, texts: Sequence[str], embeddings: np.ndarray | None) -> np.ndarray:
        if embeddings is None:
            if self.embedder is None:
                raise ValueError("this MemoryStore has no embedder: pass embedding= with every call")
            embeddings = self.embedder.embed(texts)
        vectors = np.array(embeddings, dtype=np.float32, ndmin=2)
        if vectors.ndim != 2 or len(vectors) != len(texts):
            raise ValueError(f"expected {len(texts)} embedding row(s), got an array of shape {vectors.shape}")
        self._fix_dim(vectors.shape[1], check_only=True)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        if not np.all(norms > 0) or not np.all(np.isfinite(norms)):
            raise ValueError("embeddings must be finite and non-zero")
        return vectors / norms

    def _index(self, items: Sequence[MemoryItem], vectors: np.ndarray) -> None:
        """Append rows, doubling the matrix when full (amortised O(dim) per add)."""
        n, new = len(self._ids), len(items)
        if n + new > len(self._vectors):
            capacity = max(16, 2 * (n + new))
            grown = np.zeros((capacity, vectors.shape[1]), dtype=np.float32)
            order = np.zeros(capacity, dtype=np.int64)
            if n:
                grown[:n], order[:n] = self._vectors[:n], self._order[:n]
            self._vectors, self._order = grown, order
        self._vectors[n : n + new] = vectors
        self._order[n : n + new] = np.arange(self._next_rank, self._next_rank + new)
        self._next_rank += new
        for offset, item in enumerate(items):
            self._items[item.id] = item
            self._row[item.id] = n + offset
            self._ids.append(item.id)

    def _fix_dim(self, dim: int, *, check_only: bool = False) -> None:
        """The first vector sets the store's dimension (unless an embedder did); later ones must match it."""
        if self._dim is None and not check_only:
            self._dim = dim
        elif self._dim is not None and dim != self._dim:
            raise ValueError(f"embeddings of this store have dimension {self._dim}, got {dim}")

    def _existing(self, memory_id: str) -> MemoryItem:
        item = self._items.get(memory_id)
        if item is None:
            raise UnknownMemory(memory_id)
        return item

    def _new_id(self) -> str:
        """Sequential ids (m00000001, m00000002, ...): the model is shown them, so the same episode replayed (same
        seed, same replies) must see the same ids for runs to reproduce."""
        while True:
            self._issued += 1
            memory_id = f"m{self._issued:08x}"
            if memory_id not in self._items:
                return memory_id


def _now() -> tuple[float, str]:
    now = time.time()
    return now, datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds")


def _origin(metadata: Mapping[str, Any]) -> dict[str, Any]:
    return {key: metadata[key] for key in ("timestamp", "source") if key in metadata}


def _mapping(metadata: object) -> Mapping[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise ValueError(f"metadata must be an object (a mapping), got {type(metadata).__name__}")
    return metadata


def _clean_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON round trip, so memory, the file and a reopened store hold the same values (tuples become lists)."""
    tags = metadata.get("tags")
    if not isinstance(tags, list | tuple) or not all(isinstance(tag, str) for tag in tags):
        raise ValueError(f"metadata 'tags' must be a list of strings, got {tags!r}")
    try:
        return json.loads(json.dumps(metadata, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"metadata must be JSON-serialisable: {exc}") from exc


def _record(item: MemoryItem, vector: np.ndarray) -> tuple[Any, ...]:
    return (
        item.id,
        item.content,
        item.memory_type,
        json.dumps(item.metadata),
        vector.tobytes(),
        item.created,
        item.updated,
    )


def _public(item: MemoryItem) -> MemoryItem:
    return replace(item, metadata=copy.deepcopy(item.metadata))


def _matches(item: MemoryItem, metadata_filter: Mapping[str, Any]) -> bool:
    for key, wanted in metadata_filter.items():
        if key == "memory_type":
            if item.memory_type != wanted:
                return False
        elif key == "tags":
            tags = wanted if isinstance(wanted, list | tuple) else [wanted]
            if not all(tag in item.metadata["tags"] for tag in tags):
                return False
        elif key not in item.metadata or item.metadata[key] != wanted:
            return False
    return True
