"""Does gathering concurrent episodes into one batch pay off? Sequential vs BatchingModel on the same prompts.

Builds N made-up HotpotQA-style prompts (~300 tokens: a few supporting paragraphs, a short question at the end),
runs them (a) one at a time and (b) from N threads through BatchingModel, greedy, and prints wall times, the
generated-token throughput ratio and how many greedy outputs are identical between the two modes.

    python perf/concurrency_throughput.py [--model SPEC] [--n 8] [--max-new-tokens 48] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.llm.api import ChatModel, ChatRequest, Completion  # noqa: E402
from agents.llm.batching import BatchingModel  # noqa: E402
from agents.llm.spec import EMBEDDED_MODEL_SPEC, load_model  # noqa: E402

PEOPLE = ["Ada Lindqvist", "Tomas Okafor", "Mira Castellanos", "Jonah Whitlock", "Elif Demir", "Rafael Souza",
          "Hana Kobayashi", "Pieter van Dam", "Noor Haddad", "Ivan Petrov"]
PLACES = ["Bergen", "Lagos", "Valparaiso", "Hobart", "Izmir", "Recife", "Sapporo", "Utrecht", "Amman", "Kazan"]
FIELDS = ["marine biology", "architecture", "astronomy", "linguistics", "glassmaking", "cartography",
          "botany", "clockmaking", "oceanography", "printmaking"]


def hotpot_prompt(i: int) -> list[dict[str, str]]:
    """Two-hop question over three short invented paragraphs; the answer needs both supporting facts."""
    k = len(PEOPLE)
    person, mentor, other = PEOPLE[i % k], PEOPLE[(i + 3) % k], PEOPLE[(i + 6) % k]
    town, town2 = PLACES[i % k], PLACES[(i + 4) % k]
    field, field2 = FIELDS[i % k], FIELDS[(i + 5) % k]
    paragraphs = [
        f"{person} (born 19{50 + i}) is a researcher in {field}. {person} grew up in {town}, where the family ran a "
        f"small bookshop near the harbour. After studying in {town2}, {person} joined the institute founded by "
        f"{mentor} and published several monographs on the history of {field}, two of which won national prizes.",
        f"{mentor} is a scholar known for work on {field2} and for founding the {town2} Institute of Applied "
        f"Studies in 19{30 + i}. {mentor} was born in {PLACES[(i + 7) % k]} and taught for three decades before "
        f"retiring to a farm outside {town}. The institute later opened branches in {PLACES[(i + 2) % k]}.",
        f"{other} is a novelist from {PLACES[(i + 8) % k]}. Critics compare the novels of {other} to the essays of "
        f"{person}, although the two never met. {other} has written about {field2}, the sea and old maps, and "
        f"lives in {PLACES[(i + 9) % k]} with two cats and a large collection of antique clocks.",
    ]
    context = "\n\n".join(f"Paragraph {j + 1}: {text}" for j, text in enumerate(paragraphs))
    question = f"In which city was the founder of the institute that {person} joined born?"
    return [
        {"role": "system", "content": "Answer the question using the paragraphs. Reply with a short answer."},
        {"role": "user", "content": f"{context}\n\nQuestion: {question}"},
    ]


class CountingBackend:
    """Passes calls through and records batch sizes, to show how BatchingModel grouped the threads."""

    def __init__(self, backend: ChatModel) -> None:
        self.backend = backend
        self.spec, self.label = backend.spec, backend.label
        self.batch_sizes: list[int] = []

    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        self.batch_sizes.append(len(requests))
        return self.backend.generate(requests)

    def count_tokens(self, messages: Sequence[dict[str, str]]) -> int:
        return self.backend.count_tokens(messages)

    def close(self) -> None:
        self.backend.close()


def run_batched(model: BatchingModel, requests: list[ChatRequest]) -> list[Completion]:
    results: list[Completion | None] = [None] * len(requests)
    barrier = threading.Barrier(len(requests))

    def episode(i: int) -> None:
        barrier.wait()
        results[i] = model.generate([requests[i]])[0]

    threads = [threading.Thread(target=episode, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [r for r in results if r is not None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=EMBEDDED_MODEL_SPEC)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    started = time.perf_counter()
    backend = CountingBackend(load_model(args.model, threads=args.threads))
    print(f"model: {backend.spec} ({backend.label}), loaded in {time.perf_counter() - started:.1f} s")
    requests = [
        ChatRequest(messages=tuple(hotpot_prompt(i)), max_new_tokens=args.max_new_tokens) for i in range(args.n)
    ]
    prompt_tokens = [backend.count_tokens(r.messages) for r in requests]
    print(f"n={args.n} prompts, {min(prompt_tokens)}-{max(prompt_tokens)} prompt tokens, greedy, "
          f"max_new_tokens={args.max_new_tokens}, torch threads={args.threads}")

    started = time.perf_counter()
    sequential = [backend.generate([r])[0] for r in requests]
    seq_wall = time.perf_counter() - started

    backend.batch_sizes.clear()
    batching = BatchingModel(backend, max_batch=args.n, wait_s=0.2)
    started = time.perf_counter()
    batched = run_batched(batching, requests)
    batch_wall = time.perf_counter() - started
    batching.close()

    seq_tokens = sum(c.usage.completion_tokens for c in sequential)
    batch_tokens = sum(c.usage.completion_tokens for c in batched)
    identical = sum(a.text == b.text for a, b in zip(sequential, batched))
    print(f"sequential: {seq_wall:6.2f} s wall, {seq_tokens} generated tokens, {seq_tokens / seq_wall:6.2f} tok/s")
    print(
        f"batched:    {batch_wall:6.2f} s wall, {batch_tokens} generated tokens, "
        f"{batch_tokens / batch_wall:6.2f} tok/s (backend batches: {backend.batch_sizes})"
    )
    print(f"throughput ratio batched/sequential: {(batch_tokens / batch_wall) / (seq_tokens / seq_wall):.2f}x")
    print(f"identical greedy outputs: {identical}/{args.n}")
    print(f"sample answer: {sequential[0].text!r}")


if __name__ == "__main__":
    main()
