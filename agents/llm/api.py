"""One chat interface for every model backend, with token usage per call.

Backends take a batch of requests at once: in-process models generate them as one padded batch, servers send
them concurrently. Agents call `ChatModel.chat` from their own thread; `BatchingModel` gathers the calls of
concurrent episodes into such batches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

Message = Mapping[str, str]  # {"role": "system" | "user" | "assistant" | "tool", "content": ...}

ROLES = ("policy", "judge", "memory", "summarizer")


@dataclass(frozen=True)
class ChatRequest:
    messages: tuple[Message, ...]
    max_new_tokens: int = 256
    temperature: float = 0.0  # 0 = greedy
    stop: tuple[str, ...] = ()
    seed: int = 0
    prefix: str = ""  # forced start of the reply (continued by the model, included in Completion.text)


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0
    seconds: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.calls + other.calls,
            self.seconds + other.seconds,
        )

    def as_dict(self) -> dict[str, float]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "calls": self.calls,
            "seconds": round(self.seconds, 4),
        }


@dataclass(frozen=True)
class Completion:
    text: str
    usage: Usage
    finish_reason: str = "stop"  # "stop" | "length" | "error"
    token_ids: tuple[int, ...] = field(default=(), repr=False)  # generated ids when the backend exposes them


@runtime_checkable
class ChatModel(Protocol):
    spec: str  # the resolved model spec, recorded with every result
    label: str  # short human name for leaderboards

    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]: ...

    def count_tokens(self, messages: Sequence[Message]) -> int: ...

    def close(self) -> None: ...


def chat(model: ChatModel, messages: Sequence[Message], **options: object) -> Completion:
    """A single request: the common case for agent code."""
    return model.generate([ChatRequest(messages=tuple(messages), **options)])[0]  # type: ignore[arg-type]
