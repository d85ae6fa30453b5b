"""The no-memory agent: the paper's baseline with nothing but its context window.

It keeps the dialogue in context, cut from the front (after the system prompt) to a token budget, and loses
all of it at a new-session boundary — so in HotpotQA it must answer from the distractor session alone unless
the facts survive somewhere else. Memory agents are measured against this.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents.api import AgentStep, Models
from agents.llm.api import ChatRequest, Message, Usage
from agents.protocol import parse_answer, restore_stop
from benchmarks.api import Observation, TaskRef
from benchmarks.errors import SuiteError

SYSTEM_PROMPT = """You are an agent working through a task one turn at a time.
Each turn you receive a message: information, an observation of your environment, or a question.
Reply in exactly this format and nothing else:
<think>one or two short sentences of reasoning</think>
<answer>your reply</answer>
When the message gives you information, reply with a short acknowledgement.
When it asks a question, put only the short final answer (a name, a number, yes or no) inside <answer>.
When it describes an environment, put exactly one action inside <answer>."""

STOPS = ("</answer>",)


def render_observation(observation: Observation) -> str:
    """Goal and valid actions are part of what the agent sees; shared by every prompt-based agent."""
    parts = [observation.text.strip()]
    if observation.goal and observation.goal not in observation.text:
        parts.insert(0, f"Goal: {observation.goal.strip()}")
    if observation.valid_actions:
        parts.append("Valid actions: " + ", ".join(observation.valid_actions))
    return "\n".join(p for p in parts if p)


class NoMemoryAgent:
    name = "nomem"

    def __init__(
        self,
        models: Models,
        *,
        context_tokens: int = 8192,
        max_new_tokens: int = 96,
        temperature: float = 0.0,
        system_prompt: str = SYSTEM_PROMPT,
    ) -> None:
        if context_tokens < 256 or max_new_tokens < 1:
            raise SuiteError("nomem: context_tokens must be >= 256 and max_new_tokens >= 1")
        self.policy = models.policy
        self.context_tokens = context_tokens
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.system: Message = {"role": "system", "content": system_prompt}
        self.seed = 0
        self._reset_stats()

    def _reset_stats(self) -> None:
        self.history: list[Message] = []
        self.stats: dict[str, Any] = {"malformed_replies": 0, "truncated_messages": 0, "sessions": 1}
        self.context_tokens_used = 0

    def reset(self, task: TaskRef, seed: int = 0, workdir: Path | None = None) -> None:
        self.seed = seed
        self._reset_stats()

    def act(self, observation: Observation) -> AgentStep:
        if observation.new_session:
            self.history = []
            self.stats["sessions"] += 1
        self.history.append({"role": "user", "content": render_observation(observation)})
        recalled, memory_trace = self.recall(observation)
        messages = self._fit_context(recalled)
        completion = self.policy.generate(
            [
                ChatRequest(
                    messages=tuple(messages),
                    max_new_tokens=self.max_new_tokens,
                    temperature=self.temperature,
                    stop=STOPS,
                    seed=self.seed,
                )
            ]
        )[0]
        text = restore_stop(completion.text, STOPS) if completion.finish_reason == "stop" else completion.text
        reply = parse_answer(text)
        self.stats["malformed_replies"] += 0 if reply.well_formed else 1
        self.history.append({"role": "assistant", "content": text})
        memory_usage, write_trace = self.remember(observation, reply.answer)
        return AgentStep(
            action=reply.answer,
            usage={"policy": completion.usage, **memory_usage},
            trace={
                "output": text,
                "well_formed": reply.well_formed,
                "finish_reason": completion.finish_reason,
                "context_tokens": self.context_tokens_used,
                **memory_trace,
                **write_trace,
            },
        )

    # Hooks for the memory baselines (agents.baselines.agent), which are this loop plus a store: the prompt, the
    # context policy and the parsing stay identical, so results compare memory systems, not prompts.
    def recall(self, observation: Observation) -> tuple[str, dict[str, Any]]:
        """Text to put before the current message (memories), and what to record about it."""
        return "", {}

    def remember(self, observation: Observation, action: str) -> tuple[dict[str, Usage], dict[str, Any]]:
        """Write the step to memory; the cost (by role, since recall) and what to record about it."""
        return {}, {}

    def _fit_context(self, recalled: str = "") -> list[Message]:
        """Drop the oldest turns until the prompt plus the reply fits the budget (the newest message stays)."""
        budget = self.context_tokens - self.max_new_tokens
        while True:
            newest = self.history[-1]
            if recalled:
                newest = {"role": newest["role"], "content": f"{recalled}\n\n{newest['content']}"}
            messages = [self.system, *self.history[:-1], newest]
            self.context_tokens_used = self.policy.count_tokens(messages)
            if self.context_tokens_used <= budget or len(self.history) <= 1:
                return messages
            self.history.pop(0)
            self.stats["truncated_messages"] += 1
            while len(self.history) > 1 and self.history[0]["role"] != "user":
                self.history.pop(0)  # keep the dialogue starting with a user turn
                self.stats["truncated_messages"] += 1

    def episode_stats(self) -> dict[str, Any]:
        return {**self.stats, "context_tokens_at_end": self.context_tokens_used}
