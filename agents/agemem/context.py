"""Short-term memory: the message list the agent owns and rewrites with Summary_context and Filter_context.

Rules (documented choices where the paper is silent):
- The system prompt is never summarised, filtered or truncated; neither is the newest user message (the
  observation being worked on), so a rewrite can never make the agent lose its current task or question.
- A "round" of the paper's Summary span is one message of any role; `span=N` covers the N messages before
  the call, `"all"` every rewritable message.
- Filter removes messages whose cosine similarity to the criteria is >= theta (the criteria describes what to
  remove).
- When the prompt would exceed the token budget, the overflow is recorded and the oldest rewritable messages
  are dropped until it fits: the model never sees a prompt longer than the budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.embeddings import Embedder
from agents.llm.api import ChatModel, ChatRequest, Message, Usage

SUMMARY_PROMPT = """Condense the conversation excerpt below into a short note for your own later use.
Keep every fact (names, dates, numbers, places), every intention and decision, and every open question.
Drop greetings, repetition and anything irrelevant. Write plain sentences, no preamble."""

SUMMARY_HEADER = "[Summary of earlier context]"


@dataclass(frozen=True)
class Rewrite:
    removed: int  # messages taken out of the context
    usage: Usage = Usage()  # summarizer calls made for it
    summary: str = ""


class Context:
    def __init__(self, system_prompt: str, counter: ChatModel, *, budget_tokens: int = 8192) -> None:
        self.system: Message = {"role": "system", "content": system_prompt}
        self.messages: list[Message] = []
        self.counter = counter  # the policy model: its tokenizer defines what a token is
        self.budget_tokens = budget_tokens
        self.overflow_events = 0
        self.dropped_messages = 0

    def reset(self) -> None:
        """A new session: short-term memory starts over (long-term memory lives elsewhere)."""
        self.messages = []

    def add(self, role: str, content: str) -> None:
        self.messages.append({"role": role, "content": content})

    def prompt(self) -> list[Message]:
        return [self.system, *self.messages]

    def tokens(self) -> int:
        return self.counter.count_tokens(self.prompt())

    def fit(self, reserve_tokens: int) -> int:
        """Make room for a reply of `reserve_tokens`; returns the prompt size. Overflow is recorded, then fixed."""
        used = self.tokens()
        if used + reserve_tokens <= self.budget_tokens:
            return used
        self.overflow_events += 1
        while used + reserve_tokens > self.budget_tokens and self._rewritable():
            del self.messages[self._rewritable()[0]]
            self.dropped_messages += 1
            used = self.tokens()
        return used

    def _rewritable(self) -> list[int]:
        """Indices of messages a rewrite may touch: all but the newest user message."""
        newest_user = max((i for i, m in enumerate(self.messages) if m["role"] == "user"), default=-1)
        return [i for i in range(len(self.messages)) if i != newest_user]

    def summarize(self, span: str | int, summarizer: ChatModel, *, exclude_last: int = 0,
                  max_new_tokens: int = 256) -> Rewrite:
        """Replace the span with one summary message written by the summarizer role.

        `exclude_last` keeps the newest messages (the assistant turn that asked for the summary) out of the span.
        """
        candidates = [i for i in self._rewritable() if i < len(self.messages) - exclude_last]
        chosen = candidates if span == "all" else candidates[-int(span):]
        if not chosen:
            return Rewrite(removed=0)
        excerpt = "\n".join(f"{self.messages[i]['role']}: {self.messages[i]['content']}" for i in chosen)
        completion = summarizer.generate([ChatRequest(
            messages=({"role": "system", "content": SUMMARY_PROMPT}, {"role": "user", "content": excerpt}),
            max_new_tokens=max_new_tokens,
        )])[0]
        summary = completion.text.strip()
        note: Message = {"role": "user", "content": f"{SUMMARY_HEADER}\n{summary}"}
        kept = [m for i, m in enumerate(self.messages) if i not in set(chosen)]
        kept.insert(chosen[0], note)  # the summary takes the place of the span
        self.messages = kept
        return Rewrite(removed=len(chosen), usage=completion.usage, summary=summary)

    def filter(self, criteria: str, embedder: Embedder, *, theta: float = 0.6, exclude_last: int = 0) -> Rewrite:
        """Remove every rewritable message whose embedding similarity to `criteria` is >= theta."""
        candidates = [i for i in self._rewritable() if i < len(self.messages) - exclude_last]
        if not candidates:
            return Rewrite(removed=0)
        vectors = embedder.embed([criteria, *(self.messages[i]["content"] for i in candidates)])
        scores = vectors[1:] @ vectors[0]
        drop = {i for i, score in zip(candidates, scores, strict=True) if float(score) >= theta}
        self.messages = [m for i, m in enumerate(self.messages) if i not in drop]
        return Rewrite(removed=len(drop))
