"""AgeMem's LTM store: tool semantics, filters, ranking, persistence, threads and crash safety (fake embedder)."""

from __future__ import annotations

import hashlib
import json
import random
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Sequence
from contextlib import closing
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.agemem.store import MemoryStore, UnknownMemory

ROOT = Path(__file__).resolve().parents[1]


class HashEmbedder:
    """Deterministic bag-of-words vectors: texts sharing words are similar, as with a real model, but instant."""

    name = "hash-words"
    dim = 32

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in zip(rows, texts, strict=True):
            for word in re.findall(r"\w+", text.lower()):
                seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
                row += np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
        return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


@pytest.fixture
def store() -> MemoryStore:
    with MemoryStore(None, HashEmbedder()) as memory:
        yield memory


def test_add_returns_item_with_automatic_metadata(store: MemoryStore) -> None:
    item = store.add("Paris is the capital of France", {"topic": "geo"})
    assert re.fullmatch(r"m[0-9a-f]{8}", item.id)
    assert item.memory_type == "fact" and item.created == item.updated
    assert item.metadata["topic"] == "geo" and item.metadata["source"] == "agent" and item.metadata["tags"] == []
    stamp = datetime.fromisoformat(item.metadata["timestamp"])
    assert stamp.utcoffset().total_seconds() == 0 and abs(stamp.timestamp() - item.created) < 1
    assert json.loads(json.dumps(item.as_dict())) == item.as_dict()
    assert store.get(item.id) == item and item.id in store and len(store) == 1


def test_given_source_and_tags_win_and_metadata_is_a_copy(store: MemoryStore) -> None:
    item = store.add("x", {"source": "user", "tags": ["a"]}, memory_type="preference")
    assert item.metadata["source"] == "user" and item.metadata["tags"] == ["a"] and item.memory_type == "preference"
    item.metadata["tags"].append("mutated")
    assert store.get(item.id).metadata["tags"] == ["a"]
    assert MemoryStore(None, HashEmbedder(), source="stage1").add("y").metadata["source"] == "stage1"


@pytest.mark.parametrize("metadata", [{"bad": object()}, {"nan": float("nan")}, {"tags": "a"}, ["not", "a dict"]])
def test_bad_metadata_is_rejected_and_nothing_is_stored(store: MemoryStore, metadata: object) -> None:
    with pytest.raises(ValueError, match="metadata"):
        store.add("x", metadata)  # type: ignore[arg-type]
    assert len(store) == 0


def test_update_replaces_content_embedding_and_metadata(store: MemoryStore) -> None:
    item = store.add("the meeting is on monday", {"tags": ["work"], "who": "ann"})
    time.sleep(0.01)
    kept = store.update(item.id, "the meeting moved to friday")
    assert kept.content == "the meeting moved to friday" and kept.created == item.created
    assert kept.updated > item.updated and "modified" in kept.metadata
    assert {k: v for k, v in kept.metadata.items() if k != "modified"} == item.metadata
    assert store.retrieve("friday meeting", top_k=1)[0][1] > store.retrieve("monday", top_k=1)[0][1]
    replaced = store.update(item.id, "friday", {"who": "bob"})
    assert replaced.metadata["who"] == "bob" and replaced.metadata["tags"] == []
    assert replaced.metadata["timestamp"] == item.metadata["timestamp"] and replaced.metadata["source"] == "agent"
    assert [i.id for i in store.items()] == [item.id] and store.get(item.id) == replaced


def test_delete_and_unknown_ids(store: MemoryStore) -> None:
    keep, gone = store.add("keep"), store.add("gone")
    store.delete(gone.id)
    assert gone.id not in store and [i.id for i in store.items()] == [keep.id]
    for call in (lambda: store.get(gone.id), lambda: store.delete(gone.id), lambda: store.update("m404", "x")):
        with pytest.raises(UnknownMemory) as info:
            call()
        assert str(info.value) in (f"no memory with id '{gone.id}'", "no memory with id 'm404'")
    assert isinstance(info.value, KeyError) and info.value.memory_id == "m404"


def test_retrieve_ranks_by_cosine_and_limits_top_k(store: MemoryStore) -> None:
    ids = [store.add(text).id for text in ("red apple pie", "green apple", "blue car engine", "fast red car")]
    hits = store.retrieve("apple", top_k=2)
    assert {item.id for item, _ in hits} == set(ids[:2])
    scores = [score for _, score in store.retrieve("red car", top_k=10)]
    assert len(scores) == 4 and scores == sorted(scores, reverse=True) and scores[0] <= 1 + 1e-6
    assert store.retrieve("red car", top_k=1)[0][0].id == ids[3]
    with pytest.raises(ValueError, match="top_k"):
        store.retrieve("x", top_k=0)
    assert MemoryStore(None, HashEmbedder()).retrieve("anything") == []


def test_ties_keep_insertion_order_after_deletes() -> None:
    store = MemoryStore(None)
    same, other = unit(1, 0, 0), unit(0, 1, 0)
    a, b, c = (store.add(name, embedding=same).id for name in "abc")
    store.add("far", embedding=other)
    d = store.add("d", embedding=same * 3).id  # not normalised: the store normalises
    store.delete(a)  # moves the last row into the hole; ranking must still follow insertion order
    hits = store.retrieve("q", top_k=3, embedding=same)
    assert [item.id for item, _ in hits] == [b, c, d]
    assert [score for _, score in hits] == pytest.approx([1.0, 1.0, 1.0])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["add", "update", "delete"]), st.integers(0, 50), st.integers(0, 3))))
def test_index_matches_brute_force_after_any_edits(ops: list[tuple[str, int, int]]) -> None:
    """Random adds/updates/deletes (few distinct vectors, so many ties) vs a plain ordered dict ranked by numpy."""
    vectors = [unit(1, 0, 0), unit(1, 1, 0), unit(0, 1, 1), unit(1, 1, 1)]
    store, reference = MemoryStore(None), {}  # id -> vector index, in insertion order
    for op, pick, vector in ops:
        if op == "add" or not reference:
            reference[store.add("x", embedding=vectors[vector]).id] = vector
        elif op == "update":
            target = list(reference)[pick % len(reference)]
            store.update(target, "y", embedding=vectors[vector])
            reference[target] = vector
        else:
            target = list(reference)[pick % len(reference)]
            store.delete(target)
            del reference[target]
    for query in vectors:
        ids = list(reference)
        scores = np.array([vectors[reference[i]] @ query for i in ids])
        expected = [ids[i] for i in np.lexsort((np.arange(len(ids)), -scores))[:3]]
        assert [item.id for item, _ in store.retrieve("q", top_k=3, embedding=query)] == expected
    assert [item.id for item in store.items()] == list(reference)


def test_explicit_embeddings_are_validated() -> None:
    store = MemoryStore(None)
    with pytest.raises(ValueError, match="no embedder"):
        store.add("x")
    store.add("x", embedding=unit(1, 0))
    for bad in (unit(1, 0, 0), np.zeros(2), np.array([np.inf, 1.0])):
        with pytest.raises(ValueError, match=r"dimension|non-zero"):
            store.add("y", embedding=bad)
    assert len(store) == 1


def test_metadata_filter(store: MemoryStore) -> None:
    paris = store.add("Paris France capital", {"tags": ["geo", "eu"], "year": 2024})
    store.add("Paris Texas film", {"tags": ["film"], "year": 1984}, memory_type="episode")
    rome = store.add("Rome Italy capital", {"tags": ["geo"], "year": 2024})

    def ids(flt: dict) -> set[str]:
        return {item.id for item, _ in store.retrieve("Paris", top_k=5, metadata_filter=flt)}

    assert ids({"tags": ["geo"]}) == {paris.id, rome.id}
    assert ids({"tags": "geo"}) == {paris.id, rome.id}
    assert ids({"tags": ["geo", "eu"]}) == {paris.id}
    assert ids({"memory_type": "fact", "year": 2024}) == {paris.id, rome.id}
    assert ids({"year": 1984, "memory_type": "fact"}) == set()
    assert ids({"missing": None}) == set()
    # filter first, then top-k: the best match overall (Paris film) does not crowd out the filtered ones
    assert [i.id for i, _ in store.retrieve("Paris Texas", top_k=1, metadata_filter={"tags": ["geo"]})] == [paris.id]


def test_reopen_gives_same_items_and_results(tmp_path: Path) -> None:
    path = tmp_path / "scope" / "ltm.sqlite"
    with MemoryStore(path, HashEmbedder()) as store:
        for i in range(30):
            store.add(f"note {i} about topic {i % 4}", {"i": i, "tags": [f"t{i % 3}"]})
        first = store.items()
        store.update(first[3].id, "rewritten note", {"i": -1})
        store.delete(first[5].id)
        before_items = [i.as_dict() for i in store.items()]
        before_hits = [(i.id, s) for i, s in store.retrieve("topic 2 note", top_k=5, metadata_filter={"tags": "t1"})]
    with MemoryStore(path, HashEmbedder()) as store:
        assert [i.as_dict() for i in store.items()] == before_items
        hits = [(i.id, s) for i, s in store.retrieve("topic 2 note", top_k=5, metadata_filter={"tags": "t1"})]
        assert [h[0] for h in hits] == [h[0] for h in before_hits]
        assert [h[1] for h in hits] == pytest.approx([h[1] for h in before_hits])
        store.add("after reopen")  # new rows still rank after the reloaded ones on ties
        assert len(store) == 30


def test_reopen_with_another_embedder_is_refused(tmp_path: Path) -> None:
    MemoryStore(tmp_path / "m.sqlite", HashEmbedder()).close()
    other = HashEmbedder()
    other.name = "other-model"
    with pytest.raises(ValueError, match="hash-words"):
        MemoryStore(tmp_path / "m.sqlite", other)


def test_concurrent_adds_retrievals_and_deletes(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path / "ltm.sqlite", HashEmbedder())
    added: list[list[str]] = [[] for _ in range(8)]
    doomed = [store.add(f"doomed{i}").id for i in range(40)]
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(40):
                added[t].append(store.add(f"thread{t}item{i}").id)
                store.retrieve(f"thread{t}item{i}", top_k=3)
                if i % 8 == 0:
                    store.delete(doomed[t * 5 + i // 8])
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    all_ids = [i for ids in added for i in ids]
    assert len(set(all_ids)) == 320 and len(store) == 320 and all(i in store for i in all_ids)
    for memory_id in all_ids:  # each row of the index still belongs to its item
        item = store.get(memory_id)
        assert store.retrieve(item.content, top_k=1)[0][0].id == memory_id
    store.close()
    with MemoryStore(tmp_path / "ltm.sqlite", HashEmbedder()) as reopened:
        assert sorted(i.id for i in reopened.items()) == sorted(all_ids)


CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    sys.path.insert(0, {root!r})
    from agents.agemem.store import MemoryStore
    store = MemoryStore({path!r})
    rng = np.random.default_rng({seed})
    i = 0
    while True:
        item = store.add(f"fact {{i}}", {{"i": i}}, embedding=rng.standard_normal(16))
        print(item.id, flush=True)
        i += 1
    """
)


def _kill_child_while_adding(path: Path, seed: int, *, min_ids: int, extra_seconds: float) -> list[str]:
    """Ids the child printed (= adds that returned) before SIGKILL hit it mid-loop."""
    code = CHILD.format(root=str(ROOT), path=str(path), seed=seed)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    printed = []
    try:
        while len(printed) < min_ids:
            line = child.stdout.readline()
            assert line, "the child exited before adding anything"
            printed.append(line.strip())
        time.sleep(extra_seconds)
    finally:
        child.send_signal(signal.SIGKILL)
        rest, _ = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    printed += [line for line in rest.split("\n") if re.fullmatch(r"m[0-9a-f]{8}", line)]  # a cut last line is no id
    return printed


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_an_add_that_returned_survives_sigkill(tmp_path: Path, seed: int) -> None:
    path = tmp_path / "ltm.sqlite"
    moment = random.Random(seed).uniform(0.0, 0.3) if seed else 0.0  # seed 0: right after the 20th id
    printed = _kill_child_while_adding(path, seed, min_ids=20, extra_seconds=moment)
    if seed == 2:  # a second crash on a store that already went through one
        printed += _kill_child_while_adding(path, seed + 10, min_ids=5, extra_seconds=0.05)
    with MemoryStore(path) as store:
        missing = [memory_id for memory_id in printed if memory_id not in store]
        assert not missing and len(store) >= len(printed)
        last = store.items()[-1]
        with closing(sqlite3.connect(path)) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            blob = db.execute("SELECT embedding FROM items WHERE id=?", (last.id,)).fetchone()[0]
        assert store.retrieve("q", top_k=1, embedding=np.frombuffer(blob, dtype=np.float32))[0][0].id == last.id


def test_ids_are_sequential_so_a_replayed_episode_sees_the_same_ids(tmp_path: Path) -> None:
    def episode(path: Path | None) -> list[str]:
        with MemoryStore(path, HashEmbedder()) as memory:
            first = memory.add("alpha fact")
            memory.add("beta fact")
            memory.delete(first.id)
            return [memory.add("gamma fact").id, *(i.id for i in memory.items())]

    assert episode(None) == episode(tmp_path / "a.sqlite") == ["m00000003", "m00000002", "m00000003"]
    with MemoryStore(tmp_path / "a.sqlite", HashEmbedder()) as reopened:  # a reopened store continues the count
        assert reopened.add("delta fact").id == "m00000004" and len(reopened) == 3
