"""Deterministic test doubles (tests only, never a product default)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agents.llm.api import ChatRequest, Completion, Message, Usage


class ScriptedModel:
    """A ChatModel whose reply is a function of the messages; tokens are counted as whitespace words."""

    def __init__(self, reply: Callable[[Sequence[Message]], str] | str = "<think>ok</think><answer>ok</answer>",
                 spec: str = "scripted/test") -> None:
        self.reply = reply if callable(reply) else (lambda _messages, text=reply: text)
        self.spec = spec
        self.label = spec
        self.requests: list[ChatRequest] = []
        self._lock = threading.Lock()

    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        out = []
        for request in requests:
            with self._lock:
                self.requests.append(request)
            reply = self.reply(request.messages)
            # like real backends, the forced prefix starts the text; a scripted full reply that already has it is kept
            text = reply if request.prefix and reply.startswith(request.prefix) else request.prefix + reply
            out.append(Completion(text=text, usage=Usage(self.count_tokens(request.messages), len(text.split()), 1)))
        return out

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return sum(len(m["content"].split()) + 4 for m in messages)

    def close(self) -> None:
        pass


class QueueModel(ScriptedModel):
    """Replies with the given outputs in order (then the last one forever); records every request."""

    def __init__(self, outputs: Sequence[str], spec: str = "scripted/queue") -> None:
        self.outputs = list(outputs)
        super().__init__(self._next, spec=spec)

    def _next(self, _messages: Sequence[Message]) -> str:
        return self.outputs.pop(0) if len(self.outputs) > 1 else self.outputs[0]


def tool_call(name: str, **arguments: object) -> str:
    return f"<think>t</think><tool_call>{json.dumps([{'name': name, 'arguments': arguments}])}</tool_call>"


def answer(text: str) -> str:
    return f"<think>t</think><answer>{text}</answer>"


def openai_tool_call(name: str, arguments: dict[str, object]) -> str:
    """A model reply that agents.llm.serve turns into one OpenAI tool call (json.dumps default separators)."""
    return f'<tool_call>{{"name": {json.dumps(name)}, "arguments": {json.dumps(arguments)}}}</tool_call>'


def perf_script(name: str) -> Any:
    """A script of perf/ imported as a module, once (the soak's deterministic model and checks are reused by tests)."""
    import importlib.util
    import sys

    if name not in sys.modules:
        path = Path(__file__).resolve().parent.parent / "perf" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


def write_jsonl(path: Path, rows: Sequence[Any] | str) -> Path:
    """A JSONL file of `rows` (or exactly `text`, for malformed files), its folders created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(rows if isinstance(rows, str) else "".join(json.dumps(r) + "\n" for r in rows))
    return path
