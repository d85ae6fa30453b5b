"""What every leaderboard metric means: direction, display scale and format, and how a regression is measured.

One table for the CSV, the rendered views and `leaderboard check`. A metric not listed (a new benchmark's
extra number) still renders and compares, with a neutral default: no direction, so it is never a regression.
Token counts are per-role (`<role>_prompt_tokens`, `<role>_completion_tokens`) and resolved by pattern.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

RATE, COUNT, SECONDS = "rate", "count", "seconds"


@dataclass(frozen=True)
class Metric:
    name: str
    title: str  # column title in the rendered views
    higher_is_better: bool | None  # None: informational, never a regression
    scale: float  # display multiplier: rates are fractions in the CSV and x100 on screen, like the paper
    digits: int  # decimals shown after scaling
    kind: str  # RATE, COUNT or SECONDS: which tolerance `leaderboard check` applies (see metrics/regression.py)
    description: str

    def format(self, value: float) -> str:
        return f"{value * self.scale:.{self.digits}f}"

    @property
    def direction(self) -> str:
        return {True: "higher", False: "lower", None: "neutral"}[self.higher_is_better]


def _rate(name: str, title: str, description: str) -> Metric:
    return Metric(name, title, True, 100.0, 1, RATE, description)


METRICS: tuple[Metric, ...] = (
    _rate("success_rate", "success %", "episodes that reached the goal (x100 on screen)"),
    _rate("progress_rate", "progress %", "AgentBoard progress: running max of the fraction of subgoals achieved"),
    _rate("grounding_accuracy", "grounding %", "share of the agent's actions that were valid"),
    _rate("exact_match", "EM %", "HotpotQA exact match after answer normalisation"),
    _rate("f1", "F1 %", "HotpotQA token F1 after answer normalisation"),
    _rate("judge_score", "judge %", "LLM-judge score in [0,1] of the answer against gold (the paper's J, x100)"),
    Metric("memory_quality", "MQ", True, 1.0, 3, RATE,
           "share of stored long-term-memory items the judge scores high-quality (0-1, like the paper's MQ)"),
    _rate("memory_coverage", "memory coverage %", "share of gold supporting facts found in the stored memories"),
    _rate("memory_precision", "memory precision %", "share of stored memories that match a gold supporting fact"),
    Metric("memory_items", "memory items/ep", None, 1.0, 2, COUNT, "long-term-memory items stored per episode"),
    _rate("goal_fraction", "goal fraction %", "PDDL: fraction of goal literals true at the last step"),
    Metric("label_progress", "label progress", None, 1.0, 2, RATE, "BabyAI: 1 when AgentBoard labels drove progress"),
    Metric("total_tokens", "all tok/ep", False, 1.0, 1, COUNT, "prompt + completion tokens per episode, all roles"),
    Metric("llm_calls", "LLM calls/ep (all roles)", False, 1.0, 2, COUNT, "model calls per episode, all roles"),
    Metric("wall_seconds", "s/ep", None, 1.0, 1, SECONDS, "wall-clock seconds per episode (machine-dependent)"),
    Metric("steps", "steps/ep", None, 1.0, 2, COUNT, "environment steps per episode"),
    Metric("errors", "failed episodes", False, 1.0, 0, COUNT, "episodes that raised and were not scored"),
    Metric("judge_missing", "answers unjudged", False, 1.0, 0, COUNT, "answers the judge gave no usable score (total)"),
    Metric("memory_judge_missing", "memory items unjudged", False, 1.0, 0, COUNT,
           "stored memory items the judge gave no usable score (total)"),
    Metric("judge_calls", "judge calls/ep", False, 1.0, 2, COUNT, "judge model calls per episode (its cost)"),
    Metric("primitive_actions", "primitive actions/ep", None, 1.0, 1, COUNT, "BabyAI: low-level moves compiled"),
    Metric("verifier_failures", "verifier failures/ep", False, 1.0, 2, COUNT, "BabyAI: instruction verifier failures"),
)
_BY_NAME = {m.name: m for m in METRICS}
_ROLE_TOKENS = re.compile(r"^(?P<role>[a-z0-9]+)_(?P<part>prompt|completion)_tokens$")


def metric(name: str) -> Metric:
    """The definition of `name`; per-role token counts by pattern; anything else a neutral default."""
    known = _BY_NAME.get(name)
    if known is not None:
        return known
    match = _ROLE_TOKENS.match(name)
    if match:
        role, part = match["role"], match["part"]
        return Metric(name, f"{role} {part} tok/ep", False, 1.0, 1, COUNT, f"{part} tokens per episode of the "
                      f"'{role}' model role")
    return Metric(name, name, None, 1.0, 3, COUNT, "not in metrics/schema.py: shown as is, never a regression")


def schema_rows(names: Iterable[str] = ()) -> list[dict[str, object]]:
    """The schema as CSV rows: every listed metric plus any other `names` (e.g. those present in a leaderboard)."""
    extra = sorted(set(names) - set(_BY_NAME))
    rows = []
    for m in [*METRICS, *(metric(n) for n in extra)]:
        rows.append({"metric": m.name, "title": m.title, "higher_is_better": m.direction, "scale": m.scale,
                     "digits": m.digits, "kind": m.kind, "description": m.description})
    return rows


# The headline metric per benchmark, as in the paper's Table 2 (PDDL reports progress, HotpotQA the judge).
# HotpotQA falls back to F1 when no judge scored the run; the view says which one it shows.
HEADLINE: dict[str, tuple[str, ...]] = {
    "alfworld": ("success_rate",),
    "scienceworld": ("success_rate",),
    "pddl": ("progress_rate",),
    "babyai": ("success_rate",),
    "hotpotqa": ("judge_score", "f1"),
}
BENCHMARK_TITLES = {"alfworld": "ALFWorld", "scienceworld": "SciWorld", "pddl": "PDDL", "babyai": "BabyAI",
                    "hotpotqa": "HotpotQA"}
PAPER_BENCHMARKS = tuple(HEADLINE)  # the paper's five, in its column order (Table 2)
METRIC_ABBREVIATIONS = {"success_rate": "SR", "progress_rate": "PR", "judge_score": "J", "f1": "F1"}
