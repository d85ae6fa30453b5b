"""The AgeMem agent: one policy that manages long-term memory and its own context through six tools.

Each environment step may take several policy rounds: every round is one generation that either calls tools
(results come back as a `tool` message, then the policy replies again) or answers (the environment action).
Round caps per step and per episode bound the cost; at a cap the agent is made to answer (forced `<answer>`
prefix) so the environment always gets an action, and the event is counted.

Variants (selected by name, differing only in model and tool set):
- `agemem`: the trained policy, loaded from `checkpoint` (a model spec, e.g. transformers/<GRPO output dir>);
- `agemem-norl`: the same tools with the run's base model;
- `agemem-rag`: Summary/Filter removed; instead memories retrieved with each new message are appended to the
  context every step (the paper's RAG ablation).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from agents.agemem.context import Context
from agents.agemem.prompts import system_prompt
from agents.agemem.protocol import format_error_message, parse_policy_output, restore_stop
from agents.agemem.store import MemoryStore, UnknownMemory
from agents.agemem.tools import ALL_TOOLS, LTM_TOOLS, ToolCall
from agents.api import AgentStep, Models
from agents.embeddings import DEFAULT_EMBEDDER, load_embedder
from agents.llm.api import ChatRequest, Usage
from agents.nomem import render_observation
from benchmarks.api import Observation, TaskRef
from benchmarks.errors import SuiteError

AUTO_RETRIEVE = ("stage1", "always", "never")
FORMAT_MODES = ("free", "think_prefix", "tool_prefix")
STOPS = ("</tool_call>", "</answer>")
FORCED_ANSWER_PREFIX = "<think>Round limit reached, so I answer now.</think>\n<answer>"
TOOL_PREFIX = "<think>I should use a memory tool.</think>\n<tool_call>[{\"name\": \""


class AgeMemAgent:
    def __init__(
        self,
        models: Models,
        *,
        name: str = "agemem-norl",
        checkpoint: str | None = None,
        tools: tuple[str, ...] = ALL_TOOLS,
        auto_retrieve: str = "stage1",
        max_rounds_per_step: int = 4,
        max_rounds_per_episode: int = 40,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        context_tokens: int = 8192,
        theta: float = 0.6,
        top_k: int = 3,
        format_mode: str = "free",
        embedder: str = DEFAULT_EMBEDDER,
    ) -> None:
        if auto_retrieve not in AUTO_RETRIEVE:
            raise SuiteError(f"{name}: auto_retrieve must be one of {', '.join(AUTO_RETRIEVE)}")
        if format_mode not in FORMAT_MODES:
            raise SuiteError(f"{name}: format_mode must be one of {', '.join(FORMAT_MODES)}")
        if min(max_rounds_per_step, max_rounds_per_episode, max_new_tokens, top_k) < 1 or context_tokens < 512:
            raise SuiteError(f"{name}: round caps, max_new_tokens and top_k must be >= 1, context_tokens >= 512")
        if not 0.0 < theta <= 1.0:
            raise SuiteError(f"{name}: theta must be in (0, 1]")
        self.name = name
        self.policy = models.load(checkpoint) if checkpoint else models.policy
        self.summarizer = models.for_role("summarizer") if "summarizer" in models.others else self.policy
        self.embedder = load_embedder(embedder)
        self.tools = tools
        self.auto_retrieve = auto_retrieve
        self.max_rounds_per_step = max_rounds_per_step
        self.max_rounds_per_episode = max_rounds_per_episode
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.context_tokens = context_tokens
        self.theta = theta
        self.top_k = top_k
        self.format_mode = format_mode
        self.prompt = system_prompt(tools, budget_tokens=context_tokens, auto_retrieve_always=auto_retrieve == "always")
        self.store: MemoryStore | None = None
        self.context = Context(self.prompt, self.policy, budget_tokens=context_tokens)

    # -- episode lifecycle -------------------------------------------------------------------------------------

    def reset(self, task: TaskRef, seed: int = 0, workdir: Path | None = None) -> None:
        if self.store is not None:
            self.store.close()
        self.store = MemoryStore(workdir / "ltm.sqlite" if workdir else None, self.embedder)
        self.context = Context(self.prompt, self.policy, budget_tokens=self.context_tokens)
        self.seed = seed
        self.stage1 = True  # until the first new session: the paper's memory-construction stage
        self.rounds = 0
        self.stats: Counter[str] = Counter(sessions=1)
        self.tool_calls: Counter[str] = Counter()
        self.context_tokens_at_answer = 0
        self.context_text_at_answer = ""

    def act(self, observation: Observation) -> AgentStep:
        if observation.new_session:
            self.context.reset()
            self.stage1 = False
            self.stats["sessions"] += 1
        self.context.add("user", self._with_memories(observation))
        usage: dict[str, Usage] = {}
        rounds: list[dict[str, Any]] = []
        for round_index in range(self.max_rounds_per_step):
            if self.rounds >= self.max_rounds_per_episode:
                break
            prefix = self._prefix(round_index)
            text, used = self._generate(prefix)
            _add(usage, "policy", used)
            parsed = parse_policy_output(text, allowed_tools=self.tools)
            self.context.add("assistant", text)
            rounds.append({"output": text, "kind": parsed.kind, "error": parsed.error, "prefix": prefix})
            if parsed.kind == "answer":
                return self._answer(parsed.answer, usage, rounds)
            if parsed.kind == "invalid":
                self.stats["invalid_rounds"] += 1
                self.context.add("tool", format_error_message(parsed.error))
                continue
            results = [self._execute(call, usage) for call in parsed.calls]
            rounds[-1]["results"] = results
            self.context.add("tool", json.dumps(results, ensure_ascii=False))
        # A cap was reached: make the policy answer so the environment still gets an action.
        self.stats["forced_answers"] += 1
        text, used = self._generate(FORCED_ANSWER_PREFIX)
        _add(usage, "policy", used)
        self.context.add("assistant", text)
        parsed = parse_policy_output(text, allowed_tools=())
        answer = parsed.answer if parsed.kind == "answer" else ""
        rounds.append({"output": text, "kind": "forced_answer", "error": parsed.error, "prefix": FORCED_ANSWER_PREFIX})
        return self._answer(answer, usage, rounds)

    def episode_stats(self) -> dict[str, Any]:
        items = self.store.items() if self.store else []
        return {
            "variant": self.name, "policy_model": self.policy.spec, "format_mode": self.format_mode,
            "tool_calls": {name: self.tool_calls.get(name, 0) for name in ALL_TOOLS},
            "rounds": self.rounds, **{k: self.stats.get(k, 0) for k in (
                "invalid_rounds", "forced_answers", "tool_errors", "sessions", "auto_retrievals")},
            "context_tokens_at_answer": self.context_tokens_at_answer, "context_text_at_answer": self.context_text_at_answer,
            "context_overflows": self.context.overflow_events, "context_dropped_messages": self.context.dropped_messages,
            "ltm_size": len(items), "ltm_items": [item.as_dict() for item in items],
        }

    # -- internals ---------------------------------------------------------------------------------------------

    def _with_memories(self, observation: Observation) -> str:
        """Automatic retrieval: in stage 1 so Update/Delete can target existing items, or every step (RAG)."""
        text = render_observation(observation)
        wanted = self.auto_retrieve == "always" or (self.auto_retrieve == "stage1" and self.stage1)
        if not wanted or self.store is None or not len(self.store):
            return text
        self.stats["auto_retrievals"] += 1
        hits = self.store.retrieve(observation.text, top_k=self.top_k)
        lines = "\n".join(f"[{item.id}] {item.content}" for item, _ in hits)
        return f"{text}\n\nRelated long-term memories:\n{lines}"

    def _prefix(self, round_index: int) -> str:
        if self.format_mode == "think_prefix":
            return "<think>"
        if self.format_mode == "tool_prefix" and round_index == 0 and any(t in self.tools for t in LTM_TOOLS):
            return TOOL_PREFIX
        return ""

    def _generate(self, prefix: str) -> tuple[str, Usage]:
        self.rounds += 1
        self.context.fit(self.max_new_tokens)
        completion = self.policy.generate([ChatRequest(
            messages=tuple(self.context.prompt()), max_new_tokens=self.max_new_tokens,
            temperature=self.temperature, stop=STOPS, seed=self.seed, prefix=prefix,
        )])[0]
        return restore_stop(completion.text, STOPS), completion.usage

    def _answer(self, answer: str, usage: dict[str, Usage], rounds: list[dict[str, Any]]) -> AgentStep:
        self.context_tokens_at_answer = self.context.tokens()
        # What the policy could still see when it answered (the reward's preservation term reads it).
        self.context_text_at_answer = "\n".join(m["content"] for m in self.context.messages)
        return AgentStep(action=answer, usage=usage, trace={
            "rounds": rounds, "context_tokens": self.context_tokens_at_answer, "stage1": self.stage1,
            "context_overflows": self.context.overflow_events})

    def _execute(self, call: ToolCall, usage: dict[str, Usage]) -> dict[str, Any]:
        """Run one validated call; failures the policy can fix come back as results, never as exceptions."""
        self.tool_calls[call.name] += 1
        args = call.arguments
        assert self.store is not None
        try:
            if call.name == "Add_memory":
                item = self.store.add(args["content"], args["metadata"], args["memory_type"])
                return {"tool": call.name, "status": "ok", "memory_id": item.id}
            if call.name == "Update_memory":
                item = self.store.update(args["memory_id"], args["content"], args.get("metadata") or None)
                return {"tool": call.name, "status": "ok", "memory_id": item.id}
            if call.name == "Delete_memory":
                if not args["confirmation"]:
                    return {"tool": call.name, "status": "not deleted", "reason": "confirmation was false"}
                self.store.delete(args["memory_id"])
                return {"tool": call.name, "status": "ok", "memory_id": args["memory_id"]}
            if call.name == "Retrieve_memory":
                hits = self.store.retrieve(args["query"], top_k=args["top_k"], metadata_filter=args["metadata_filter"])
                return {"tool": call.name, "status": "ok", "memories": [
                    {"memory_id": item.id, "content": item.content, "score": round(score, 3)} for item, score in hits]}
            if call.name == "Summary_context":
                rewrite = self.context.summarize(args["span"], self.summarizer, exclude_last=1)
                _add(usage, "summarizer", rewrite.usage)
                return {"tool": call.name, "status": "ok", "messages_summarized": rewrite.removed,
                        "summary": rewrite.summary}
            rewrite = self.context.filter(args["criteria"], self.embedder, theta=self.theta, exclude_last=1)
            return {"tool": call.name, "status": "ok", "messages_removed": rewrite.removed}
        except (UnknownMemory, ValueError) as exc:
            self.stats["tool_errors"] += 1
            return {"tool": call.name, "status": "error", "error": str(exc).strip("'\"")}


def _add(usage: dict[str, Usage], role: str, used: Usage) -> None:
    if used.calls:
        usage[role] = usage.get(role, Usage()) + used


def agemem(models: Models, *, checkpoint: str | None = None, **options: Any) -> AgeMemAgent:
    """The trained policy. Refuses to run without a checkpoint: a base model is not a trained AgeMem."""
    if not checkpoint:
        raise SuiteError("agemem needs a trained policy: set agent_options.agemem.checkpoint = '<model spec>' "
                         "(e.g. a GRPO output dir as transformers/<path>); use agemem-norl for the base model")
    return AgeMemAgent(models, name="agemem", checkpoint=checkpoint, **options)


def agemem_norl(models: Models, **options: Any) -> AgeMemAgent:
    return AgeMemAgent(models, name="agemem-norl", **options)


def agemem_rag(models: Models, **options: Any) -> AgeMemAgent:
    options.setdefault("auto_retrieve", "always")
    return AgeMemAgent(models, name="agemem-rag", tools=(*LTM_TOOLS, "Retrieve_memory"), **options)
