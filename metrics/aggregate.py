"""Episode records -> per (benchmark, split, agent, model) metrics with 95% bootstrap confidence intervals.

Rates are stored as fractions in [0, 1]; tables multiply by 100 like the paper. Token and call counts are
means per episode. Failed episodes are never scored: they are only counted (`errors`).

Missing values: a per-episode value of None (a judge that gave no usable score, a memory that could not be read)
is left out of the mean, and `n` counts only the episodes that have a value; a metric with no value at all gets
no row. Where `zero_fill` is on (the episode metrics), a metric an episode does not report at all (a model role
that was never called) counts as 0 for it.

Confidence intervals (percentile bootstrap, 1,000 resamples, fixed seed so tables are reproducible):
- one seed: resample episodes with replacement;
- several seeds: two-level (cluster) bootstrap -- resample the seeds with replacement, then the episodes within
  each drawn seed, and take the mean of all drawn episodes. The interval then also covers seed-to-seed
  variation, which episode resampling alone hides. The point estimate is always the plain mean over episodes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from metrics.memory_quality import record_memory_metrics

GROUP_KEYS = ("benchmark", "split", "agent", "model")
RESAMPLES = 1000


@dataclass(frozen=True)
class Aggregate:
    value: float
    ci_low: float
    ci_high: float
    n: int


def bootstrap_mean(values: Iterable[float], *, clusters: Sequence[Hashable] | None = None,
                   resamples: int = RESAMPLES, seed: int = 0) -> Aggregate:
    """Mean with a percentile bootstrap CI: over episodes, or two-level when `clusters` (one seed label per
    value) names several seeds (see the module docstring)."""
    data = np.asarray(list(values), dtype=float)
    if data.size == 0:
        raise ValueError("no values to aggregate")
    if clusters is not None and len(clusters) != data.size:
        raise ValueError("clusters must give one label per value")
    mean = float(data.mean())
    if data.size == 1 or np.all(data == data[0]):
        return Aggregate(mean, mean, mean, int(data.size))
    rng = np.random.default_rng(seed)
    labels = list(dict.fromkeys(clusters)) if clusters is not None else []
    if len(labels) < 2:
        means = data[rng.integers(0, data.size, size=(resamples, data.size))].mean(axis=1)
    else:
        index = {label: i for i, label in enumerate(labels)}
        codes = np.fromiter((index[c] for c in clusters), dtype=int, count=data.size)  # type: ignore[union-attr]
        groups = [data[codes == i] for i in range(len(labels))]
        means = np.empty(resamples)
        for b in range(resamples):
            drawn = rng.integers(0, len(groups), size=len(groups))
            total = count = 0.0
            for g in drawn:
                group = groups[g]
                total += float(group[rng.integers(0, group.size, size=group.size)].sum())
                count += group.size
            means[b] = total / count
    low, high = np.percentile(means, [2.5, 97.5])
    return Aggregate(mean, float(low), float(high), int(data.size))


def episode_metrics(record: Mapping[str, Any]) -> dict[str, float | None]:
    """The per-episode numbers every judge-independent aggregate is a mean of (judge scores: metrics.scoring)."""
    steps = max(1, int(record["steps"]))
    row: dict[str, float | None] = {
        "success_rate": float(bool(record["success"])),
        "progress_rate": float(record["progress"]),
        "grounding_accuracy": 1.0 - int(record.get("invalid_actions", 0)) / steps,
        "steps": float(record["steps"]),
        "wall_seconds": float(record["wall_seconds"]),
    }
    row.update({k: float(v) for k, v in record.get("metrics", {}).items()})
    row.update(record_memory_metrics(record))
    calls = tokens = 0
    for role, usage in record.get("usage", {}).items():
        row[f"{role}_prompt_tokens"] = float(usage["prompt_tokens"])
        row[f"{role}_completion_tokens"] = float(usage["completion_tokens"])
        calls += int(usage["calls"])
        tokens += int(usage["prompt_tokens"]) + int(usage["completion_tokens"])
    row["llm_calls"] = float(calls)
    # Every role the agent used in the episode: policy, memory library, summarizer. Evaluation-judge calls are
    # made after the episode and reported separately (judge_* rows of metrics.scoring).
    row["total_tokens"] = float(tokens)
    return row


def summarize(episodes: Iterable[tuple[Mapping[str, Any], Mapping[str, float | None]]], *,
              zero_fill: bool = True) -> list[dict[str, Any]]:
    """Long-format rows (one per group and metric) from (record, per-episode values) pairs."""
    groups: dict[tuple[str, ...], list[tuple[Hashable, Mapping[str, float | None]]]] = defaultdict(list)
    for record, values in episodes:
        groups[tuple(str(record[k]) for k in GROUP_KEYS)].append((record.get("seed", 0), values))
    rows = []
    for group in sorted(groups):
        base = dict(zip(GROUP_KEYS, group, strict=True))
        episodes_ = groups[group]
        for name in sorted({name for _, values in episodes_ for name in values}):
            pairs = [(seed, values.get(name, 0.0 if zero_fill else None)) for seed, values in episodes_]
            kept = [(seed, float(v)) for seed, v in pairs if v is not None]
            if not kept:
                continue
            agg = bootstrap_mean([v for _, v in kept], clusters=[seed for seed, _ in kept])
            rows.append({**base, "metric": name, "value": agg.value, "ci_low": agg.ci_low,
                         "ci_high": agg.ci_high, "n": agg.n})
    return rows


def aggregate(records: Iterable[Mapping[str, Any]], errors: Iterable[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
    """Judge-independent rows: one per group and metric, plus an `errors` count row where episodes failed."""
    records = list(records)
    rows = summarize((record, episode_metrics(record)) for record in records)
    episodes: dict[tuple[str, ...], int] = defaultdict(int)
    for record in records:
        episodes[tuple(str(record[k]) for k in GROUP_KEYS)] += 1
    failed: dict[tuple[str, ...], int] = defaultdict(int)
    for error in errors:
        failed[tuple(str(error[k]) for k in GROUP_KEYS)] += 1
    for group in sorted(failed):
        count = failed[group]
        rows.append({**dict(zip(GROUP_KEYS, group, strict=True)), "metric": "errors", "value": float(count),
                     "ci_low": float(count), "ci_high": float(count), "n": episodes.get(group, 0)})
    return sorted(rows, key=lambda r: tuple(str(r[k]) for k in GROUP_KEYS))
