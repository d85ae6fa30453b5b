"""Episode records -> per (benchmark, split, agent, model) metrics with 95% bootstrap confidence intervals.

Rates are stored as fractions in [0, 1]; tables multiply by 100 like the paper. Token and call counts are
means per episode. Failed episodes are never scored: they are only counted (`errors`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

GROUP_KEYS = ("benchmark", "split", "agent", "model")


@dataclass(frozen=True)
class Aggregate:
    value: float
    ci_low: float
    ci_high: float
    n: int


def bootstrap_mean(values: Iterable[float], *, resamples: int = 1000, seed: int = 0) -> Aggregate:
    """Mean with a percentile bootstrap CI over episodes (fixed seed, so tables are reproducible)."""
    data = np.asarray(list(values), dtype=float)
    if data.size == 0:
        raise ValueError("no values to aggregate")
    mean = float(data.mean())
    if data.size == 1 or np.all(data == data[0]):
        return Aggregate(mean, mean, mean, int(data.size))
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(resamples, data.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return Aggregate(mean, float(low), float(high), int(data.size))


def episode_metrics(record: Mapping[str, Any]) -> dict[str, float]:
    """The per-episode numbers every aggregate is a mean of."""
    steps = max(1, int(record["steps"]))
    row = {
        "success_rate": float(bool(record["success"])),
        "progress_rate": float(record["progress"]),
        "grounding_accuracy": 1.0 - int(record.get("invalid_actions", 0)) / steps,
        "steps": float(record["steps"]),
        "wall_seconds": float(record["wall_seconds"]),
    }
    row.update({k: float(v) for k, v in record.get("metrics", {}).items()})
    calls = tokens = 0
    for role, usage in record.get("usage", {}).items():
        row[f"{role}_prompt_tokens"] = float(usage["prompt_tokens"])
        row[f"{role}_completion_tokens"] = float(usage["completion_tokens"])
        calls += int(usage["calls"])
        tokens += int(usage["prompt_tokens"]) + int(usage["completion_tokens"])
    row["llm_calls"] = float(calls)
    row["total_tokens"] = float(tokens)  # every role: policy, memory library, summarizer, judge
    return row


def aggregate(records: Iterable[Mapping[str, Any]], errors: Iterable[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
    """Long-format rows: one per group and metric, plus an `errors` count row where episodes failed."""
    groups: dict[tuple[str, ...], list[dict[str, float]]] = defaultdict(list)
    for record in records:
        groups[tuple(str(record[k]) for k in GROUP_KEYS)].append(episode_metrics(record))
    failed: dict[tuple[str, ...], int] = defaultdict(int)
    for error in errors:
        failed[tuple(str(error[k]) for k in GROUP_KEYS)] += 1
    rows = []
    for group in sorted(set(groups) | set(failed)):
        base = dict(zip(GROUP_KEYS, group, strict=True))
        episodes = groups.get(group, [])
        names = sorted({name for ep in episodes for name in ep})
        for name in names:
            # A metric missing from some episodes (a role that was not called) counts as 0 there.
            agg = bootstrap_mean(ep.get(name, 0.0) for ep in episodes)
            rows.append({**base, "metric": name, "value": agg.value, "ci_low": agg.ci_low,
                         "ci_high": agg.ci_high, "n": agg.n})
        if failed.get(group):
            count = failed[group]
            rows.append({**base, "metric": "errors", "value": float(count), "ci_low": float(count),
                         "ci_high": float(count), "n": len(episodes)})
    return rows
