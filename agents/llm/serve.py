"""Any ChatModel behind an OpenAI-compatible chat endpoint on 127.0.0.1, with a ledger of every call.

The memory libraries (Mem0, A-Mem, LangMem) only speak the OpenAI API. The suite puts its `memory` model role
behind this server (in process, one per agent episode, ephemeral port) so that the library's calls reach the
same model as the policy — in-process transformers on CPU, or a vLLM/OpenAI endpoint (proxied) on GPU — and so
that one place counts every call: tokens, wall time, malformed JSON and unparseable tool calls. `agemem-bench
serve` exposes a model the same way for use outside a run.

Tools and response formats are handled in text, the same way for every backend: tool schemas are described in a
system message and `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` blocks in the reply become OpenAI
`tool_calls`; a JSON response format or a named tool choice forces the reply's first characters (`{`, or the
tool-call opening with the name) — the cheap half of constrained decoding, which tiny models need. Nothing in the
reply is executed; it is parsed with json.loads and returned as data.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agents.llm.api import ChatModel, ChatRequest, Usage

TOOL_OPEN, TOOL_CLOSE = "<tool_call>", "</tool_call>"
MAX_BODY = 8 * 1024 * 1024


@dataclass(frozen=True)
class LedgerSnapshot:
    usage: Usage
    counts: Mapping[str, int] = field(default_factory=dict)  # json_invalid, tool_call_invalid, bad_request, error

    def __sub__(self, other: LedgerSnapshot) -> LedgerSnapshot:
        """What happened between two snapshots (e.g. during one memory write)."""
        usage = Usage(*(a - b for a, b in zip(_fields(self.usage), _fields(other.usage), strict=True)))
        keys = set(self.counts) | set(other.counts)
        return LedgerSnapshot(usage, {k: self.counts.get(k, 0) - other.counts.get(k, 0) for k in sorted(keys)})


def _fields(usage: Usage) -> tuple[float, ...]:
    return (usage.prompt_tokens, usage.completion_tokens, usage.calls, usage.seconds)


class Ledger:
    """Thread-safe running totals of the calls served."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._usage = Usage()
        self._counts: Counter[str] = Counter()

    def record(self, usage: Usage | None = None, **counts: int) -> None:
        with self._lock:
            if usage is not None:
                self._usage = self._usage + usage
            self._counts.update({k: v for k, v in counts.items() if v})

    def snapshot(self) -> LedgerSnapshot:
        with self._lock:
            return LedgerSnapshot(self._usage, dict(self._counts))


class BadRequest(ValueError):
    """The client sent something this server cannot serve (answered with HTTP 400 and an OpenAI error body)."""


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # [{"type": "text", "text": ...}, ...]; non-text parts are not supported
        parts = []
        for part in content:
            if not isinstance(part, Mapping) or part.get("type") != "text":
                raise BadRequest("only text content parts are supported")
            parts.append(str(part.get("text", "")))
        return "".join(parts)
    raise BadRequest(f"unsupported message content of type {type(content).__name__}")


def _messages(raw: Any) -> list[dict[str, str]]:
    """OpenAI messages -> plain role/content messages any chat template accepts (tool traffic as text)."""
    if not isinstance(raw, list) or not raw:
        raise BadRequest("'messages' must be a non-empty list")
    out: list[dict[str, str]] = []
    for message in raw:
        if not isinstance(message, Mapping) or message.get("role") not in ("system", "developer", "user",
                                                                           "assistant", "tool"):
            raise BadRequest("each message needs a role of system, developer, user, assistant or tool")
        role, content = str(message["role"]), _text(message.get("content"))
        if role == "developer":
            role = "system"
        if role == "assistant":
            for call in message.get("tool_calls") or []:
                function = call.get("function", {}) if isinstance(call, Mapping) else {}
                content += f'\n{TOOL_OPEN}{{"name": {json.dumps(function.get("name", ""))}, ' \
                           f'"arguments": {function.get("arguments") or "{}"}}}{TOOL_CLOSE}'
        if role == "tool":
            role, content = "user", f"Tool result ({message.get('tool_call_id', '')}):\n{content}"
        out.append({"role": role, "content": content.strip()})
    return out


def _tools_text(tools: Sequence[Any]) -> str:
    lines = ["You can call these functions. To call one, reply with",
             f'{TOOL_OPEN}{{"name": "<function name>", "arguments": {{...}}}}{TOOL_CLOSE}',
             "(one block per call, arguments as JSON matching the parameters). Functions:"]
    for tool in tools:
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if not isinstance(function, Mapping) or not function.get("name"):
            raise BadRequest("each tool needs a function with a name")
        lines.append(json.dumps({k: function[k] for k in ("name", "description", "parameters") if k in function}))
    return "\n".join(lines)


def _format_text(response_format: Mapping[str, Any]) -> str:
    kind = response_format.get("type")
    if kind == "json_object":
        return "Reply with a single JSON object and nothing else."
    if kind == "json_schema":
        schema = response_format.get("json_schema", {})
        return "Reply with a single JSON object matching this JSON schema and nothing else:\n" + json.dumps(
            schema.get("schema", schema) if isinstance(schema, Mapping) else schema)
    if kind in (None, "text"):
        return ""
    raise BadRequest(f"unsupported response_format type {kind!r}")


def parse_tool_calls(text: str) -> tuple[str, list[dict[str, Any]], int]:
    """(text outside the blocks, OpenAI tool_calls, number of blocks that were not a valid call)."""
    calls: list[dict[str, Any]] = []
    invalid, rest, cursor = 0, [], 0
    while (start := text.find(TOOL_OPEN, cursor)) != -1:
        rest.append(text[cursor:start])
        end = text.find(TOOL_CLOSE, start)
        body = text[start + len(TOOL_OPEN) : end if end != -1 else len(text)]
        cursor = end + len(TOOL_CLOSE) if end != -1 else len(text)
        try:
            call = json.loads(body)
        except ValueError:
            call = None
        if (isinstance(call, dict) and isinstance(call.get("name"), str) and call["name"]
                and isinstance(call.get("arguments", {}), dict)):
            calls.append({"id": f"call_{uuid.uuid4().hex[:16]}", "type": "function",
                          "function": {"name": call["name"], "arguments": json.dumps(call.get("arguments", {}))}})
        else:
            invalid += 1
    rest.append(text[cursor:])
    return "".join(rest).strip(), calls, invalid


def _request(body: Mapping[str, Any], max_tokens_cap: int) -> tuple[ChatRequest, bool, bool]:
    """(the ChatRequest, whether tools were offered, whether JSON was asked for)."""
    if body.get("stream"):
        raise BadRequest("streaming is not supported; send stream=false")
    if body.get("n", 1) != 1:
        raise BadRequest("only n=1 is supported")
    messages = _messages(body.get("messages"))
    tools = body.get("tools") or []
    choice = body.get("tool_choice", "auto")
    if choice == "none":
        tools = []
    response_format = body.get("response_format") or {}
    extra = [t for t in (_tools_text(tools) if tools else "", _format_text(response_format)) if t]
    if extra:
        messages.insert(1 if messages[0]["role"] == "system" else 0, {"role": "system", "content": "\n\n".join(extra)})
        if messages[0]["role"] == "system" and messages[1]["role"] == "system":  # one system message for templates
            messages[:2] = [{"role": "system", "content": messages[0]["content"] + "\n\n" + messages[1]["content"]}]
    prefix = ""
    if tools and isinstance(choice, Mapping):
        name = (choice.get("function") or {}).get("name")
        if not any((t.get("function") or {}).get("name") == name for t in tools):
            raise BadRequest(f"tool_choice names an unknown function {name!r}")
        prefix = f'{TOOL_OPEN}{{"name": {json.dumps(name)}, "arguments": '
    elif tools and choice == "required":
        prefix = TOOL_OPEN
    elif response_format.get("type") in ("json_object", "json_schema"):
        prefix = "{"
    stop = body.get("stop") or ()
    try:
        limit = int(body.get("max_completion_tokens") or body.get("max_tokens") or max_tokens_cap)
        request = ChatRequest(
            messages=tuple(messages),
            max_new_tokens=max(1, min(limit, max_tokens_cap)),
            temperature=float(body.get("temperature") if body.get("temperature") is not None else 0.0),
            stop=(stop,) if isinstance(stop, str) else tuple(str(s) for s in stop),
            seed=int(body.get("seed") or 0),
            prefix=prefix,
        )
    except (TypeError, ValueError) as exc:
        raise BadRequest(f"bad sampling parameter: {exc}") from None
    return request, bool(tools), bool(prefix == "{")


class _HTTPServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client that went away mid-request (killed, timed out): nothing to report
        super().handle_error(request, client_address)


class OpenAIServer:
    """Serves `model` at http://127.0.0.1:<port>/v1 from a background thread; use as a context manager."""

    def __init__(self, model: ChatModel, *, host: str = "127.0.0.1", port: int = 0, max_tokens_cap: int = 1024,
                 model_name: str | None = None) -> None:
        self.model, self.max_tokens_cap = model, max_tokens_cap
        self.model_name = model_name or model.spec
        self.ledger = Ledger()
        self._httpd = _HTTPServer((host, port), _handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> OpenAIServer:
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, name="openai-server", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def complete(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """One chat completion in OpenAI's response shape (raises BadRequest for bad input)."""
        request, tools_offered, json_wanted = _request(body, self.max_tokens_cap)
        started = time.perf_counter()
        try:
            completion = self.model.generate([request])[0]
        except Exception:
            self.ledger.record(error=1)
            raise
        usage = Usage(completion.usage.prompt_tokens, completion.usage.completion_tokens, 1,
                      time.perf_counter() - started)
        text, calls, invalid_calls = completion.text, [], 0
        if tools_offered:
            text, calls, invalid_calls = parse_tool_calls(text)
        json_invalid = 0
        if json_wanted:
            try:
                json.loads(text)
            except ValueError:
                json_invalid = 1
        self.ledger.record(usage, json_invalid=json_invalid, tool_call_invalid=invalid_calls,
                           truncated=int(completion.finish_reason == "length"))
        message: dict[str, Any] = {"role": "assistant", "content": text if text or not calls else None}
        if calls:
            message["tool_calls"] = calls
        finish = "tool_calls" if calls else ("length" if completion.finish_reason == "length" else "stop")
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or self.model_name,
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
                      "total_tokens": usage.prompt_tokens + usage.completion_tokens},
        }


def _handler(server: OpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: object) -> None:  # quiet: the ledger is the record
            pass

        def _send(self, status: int, payload: Mapping[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str, kind: str) -> None:
            self._send(status, {"error": {"message": message, "type": kind, "param": None, "code": None}})

        def do_GET(self) -> None:
            if self.path.rstrip("/") in ("/v1/models", "/models"):
                self._send(200, {"object": "list", "data": [
                    {"id": server.model_name, "object": "model", "created": 0, "owned_by": "agemem-bench"}]})
            else:
                self._error(404, f"no route {self.path}", "not_found")

        def do_POST(self) -> None:
            if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
                self._error(404, f"no route {self.path}; this server offers /v1/chat/completions", "not_found")
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
                if length <= 0 or length > MAX_BODY:
                    raise BadRequest(f"request body must be 1 byte to {MAX_BODY} bytes")
                body = json.loads(self.rfile.read(length))
                if not isinstance(body, Mapping):
                    raise BadRequest("the request body must be a JSON object")
                self._send(200, server.complete(body))
            except (BadRequest, json.JSONDecodeError, UnicodeDecodeError) as exc:
                server.ledger.record(bad_request=1)
                self._error(400, str(exc), "invalid_request_error")
            except Exception as exc:  # the model failed: a 500 the client's retry policy can see
                self._error(500, f"{type(exc).__name__}: {exc}", "server_error")

    return Handler


def serve_forever(model: ChatModel, host: str, port: int) -> None:
    """`agemem-bench serve`: block until interrupted, then print what was served."""
    try:
        with OpenAIServer(model, host=host, port=port) as server:
            print(f"serving {model.spec} at {server.base_url} (Ctrl-C to stop)", flush=True)
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                snapshot = server.ledger.snapshot()
                print(f"served {snapshot.usage.calls} calls, {snapshot.usage.prompt_tokens} prompt + "
                      f"{snapshot.usage.completion_tokens} completion tokens; {dict(snapshot.counts)}", flush=True)
    finally:
        model.close()

