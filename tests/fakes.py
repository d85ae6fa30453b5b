"""Deterministic test doubles (tests only, never a product default)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

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
            text = self.reply(request.messages)
            out.append(Completion(text=text, usage=Usage(self.count_tokens(request.messages), len(text.split()), 1)))
        return out

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return sum(len(m["content"].split()) + 4 for m in messages)

    def close(self) -> None:
        pass
