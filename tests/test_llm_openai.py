"""OpenAIModel against a local fake OpenAI-compatible server: usage, retries, errors, concurrency, key hygiene."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from agents.llm.api import ChatRequest
from agents.llm.openai_backend import ModelError, OpenAIModel
from benchmarks.errors import SuiteError

KEY = "sk-test-SECRET-0123456789"


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.behaviours: deque[str] = deque()  # consumed one per POST; "ok" when empty
        self.delay_s = 0.0
        self.seen: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class Handler(BaseHTTPRequestHandler):
    server: FakeServer

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._send(200, json.dumps({"object": "list", "data": [{"id": "fake"}]}))

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.seen.append({"body": body, "auth": self.headers.get("Authorization")})
            behaviour = self.server.behaviours.popleft() if self.server.behaviours else "ok"
        time.sleep(self.server.delay_s)
        if behaviour == "sleep":
            time.sleep(1.0)
        elif behaviour in ("500", "429"):
            self._send(int(behaviour), "overloaded")
            return
        elif behaviour == "400":  # a server that echoes the credentials it got
            self._send(400, f"bad request from {self.headers.get('Authorization')}")
            return
        elif behaviour == "garbage":
            self._send(200, "{not json")
            return
        reply: dict[str, Any] = {
            "choices": [
                {"message": {"role": "assistant", "content": "re:" + body["messages"][-1]["content"]},
                 "finish_reason": "length" if body["max_tokens"] <= 3 else "stop"}
            ]
        }
        if behaviour != "no-usage":
            reply["usage"] = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
        self._send(200, json.dumps(reply))

    def _send(self, status: int, text: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _serving() -> Iterator[FakeServer]:
    fake = FakeServer()
    thread = threading.Thread(target=fake.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield fake
    fake.shutdown()
    fake.server_close()


server = pytest.fixture(_serving, name="server")
second_server = pytest.fixture(_serving, name="second_server")


@pytest.fixture()
def model(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIModel]:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    client = OpenAIModel("fake", server.base_url, timeout_s=0.5, max_retries=2, backoff_s=0.01, max_backoff_s=0.05)
    yield client
    client.close()


def ask(text: str, **options: Any) -> ChatRequest:
    return ChatRequest(messages=({"role": "user", "content": text},), **options)


def test_success_reports_server_usage_and_sends_the_key(model: OpenAIModel, server: FakeServer) -> None:
    [completion] = model.generate([ask("hi", stop=("\n",), temperature=0.7, seed=5, max_new_tokens=20)])
    assert completion.text == "re:hi" and completion.finish_reason == "stop"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens, completion.usage.calls) == (11, 7, 1)
    sent = server.seen[0]
    assert sent["auth"] == f"Bearer {KEY}"
    assert sent["body"]["stop"] == ["\n"] and sent["body"]["seed"] == 5 and sent["body"]["max_tokens"] == 20
    assert model.usage_estimated == 0


def test_length_finish_reason(model: OpenAIModel) -> None:
    assert model.generate([ask("hi", max_new_tokens=3)])[0].finish_reason == "length"


def test_missing_usage_is_estimated_and_tallied(model: OpenAIModel, server: FakeServer) -> None:
    server.behaviours.append("no-usage")
    completion = model.generate([ask("12345678")])[0]
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (2, 3)  # ceil(8/4), ceil(11/4)
    assert model.usage_estimated == 1


@pytest.mark.parametrize("failure", ["500", "429", "garbage"])
def test_transient_failures_are_retried(model: OpenAIModel, server: FakeServer, failure: str) -> None:
    server.behaviours.extend([failure, failure])
    assert model.generate([ask("x")])[0].text == "re:x"
    assert len(server.seen) == 3


def test_client_errors_are_not_retried_and_never_show_the_key(model: OpenAIModel, server: FakeServer) -> None:
    server.behaviours.append("400")
    with pytest.raises(ModelError, match="HTTP 400") as info:
        model.generate([ask("x")])
    assert len(server.seen) == 1
    assert KEY not in str(info.value) and "***" in str(info.value)


def test_timeouts_give_up_after_bounded_retries(model: OpenAIModel, server: FakeServer) -> None:
    server.behaviours.extend(["sleep"] * 5)
    started = time.perf_counter()
    with pytest.raises(ModelError, match="failed 3 times; last: timed out") as info:
        model.generate([ask("x")])
    assert len(server.seen) == 3 and time.perf_counter() - started < 3
    assert KEY not in str(info.value)


def test_persistent_garbage_raises_model_error(model: OpenAIModel, server: FakeServer) -> None:
    server.behaviours.extend(["garbage"] * 3)
    with pytest.raises(ModelError, match="malformed reply"):
        model.generate([ask("x")])


def test_requests_run_concurrently_and_keep_their_order(model: OpenAIModel, server: FakeServer) -> None:
    server.delay_s = 0.3
    started = time.perf_counter()
    completions = model.generate([ask(f"q{i}") for i in range(8)])
    elapsed = time.perf_counter() - started
    assert [c.text for c in completions] == [f"re:q{i}" for i in range(8)]
    assert elapsed < 1.2, elapsed  # sequential would take 8 * 0.3 s


def test_prefix_without_continue_final_message_is_prepended(model: OpenAIModel, server: FakeServer) -> None:
    assert model.generate([ask("x", prefix="<a>")])[0].text == "<a>re:x"
    assert [m["role"] for m in server.seen[0]["body"]["messages"]] == ["user"]


def test_prefix_with_continue_final_message_is_sent_as_partial_reply(server: FakeServer) -> None:
    client = OpenAIModel("fake", server.base_url, continue_final_message=True)
    try:
        assert client.generate([ask("x", prefix="<a>")])[0].text == "<a>re:<a>"
    finally:
        client.close()
    body = server.seen[0]["body"]
    assert body["messages"][-1] == {"role": "assistant", "content": "<a>"}
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False


def test_the_key_is_never_kept_on_the_model(model: OpenAIModel) -> None:
    assert KEY not in repr(model) and KEY not in repr(vars(model))
    assert model.count_tokens([{"role": "user", "content": "abcdefgh"}]) == 2


def test_check_passes_on_a_live_server_and_fails_on_a_closed_port(model: OpenAIModel) -> None:
    model.check()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead = OpenAIModel("fake", f"http://127.0.0.1:{port}/v1", check_timeout_s=0.5)
    try:
        with pytest.raises(SuiteError, match=rf"cannot reach model server at http://127.0.0.1:{port}/v1: ") as info:
            dead.check()
        assert "\n" not in str(info.value)
    finally:
        dead.close()


# ---- several endpoints behind one spec ----------------------------------------------------------------------------


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


def test_requests_spread_over_several_endpoints(server: FakeServer, second_server: FakeServer) -> None:
    server.delay_s = second_server.delay_s = 0.05
    urls = f"{server.base_url}, {second_server.base_url}/"
    client = OpenAIModel("fake", urls, concurrency=2, max_retries=0)
    try:
        assert client.spec == f"openai/fake@{server.base_url},{second_server.base_url}"
        client.check()
        done = client.generate([ask(f"q{i}") for i in range(12)])
    finally:
        client.close()
    assert [c.text for c in done] == [f"re:q{i}" for i in range(12)]
    assert len(server.seen) + len(second_server.seen) == 12
    assert min(len(server.seen), len(second_server.seen)) >= 4  # least busy first: neither endpoint idles


def test_a_dead_endpoint_costs_one_attempt_and_check_names_it(server: FakeServer) -> None:
    dead = _closed_port_url()
    client = OpenAIModel("fake", f"{dead},{server.base_url}", max_retries=1, backoff_s=0.0, max_backoff_s=0.0,
                         check_timeout_s=0.5, timeout_s=0.5)
    try:
        done = client.generate([ask(f"q{i}") for i in range(6)])
        assert [c.text for c in done] == [f"re:q{i}" for i in range(6)]  # a retry goes to the other endpoint
        assert len(server.seen) == 6
        with pytest.raises(SuiteError, match=rf"cannot reach model server at {dead}: "):
            client.check()
    finally:
        client.close()


def test_an_empty_endpoint_list_is_a_one_line_error() -> None:
    with pytest.raises(SuiteError, match="no base URL"):
        OpenAIModel("fake", " , ")
