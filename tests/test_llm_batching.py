"""BatchingModel: concurrent callers share backend batches, each gets its own answers or the batch's error."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from agents.llm.api import ChatModel, ChatRequest, Completion, Message, Usage, chat
from agents.llm.batching import BatchingModel


class EchoBackend:
    spec = "fake/echo"
    label = "echo"

    def __init__(self, delay_s: float = 0.05) -> None:
        self.delay_s = delay_s
        self.batch_sizes: list[int] = []
        self.fail: Exception | None = None
        self.closed = False

    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        self.batch_sizes.append(len(requests))
        time.sleep(self.delay_s)
        if self.fail:
            raise self.fail
        return [Completion("echo:" + r.messages[-1]["content"], Usage(calls=1)) for r in requests]

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return len(messages)

    def close(self) -> None:
        self.closed = True


def ask(text: str) -> ChatRequest:
    return ChatRequest(messages=({"role": "user", "content": text},))


def run_threads(n: int, target) -> list[object]:  # type: ignore[no-untyped-def]
    results: list[object] = [None] * n
    barrier = threading.Barrier(n)

    def work(i: int) -> None:
        barrier.wait()
        try:
            results[i] = target(i)
        except Exception as exc:  # collected for assertions
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return results


def test_concurrent_callers_share_batches_and_get_their_own_answers() -> None:
    backend = EchoBackend()
    model = BatchingModel(backend, wait_s=0.05)
    results = run_threads(8, lambda i: chat(model, [{"role": "user", "content": f"q{i}"}]).text)
    model.close()
    assert results == [f"echo:q{i}" for i in range(8)]
    assert len(backend.batch_sizes) < 8 and sum(backend.batch_sizes) == 8


def test_a_caller_with_several_requests_gets_them_in_order() -> None:
    model = BatchingModel(EchoBackend())
    assert [c.text for c in model.generate([ask("a"), ask("b"), ask("c")])] == ["echo:a", "echo:b", "echo:c"]
    assert model.generate([]) == []
    model.close()


def test_max_batch_is_respected() -> None:
    backend = EchoBackend()
    model = BatchingModel(backend, max_batch=3, wait_s=0.05)
    results = run_threads(8, lambda i: model.generate([ask(str(i))])[0].text)
    model.close()
    assert results == [f"echo:{i}" for i in range(8)]
    assert max(backend.batch_sizes) <= 3 and sum(backend.batch_sizes) == 8


def test_backend_errors_reach_every_caller_of_the_batch_and_the_worker_survives() -> None:
    backend = EchoBackend()
    backend.fail = ValueError("boom")
    model = BatchingModel(backend, wait_s=0.05)
    results = run_threads(4, lambda i: model.generate([ask(str(i))]))
    assert all(isinstance(r, ValueError) and str(r) == "boom" for r in results)
    backend.fail = None
    assert model.generate([ask("again")])[0].text == "echo:again"
    model.close()


def test_close_finishes_queued_calls_then_refuses_new_ones() -> None:
    backend = EchoBackend(delay_s=0.1)
    model = BatchingModel(backend, wait_s=0.0)
    results = run_threads(3, lambda i: model.generate([ask(str(i))])[0].text)
    model.close()
    model.close()  # idempotent
    assert results == ["echo:0", "echo:1", "echo:2"]
    assert backend.closed and not model._worker.is_alive()
    with pytest.raises(RuntimeError, match="closed"):
        model.generate([ask("late")])
    assert model.count_tokens([{"role": "user", "content": "x"}]) == 1
    assert (model.spec, model.label) == ("fake/echo", "echo") and isinstance(model, ChatModel)
