"""Any OpenAI-compatible `/v1/chat/completions` server (vllm serve, llama.cpp server, hosted APIs) over httpx.

A batch is sent as concurrent requests. Transient failures (timeouts, connection errors, 429, 5xx, replies that
are not the expected JSON) are retried a bounded number of times with exponential backoff and jitter; other 4xx
fail at once. The API key is read from the environment for every request and never kept on the object, so it
cannot leak into reprs, records or error messages.

Several endpoints serving the same model (data-parallel vLLM servers, one per GPU or node) go in one spec,
comma-separated: `openai/<model>@http://a:8000/v1,http://b:8000/v1`. Each request goes to the endpoint with the
fewest requests in flight, and each retry to the next endpoint, so one endpoint down costs an attempt, not a run.
`concurrency` is per endpoint.

Honest limits: `count_tokens` is an estimate (characters / 4). A reply without a `usage` field is counted with
the same estimate and tallied in `usage_estimated`, so a run can report how many of its numbers are estimates.
Without `continue_final_message` (a vLLM extension) the `prefix` is not forced: it is prepended to the reply
unless the reply already starts with it.
"""

from __future__ import annotations

import math
import os
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from agents.llm.api import ChatRequest, Completion, Message, Usage
from benchmarks.errors import SuiteError


class ModelError(RuntimeError):
    """The model server failed a request for good (retries exhausted, or a non-retryable 4xx)."""


class _Transient(Exception):
    """A failure worth retrying; its message is the reason shown if retries run out."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class OpenAIModel:
    def __init__(
        self,
        model: str,
        base_url: str,
        *,
        api_key_env: str = "OPENAI_API_KEY",
        timeout_s: float = 120.0,
        max_retries: int = 4,
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        concurrency: int = 8,
        continue_final_message: bool = False,
        check_timeout_s: float = 5.0,
    ) -> None:
        if concurrency < 1 or max_retries < 0:
            raise SuiteError("openai options need concurrency >= 1 and max_retries >= 0")
        self.model = model
        self.base_urls = [url.strip().rstrip("/") for url in base_url.split(",") if url.strip()]
        if not self.base_urls:
            raise SuiteError(f"openai model {model!r}: no base URL given")
        self.base_url = ",".join(self.base_urls)
        self.spec = f"openai/{model}@{self.base_url}"
        self.label = model
        self.api_key_env = api_key_env  # the variable's name only, never its value
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.continue_final_message = continue_final_message
        self.check_timeout_s = check_timeout_s
        self.usage_estimated = 0
        self._lock = threading.Lock()
        self._in_flight = [0] * len(self.base_urls)
        self._turn = 0  # round robin among endpoints equally busy
        slots = concurrency * len(self.base_urls)
        self._client = httpx.Client(timeout=timeout_s, limits=httpx.Limits(max_connections=slots))
        self._pool = ThreadPoolExecutor(slots, thread_name_prefix="openai-model")

    def __repr__(self) -> str:
        return f"OpenAIModel(spec={self.spec!r}, api_key_env={self.api_key_env!r})"

    def check(self) -> None:
        """Fail fast, before a run, when a server is down or refuses us (GET /models on every endpoint)."""
        for base_url in self.base_urls:
            try:
                response = self._client.get(f"{base_url}/models", headers=self._headers(),
                                            timeout=self.check_timeout_s)
                reason = f"HTTP {response.status_code}" if response.status_code >= 400 else ""
            except httpx.HTTPError as exc:
                reason = self._scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
            if reason:
                raise SuiteError(f"cannot reach model server at {base_url}: {reason}")

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """An estimate (characters / 4): the server's tokenizer is not available to the client."""
        return math.ceil(sum(len(m["content"]) for m in messages) / 4)

    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        return list(self._pool.map(self._complete, requests))

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._client.close()

    def _complete(self, request: ChatRequest) -> Completion:
        payload = self._payload(request)
        started = time.perf_counter()
        reason = url = ""
        retry_after: float | None = None
        first = self._least_busy()
        for attempt in range(self.max_retries + 1):
            index = (first + attempt) % len(self.base_urls)  # a retry tries the next endpoint
            url = f"{self.base_urls[index]}/chat/completions"
            with self._lock:
                self._in_flight[index] += 1
            try:
                return self._attempt(url, payload, request, started)
            except _Transient as exc:
                reason, retry_after = str(exc), exc.retry_after
            finally:
                with self._lock:
                    self._in_flight[index] -= 1
            if attempt < self.max_retries:
                time.sleep(self._delay(attempt, retry_after))
        raise ModelError(f"model server {url} failed {self.max_retries + 1} times; last: {reason}")

    def _least_busy(self) -> int:
        with self._lock:
            count = len(self.base_urls)
            index = min(range(count), key=lambda i: (self._in_flight[i], (i - self._turn) % count))
            self._turn = (index + 1) % count
            return index

    def _attempt(self, url: str, payload: dict[str, Any], request: ChatRequest, started: float) -> Completion:
        try:
            response = self._client.post(url, json=payload, headers=self._headers())
        except httpx.TimeoutException as exc:
            raise _Transient(f"timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise _Transient(f"connection error ({type(exc).__name__})") from None
        status = response.status_code
        if status == 429 or status >= 500:
            raise _Transient(f"HTTP {status}", _retry_after(response))
        if status >= 400:
            detail = self._scrub(response.text)[:300]
            raise ModelError(f"model server {url} rejected the request: HTTP {status}: {detail}")
        try:
            return self._parse(response.json(), request, time.perf_counter() - started)
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise _Transient(f"malformed reply ({type(exc).__name__}: {self._scrub(response.text)[:100]!r})") from None

    def _payload(self, request: ChatRequest) -> dict[str, Any]:
        messages = [dict(m) for m in request.messages]
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": request.max_new_tokens,
            "temperature": request.temperature,
        }
        if request.temperature > 0:
            payload["seed"] = request.seed
        if request.stop:
            payload["stop"] = list(request.stop)
        if request.prefix and self.continue_final_message:
            messages.append({"role": "assistant", "content": request.prefix})
            payload.update(continue_final_message=True, add_generation_prompt=False)
        return payload

    def _parse(self, data: Any, request: ChatRequest, seconds: float) -> Completion:
        choice = data["choices"][0]
        content = choice["message"]["content"] or ""
        if not isinstance(content, str):
            raise TypeError("message content is not a string")
        usage = data.get("usage")
        if usage:
            prompt_tokens, completion_tokens = int(usage["prompt_tokens"]), int(usage["completion_tokens"])
        else:
            prompt_tokens, completion_tokens = self.count_tokens(request.messages), math.ceil(len(content) / 4)
            with self._lock:
                self.usage_estimated += 1
        unforced_echo = not self.continue_final_message and content.startswith(request.prefix)
        text = content if unforced_echo else request.prefix + content
        finish = "length" if choice.get("finish_reason") == "length" else "stop"
        return Completion(text, Usage(prompt_tokens, completion_tokens, 1, seconds), finish)

    def _headers(self) -> dict[str, str]:
        key = os.environ.get(self.api_key_env)
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _scrub(self, text: str) -> str:
        key = os.environ.get(self.api_key_env)
        return text.replace(key, "***") if key else text

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        delay = min(self.max_backoff_s, self.backoff_s * 2**attempt) * random.uniform(0.5, 1.0)
        return min(self.max_backoff_s, max(delay, retry_after or 0.0))


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None
