"""Gather the `generate` calls of concurrent episodes into batches for one backend.

Each episode runs in its own thread and calls `generate` as if it owned the model. One worker thread blocks for
the first pending call, gathers whatever else arrives within `wait_s` (up to `max_batch` requests), runs the
backend once on all of them and hands every caller its own completions (or the backend's exception). It stops
waiting as soon as every caller currently inside `generate` is in the batch, so a lone episode never waits.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from agents.llm.api import ChatModel, ChatRequest, Completion, Message


@dataclass
class _Call:
    requests: list[ChatRequest]
    result: Future[list[Completion]] = field(default_factory=Future)


class BatchingModel:
    """A ChatModel that owns `backend`: closing it stops the worker and closes the backend."""

    def __init__(self, backend: ChatModel, *, max_batch: int = 16, wait_s: float = 0.02) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        self.backend = backend
        self.spec = backend.spec
        self.label = backend.label
        self.max_batch = max_batch
        self.wait_s = wait_s
        self._queue: queue.Queue[_Call | None] = queue.Queue()
        self._lock = threading.Lock()
        self._closed = False
        self._callers = 0  # threads currently inside generate()
        self._worker = threading.Thread(target=self._run, name="batching-model", daemon=True)
        self._worker.start()

    def __repr__(self) -> str:
        return f"BatchingModel({self.backend!r}, max_batch={self.max_batch})"

    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        if not requests:
            return []
        call = _Call(list(requests))
        with self._lock:  # nothing may be queued behind the shutdown sentinel
            if self._closed:
                raise RuntimeError("BatchingModel is closed")
            self._callers += 1
            self._queue.put(call)
        try:
            return call.result.result()
        finally:
            with self._lock:
                self._callers -= 1

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return self.backend.count_tokens(messages)

    def close(self) -> None:
        """Finish the calls already queued, stop the worker, then close the backend."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._worker.join()
        self.backend.close()

    def _run(self) -> None:
        carry: _Call | None = None
        while True:
            first = carry or self._queue.get()
            carry = None
            if first is None:
                return
            batch, size, stop = [first], len(first.requests), False
            deadline = time.monotonic() + self.wait_s
            while size < self.max_batch and len(batch) < self._callers:
                try:
                    call = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if call is None:
                    stop = True
                    break
                if size + len(call.requests) > self.max_batch:
                    carry = call  # starts the next batch instead of overfilling this one
                    break
                batch.append(call)
                size += len(call.requests)
            self._dispatch(batch)
            if stop:
                return

    def _dispatch(self, batch: list[_Call]) -> None:
        requests = [r for call in batch for r in call.requests]
        try:
            completions = self.backend.generate(requests)
            if len(completions) != len(requests):
                raise RuntimeError(f"backend returned {len(completions)} completions for {len(requests)} requests")
        except Exception as exc:
            if len(batch) > 1:  # whose request failed is unknown: each caller gets a try of its own
                for call in batch:
                    self._dispatch([call])
                return
            batch[0].result.set_exception(exc)
            return
        except BaseException as exc:  # every caller of the batch sees it; the worker lives on
            for call in batch:
                call.result.set_exception(exc)
            return
        start = 0
        for call in batch:
            call.result.set_result(completions[start : start + len(call.requests)])
            start += len(call.requests)
