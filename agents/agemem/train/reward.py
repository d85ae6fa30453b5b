"""The AgeMem trajectory reward (arXiv 2601.01885, Appendix A.2), computed once per episode from its record.

    R = w_task * R_task + w_context * R_context + w_memory * R_memory + penalties

- R_task: the judge's 0-1 score of the answer against the gold answer; -1.0 when the episode gave no answer.
- R_context = mean(compression, preventive, preservation):
    compression  = max(0, 1 - T_used / T_max), T_used = tokens in context at answer time, T_max = token budget;
    preventive   = 1 if a context-reducing tool (Summary_context / Filter_context) was used before the limit
                   was reached, else 0;
    preservation = 1 if every key query entity (`key_entities`) still appears in the context at answer time
                   (case-insensitive; 1 when the question has none), else 0.
- R_memory = mean(storage, maintenance, relevance):
    storage      = N_high_quality / max(1, N_total) over the stage-1 Add_memory calls; an item is high quality
                   when `judge.memory_item` >= HIGH_QUALITY (0.5: the rubric's "significant errors" band and
                   above; the paper does not state a threshold);
    maintenance  = 1 if any Update_memory or Delete_memory succeeded, else 0;
    relevance    = `judge.relevance` of the items returned by Retrieve_memory (0 when nothing was retrieved).
- Penalties (not weighted): `rounds_penalty` (-1) when rounds > N_max; `overflow_penalty` (-0.5) when the
  context overflowed or T_used > T_max.

Weights: the paper's main text says 1.0 each, its appendix 1/3 each; reward curves ending near 1.0 fit 1/3, the
default here (`RewardWeights`).

Missing judgements: a judge term that comes back None is never replaced by 0 or 1. It is left out of its mean
and listed in `RewardBreakdown.missing`: "storage" / "relevance" leave the R_memory mean; "task" leaves the
weighted sum, whose remaining weights are rescaled to the full weight total (so the total stays on the scale of
a complete reward). An individual stage-1 item without a judgement is left out of N_high and N_total and listed
as "storage_item:<index>"; when no item could be judged, storage itself is missing. A trainer may prefer to
drop an episode whose `missing` is not empty.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from agents.agemem.protocol import parse_policy_output
from metrics.judges import HIGH_QUALITY, Judge

REDUCING_TOOLS = ("Summary_context", "Filter_context")
MAINTENANCE_TOOLS = ("Update_memory", "Delete_memory")


@dataclass(frozen=True)
class RewardWeights:
    """Term weights and penalties. Paper: main text 1.0 per weight, appendix 1/3; 1/3 is the default."""

    task: float = 1 / 3
    context: float = 1 / 3
    memory: float = 1 / 3
    overflow_penalty: float = -0.5
    rounds_penalty: float = -1.0


@dataclass(frozen=True)
class EpisodeFacts:
    """Everything the reward needs from one episode (see `facts_from_episode` for how each is extracted)."""

    question: str
    gold_answer: str
    support: tuple[str, ...]  # gold supporting sentences
    answer: str | None  # None: the episode ended without an answer
    context_tokens_at_answer: int
    token_budget: int
    context_text_at_answer: str
    reduced_before_limit: bool
    stage1_adds: tuple[str, ...]  # contents of successful stage-1 Add_memory calls
    maintenance_ops: int  # successful Update_memory + Delete_memory calls
    retrieved: tuple[str, ...]  # contents of the items Retrieve_memory returned
    rounds: int
    max_rounds: int
    overflowed: bool

    def __post_init__(self) -> None:
        if self.token_budget <= 0:
            raise ValueError(f"token_budget must be > 0, got {self.token_budget}")
        for name in ("support", "stage1_adds", "retrieved"):
            object.__setattr__(self, name, tuple(getattr(self, name)))


@dataclass(frozen=True)
class RewardBreakdown:
    """The total and every term; judge terms are None when missing (and named in `missing`)."""

    total: float
    task: float | None
    context: float
    memory: float
    compression: float
    preventive: float
    preservation: float
    storage: float | None
    maintenance: float
    relevance: float | None
    overflow_penalty: float
    rounds_penalty: float
    missing: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["missing"] = list(self.missing)
        return out


# -- key entities -------------------------------------------------------------------------------------------------

_QUOTED = re.compile(r"\"([^\"]{1,200})\"|“([^”]{1,200})”")
_NUMBER = re.compile(r"^[0-9]+(?:[.,][0-9]+)*$")
_CONNECTORS = frozenset({"of", "the", "de", "del", "da", "di", "du", "la", "le", "van", "von", "y"})
_STRIP = "\"'“”‘’()[]{},;:!?."


def key_entities(question: str) -> list[str]:
    """The question's key entities, by a simple heuristic (order of appearance, de-duplicated case-insensitively).

    - quoted strings ("..." or “...”), as written between the quotes;
    - numbers, years included (digits with optional "," or "." groups: 1995, 3.5, 10,000);
    - runs of capitalised words ("Scott Derrickson", "Bank of America": lower-case of/the/de/van/von/... may join
      two capitalised words), except the first word of a sentence (the start of the text or after . ? !), which
      is dropped from its run; a lone "I" is ignored; a trailing possessive 's is removed.
    """
    found: list[str] = []
    for match in _QUOTED.finditer(question):
        found.append((match.group(1) or match.group(2)).strip())
    run: list[str] = []
    pending: list[str] = []  # connectors seen after a capitalised run, kept only if another capital follows
    sentence_start = True

    def close() -> None:
        if run:
            found.append(" ".join(run))
        run.clear()
        pending.clear()

    for raw in question.split():
        word = raw.strip(_STRIP)
        for suffix in ("'s", "’s"):
            word = word.removesuffix(suffix)
        ends_sentence = raw.rstrip("\"'”’)]").endswith((".", "?", "!"))
        if raw[0] in "([{\"“‘'":
            close()  # an opening bracket or quote starts a new run
        if not word:
            close()
        elif _NUMBER.match(word):
            close()
            found.append(word)
        elif word[0].isupper() and word != "I" and not sentence_start:
            run.extend(pending)
            pending.clear()
            run.append(word)
        elif run and word in _CONNECTORS and word == raw:
            pending.append(word)
        else:
            close()
        if raw[-1] in ",;:)]}\"”’.?!":
            close()  # punctuation after a word ends its run ("Paris, France" -> two entities)
        sentence_start = ends_sentence
    close()
    seen: set[str] = set()
    unique = []
    for entity in found:
        if entity and entity.lower() not in seen:
            seen.add(entity.lower())
            unique.append(entity)
    return unique


def preserved(question: str, context_text: str) -> bool:
    """Whether every key entity of the question appears (case-insensitively) in the context text."""
    haystack = " ".join(context_text.split()).lower()
    return all(" ".join(entity.split()).lower() in haystack for entity in key_entities(question))


# -- reward -------------------------------------------------------------------------------------------------------


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def compute_reward(facts: EpisodeFacts, judge: Judge, weights: RewardWeights = RewardWeights()) -> RewardBreakdown:
    """The paper's reward for one episode, with every term (module docstring for the rules)."""
    missing: list[str] = []

    task: float | None = -1.0
    if facts.answer is not None:
        task = judge.answer(facts.question, facts.gold_answer, facts.answer)
        if task is None:
            missing.append("task")

    used, budget = facts.context_tokens_at_answer, facts.token_budget
    compression = max(0.0, 1.0 - used / budget)
    preventive = 1.0 if facts.reduced_before_limit else 0.0
    preservation = 1.0 if preserved(facts.question, facts.context_text_at_answer) else 0.0
    context = _mean([compression, preventive, preservation])

    storage: float | None = 0.0
    if facts.stage1_adds:
        judged: list[float] = []
        item_missing: list[str] = []
        for index, item in enumerate(facts.stage1_adds):
            score = judge.memory_item(facts.question, facts.gold_answer, item, facts.support)
            if score is None:
                item_missing.append(f"storage_item:{index}")
            else:
                judged.append(score)
        if judged:
            storage = sum(score >= HIGH_QUALITY for score in judged) / max(1, len(judged))
            missing.extend(item_missing)
        else:
            storage = None
            missing.append("storage")
    maintenance = 1.0 if facts.maintenance_ops > 0 else 0.0
    relevance: float | None = 0.0
    if facts.retrieved:
        relevance = judge.relevance(facts.question, facts.retrieved)
        if relevance is None:
            missing.append("relevance")
    memory = _mean([term for term in (storage, maintenance, relevance) if term is not None])

    rounds_penalty = weights.rounds_penalty if facts.rounds > facts.max_rounds else 0.0
    overflow_penalty = weights.overflow_penalty if facts.overflowed or used > budget else 0.0

    parts = [(weights.context, context), (weights.memory, memory)]
    if task is not None:
        parts.append((weights.task, task))
    present = sum(weight for weight, _ in parts)
    full = weights.task + weights.context + weights.memory
    scale = full / present if task is None and present else 1.0
    total = scale * sum(weight * value for weight, value in parts) + rounds_penalty + overflow_penalty
    return RewardBreakdown(
        total=total, task=task, context=context, memory=memory, compression=compression, preventive=preventive,
        preservation=preservation, storage=storage, maintenance=maintenance, relevance=relevance,
        overflow_penalty=overflow_penalty, rounds_penalty=rounds_penalty, missing=tuple(missing),
    )


# -- facts from the runner's records --------------------------------------------------------------------------------


def _trace(step: Mapping[str, Any]) -> Mapping[str, Any]:
    trace = step.get("agent")
    return trace if isinstance(trace, Mapping) else {}


def _rounds(step: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    rounds = _trace(step).get("rounds")
    return [r for r in rounds if isinstance(r, Mapping)] if isinstance(rounds, Sequence) else []


def _strip_question(text: str, question: str) -> str:
    """Remove every (case-insensitive) occurrence of the question's own text."""
    question = question.strip()
    return re.sub(re.escape(question), " ", text, flags=re.IGNORECASE) if question else text


def facts_from_episode(
    record: Mapping[str, Any],
    steps: Sequence[Mapping[str, Any]],
    *,
    question: str,
    gold_answer: str,
    support: Sequence[str],
    token_budget: int,
    max_rounds: int,
) -> EpisodeFacts:
    """Extract the reward's facts from the runner's episode record and trajectory steps.

    Rules (the agent's trace format is in agents/agemem/agent.py):
    - Tool calls are re-read from each `tool_calls` round: its `output` is parsed with `parse_policy_output`
      and the calls are paired in order with the round's `results`; only calls whose result has status "ok"
      count (a failed Add stored nothing, a Delete with confirmation false deleted nothing). A round whose
      output no longer parses contributes only what its results show (retrieved items, reducing calls).
    - Stage 1 = steps whose trace has `stage1` true (without that key: the steps before the first step with
      `new_session`). `stage1_adds` = contents of their successful Add_memory calls.
    - `maintenance_ops` = successful Update_memory + Delete_memory calls (from the agent_stats tool-call counts,
      which include failed calls, only when no step carries rounds).
    - `retrieved` = contents of the items returned by Retrieve_memory calls anywhere in the episode, each memory
      id once (first retrieval kept); automatic retrievals are not the agent's choice and are not counted.
    - `answer` = the last step's action, stripped; None when it is empty, when there are no steps, or when the
      record says the episode was truncated without terminating (the last action then answered no question).
    - `context_tokens_at_answer` from agent_stats (else the last step's trace `context_tokens`); `rounds` and
      `overflowed` (context_overflows > 0) from agent_stats.
    - `reduced_before_limit`: a successful Summary_context/Filter_context call happened and the limit had not
      been reached before it. The agent does not record when an overflow happened, so: with no overflow in the
      episode any reducing call qualifies; with overflows, a step trace key `context_overflows` (cumulative
      count, if the agent records it) must show 0 before the step of the first reducing call, otherwise it
      does not qualify (conservative).
    - `context_text_at_answer`: agent_stats' `context_text_at_answer` (what AgeMem records); otherwise an
      approximation from the last session (from the last `new_session` step on): each step's observation, each
      round's output and its JSON tool results (retrieved contents, any summary text), except the final answer
      round. This over-approximates: messages that Filter_context, a summary or an overflow removed are still
      included, summaries themselves are not recorded, and memories the agent appended to observations by
      automatic retrieval are missing. Either way the question's own text is removed: the stage-3 question
      message always contains its own entities, which would make the preservation term constant.
    """
    stats = record.get("agent_stats") or {}
    if not isinstance(stats, Mapping):
        stats = {}
    first_new_session = next((i for i, step in enumerate(steps) if i > 0 and step.get("new_session")), len(steps))
    last_session = max((i for i, step in enumerate(steps) if step.get("new_session")), default=0)

    stage1_adds: list[str] = []
    retrieved: list[str] = []
    seen_ids: set[str] = set()
    maintenance_ops = 0
    first_reducing_step: int | None = None
    any_rounds = False
    for index, step in enumerate(steps):
        trace = _trace(step)
        stage1 = bool(trace["stage1"]) if "stage1" in trace else index < first_new_session
        for round_ in _rounds(step):
            any_rounds = True
            if round_.get("kind") != "tool_calls":
                continue
            results = [r for r in (round_.get("results") or []) if isinstance(r, Mapping)]
            output = round_.get("output")
            parsed = parse_policy_output(output) if isinstance(output, str) else None
            calls = list(parsed.calls) if parsed is not None and parsed.kind == "tool_calls" else []
            for position, result in enumerate(results):
                if result.get("status") != "ok":
                    continue
                tool = result.get("tool")
                call = calls[position] if position < len(calls) and calls[position].name == tool else None
                if tool == "Add_memory" and stage1 and call is not None:
                    content = call.arguments.get("content")
                    if isinstance(content, str) and content:
                        stage1_adds.append(content)
                elif tool in MAINTENANCE_TOOLS:
                    maintenance_ops += 1
                elif tool == "Retrieve_memory":
                    for memory in result.get("memories") or []:
                        if not isinstance(memory, Mapping) or not isinstance(memory.get("content"), str):
                            continue
                        key = str(memory.get("memory_id", memory["content"]))
                        if key not in seen_ids:
                            seen_ids.add(key)
                            retrieved.append(memory["content"])
                elif tool in REDUCING_TOOLS and first_reducing_step is None:
                    first_reducing_step = index
    if not any_rounds:
        calls_by_tool = stats.get("tool_calls") or {}
        maintenance_ops = sum(int(calls_by_tool.get(name, 0) or 0) for name in MAINTENANCE_TOOLS)

    overflows = int(stats.get("context_overflows", 0) or 0)
    reduced_before_limit = False
    if first_reducing_step is not None:
        if overflows == 0:
            reduced_before_limit = True
        else:
            before = [_trace(steps[i]).get("context_overflows") for i in range(first_reducing_step)]
            recorded = all(isinstance(value, int) for value in before)
            reduced_before_limit = recorded and all(value == 0 for value in before)

    answer: str | None = None
    if steps:
        action = steps[-1].get("action")
        answer = action.strip() if isinstance(action, str) and action.strip() else None
    if record.get("truncated") is True and record.get("terminated") is False:
        answer = None

    last_trace = _trace(steps[-1]) if steps else {}
    tokens = stats.get("context_tokens_at_answer")
    if not isinstance(tokens, int):
        tokens = last_trace.get("context_tokens", 0)
    context_text = stats.get("context_text_at_answer")
    if not isinstance(context_text, str):
        context_text = _approximate_context(steps[last_session:])

    return EpisodeFacts(
        question=question, gold_answer=gold_answer, support=tuple(support), answer=answer,
        context_tokens_at_answer=int(tokens or 0), token_budget=token_budget,
        context_text_at_answer=_strip_question(context_text, question), reduced_before_limit=reduced_before_limit,
        stage1_adds=tuple(stage1_adds), maintenance_ops=maintenance_ops, retrieved=tuple(retrieved),
        rounds=int(stats.get("rounds", 0) or 0), max_rounds=max_rounds, overflowed=overflows > 0,
    )


def _approximate_context(steps: Sequence[Mapping[str, Any]]) -> str:
    parts: list[str] = []
    for index, step in enumerate(steps):
        observation = step.get("observation")
        if isinstance(observation, str):
            parts.append(observation)
        rounds = _rounds(step)
        if index == len(steps) - 1 and rounds and rounds[-1].get("kind") in ("answer", "forced_answer"):
            rounds = rounds[:-1]  # the answer is generated at answer time, it is not part of the context then
        for round_ in rounds:
            if isinstance(round_.get("output"), str):
                parts.append(round_["output"])
            if round_.get("results"):
                parts.append(json.dumps(round_["results"], ensure_ascii=False, default=str))
            elif round_.get("error"):
                parts.append(str(round_["error"]))
    return "\n".join(parts)
