"""Scoring: the judge-dependent metrics of finished episodes, computed from their records, with a judgment cache.

Scoring is a stage after the episodes: a record that has a `reference` (question, gold answer, gold supporting
sentences; see agents/episode.py) and a `prediction` can be judged by any Judge, now or later, without replaying
the episode. Per episode:

- judge_score      the judge's 0-1 score of the prediction vs the gold answer (tables show it x100, like the paper's
                   HotpotQA "J"); an episode that ended without answering (truncated) scores 0.0 without a call;
- memory_quality   the share of the stored long-term-memory items the judge scores >= HIGH_QUALITY, given the
                   question, gold answer and supporting sentences (absent for agents without memory; None for an
                   empty or unreadable store);
- judge_prompt_tokens, judge_completion_tokens, judge_calls: the judge's cost for this episode's judgments (the
                   cost recorded when each was first made, so a cached rerun reports the same numbers).

A judgment the judge could not give (unparseable after its retries) is None: left out of the means (n says how
many episodes had a value) and counted in `judge_missing` (answers) and `memory_judge_missing` (items); it is
never turned into 0 or 1. A judge call that raised (server down) is not cached and counts as missing this time
(`judge_errors`); scoring again retries it.

Cache: `judgments.jsonl` in the run directory, append-only (flushed and fsynced per line), keyed by
(judge name, kind, sha256 of the judge's exact input). The input includes the judge's prompt fingerprint, so
changed prompts never reuse old scores. Cached None values are reused too (a greedy judge would repeat itself).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agents.llm.api import ChatModel, Usage
from metrics import judges
from metrics.aggregate import GROUP_KEYS, summarize
from metrics.judges import HIGH_QUALITY, Judge, LexicalJudge, LLMJudge
from metrics.memory_quality import stored_items, support_sentences

LEXICAL = "lexical"
INDEPENDENT = "none"  # the judge label of rows no judge takes part in (EM/F1, success, tokens, lexical memory)
KINDS = ("answer", "memory_item")


@dataclass(frozen=True)
class JudgeFactory:
    """Makes a fresh Judge per judgment (so each judgment's usage is its own), with its cache identity."""

    name: str  # the leaderboard's judge label: "lexical" or "llm:<model spec>"
    fingerprint: str  # changes whenever the judge's prompts or rules change
    make: Callable[[], Judge]
    close: Callable[[], None] = lambda: None  # releases a judge model this factory loaded itself


def lexical_judge() -> JudgeFactory:
    rules = (judges.LexicalJudge.__doc__ or "") + repr(sorted(judges.STOPWORDS))
    return JudgeFactory(LEXICAL, _sha(rules)[:16], LexicalJudge)


def llm_judge(model: ChatModel, *, retries: int = 2) -> JudgeFactory:
    prompts = "\n".join((judges.ANSWER_PROMPT, judges.MEMORY_ITEM_PROMPT, judges.RETRY_MESSAGE, str(retries)))
    return JudgeFactory(f"llm:{model.spec}", _sha(prompts)[:16], lambda: LLMJudge(model, retries=retries))


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Judgment:
    value: float | None
    usage: Usage = field(default_factory=Usage)
    error: str = ""  # set when the call raised: not cached


class JudgmentCache:
    """Append-only judgments.jsonl; a partial last line (a crash mid-write) is cut off when opened."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._entries: dict[tuple[str, str, str], Judgment] = {}
        self._lock = threading.Lock()
        if path is None or not path.exists():
            return
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            with open(path, "r+b") as fh:
                fh.truncate(data.rfind(b"\n") + 1)
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    entry = json.loads(line)
                    usage = Usage(**{k: entry.get("usage", {}).get(k, 0) for k in
                                     ("prompt_tokens", "completion_tokens", "calls", "seconds")})
                    value = entry["value"]
                    key = (str(entry["judge"]), str(entry["kind"]), str(entry["input_sha256"]))
                except (ValueError, KeyError, TypeError):
                    continue  # a damaged line is not a judgment
                if value is None or isinstance(value, int | float) and 0.0 <= value <= 1.0:
                    self._entries[key] = Judgment(None if value is None else float(value), usage)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, judge: str, kind: str, digest: str) -> Judgment | None:
        with self._lock:
            return self._entries.get((judge, kind, digest))

    def put(self, judge: str, kind: str, digest: str, judgment: Judgment) -> None:
        with self._lock:
            self._entries[(judge, kind, digest)] = judgment
            if self.path is None:
                return
            line = json.dumps({"judge": judge, "kind": kind, "input_sha256": digest, "value": judgment.value,
                               "usage": judgment.usage.as_dict(), "time": _now()}, sort_keys=True) + "\n"
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())


@dataclass(frozen=True)
class _Request:
    kind: str
    inputs: tuple[Any, ...]  # the exact arguments of the Judge method

    def digest(self, fingerprint: str) -> str:
        return _sha(json.dumps([fingerprint, self.kind, self.inputs], ensure_ascii=False))


def _requests(record: Mapping[str, Any]) -> tuple[_Request | None, list[_Request] | None]:
    """The answer judgment (None: the episode gave no answer) and the item judgments (None: no memory metric)."""
    reference = record.get("reference")
    if not isinstance(reference, Mapping) or not isinstance(reference.get("answer"), str):
        return None, None
    question, gold = str(reference.get("question", "")), reference["answer"]
    prediction = record.get("prediction")
    answer = _Request("answer", (question, gold, prediction)) if isinstance(prediction, str) else None
    memory = stored_items(record)
    if not memory.has_memory:
        return answer, None
    if not memory.readable:
        return answer, []
    support = tuple(support_sentences(reference))
    return answer, [_Request("memory_item", (question, gold, item, support)) for item in memory.items]


@dataclass
class ScoreResult:
    judge: str
    per_episode: dict[str, dict[str, float | None]]  # episode key -> judge-dependent values
    judged: int = 0  # episodes with a reference
    calls_made: int = 0  # judgments made now (not from the cache)
    cached: int = 0  # judgments taken from the cache
    errors: int = 0  # judgments whose call raised (not cached; retried by the next scoring)
    first_error: str = ""


def score_records(records: Sequence[Mapping[str, Any]], factory: JudgeFactory, cache: JudgmentCache, *,
                  concurrency: int = 4, progress: Callable[[int], None] | None = None) -> ScoreResult:
    """Judge every record that has a reference; identical judgments are asked once and cached."""
    plan: dict[str, tuple[_Request | None, list[_Request] | None]] = {}
    for record in records:
        if isinstance(record.get("reference"), Mapping):
            plan[str(record["key"])] = _requests(record)
    wanted: dict[str, _Request] = {}
    for answer, items in plan.values():
        for request in ([answer] if answer else []) + (items or []):
            wanted.setdefault(request.digest(factory.fingerprint), request)
    result = ScoreResult(factory.name, {}, judged=len(plan))
    judgments: dict[str, Judgment] = {}
    todo = []
    for digest, request in wanted.items():
        hit = cache.get(factory.name, request.kind, digest)
        if hit is not None:
            judgments[digest] = hit
            result.cached += 1
        else:
            todo.append((digest, request))

    def ask(item: tuple[str, _Request]) -> tuple[str, Judgment]:
        digest, request = item
        judge = factory.make()
        try:
            method = judge.answer if request.kind == "answer" else judge.memory_item
            value = method(*request.inputs)
        except Exception as exc:  # a failed call is no judgment: not cached, missing this time
            return digest, Judgment(None, judge.usage, error=f"{type(exc).__name__}: {exc}"[:300])
        judgment = Judgment(value, judge.usage)
        cache.put(factory.name, request.kind, digest, judgment)
        return digest, judgment

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="judge") as pool:
        for digest, judgment in pool.map(ask, todo):
            judgments[digest] = judgment
            if judgment.error:
                result.errors += 1
                result.first_error = result.first_error or judgment.error
            else:
                result.calls_made += 1
            if progress is not None:
                progress(1)
    for key, (answer, items) in plan.items():
        result.per_episode[key] = _episode_values(answer, items, judgments, factory.fingerprint)
    return result


def _episode_values(answer: _Request | None, items: list[_Request] | None, judgments: Mapping[str, Judgment],
                    fingerprint: str) -> dict[str, float | None]:
    usage = Usage()
    values: dict[str, float | None] = {}
    if answer is None:
        values.update(judge_score=0.0, judge_missing=0.0)  # no answer given: wrong, not a missing judgment
    else:
        judgment = judgments[answer.digest(fingerprint)]
        usage = usage + judgment.usage
        values.update(judge_score=judgment.value, judge_missing=float(judgment.value is None))
    if items is not None:
        scores = []
        for request in items:
            judgment = judgments[request.digest(fingerprint)]
            usage = usage + judgment.usage
            scores.append(judgment.value)
        known = [s for s in scores if s is not None]
        values["memory_quality"] = sum(s >= HIGH_QUALITY for s in known) / len(known) if known else None
        values["memory_judge_missing"] = float(len(scores) - len(known))
    values.update(judge_prompt_tokens=float(usage.prompt_tokens),
                  judge_completion_tokens=float(usage.completion_tokens), judge_calls=float(usage.calls))
    return values


COUNT_METRICS = ("judge_missing", "memory_judge_missing")  # reported as totals over the group, not means


def judge_rows(records: Iterable[Mapping[str, Any]], scores: ScoreResult) -> list[dict[str, Any]]:
    """Long-format rows of the judge-dependent metrics, labelled with the judge (judge column)."""
    pairs = [(r, scores.per_episode[str(r["key"])]) for r in records if str(r["key"]) in scores.per_episode]
    means = [(r, {k: v for k, v in values.items() if k not in COUNT_METRICS}) for r, values in pairs]
    rows = summarize(means, zero_fill=False)
    totals: dict[tuple[str, ...], dict[str, list[float]]] = {}
    for record, values in pairs:
        group = totals.setdefault(tuple(str(record[k]) for k in GROUP_KEYS), {})
        for name in COUNT_METRICS:
            if name in values:
                group.setdefault(name, []).append(float(values[name] or 0.0))
    for group, counts in sorted(totals.items()):
        for name, per_episode in sorted(counts.items()):
            total = float(sum(per_episode))
            rows.append({**dict(zip(GROUP_KEYS, group, strict=True)), "metric": name, "value": total,
                         "ci_low": total, "ci_high": total, "n": len(per_episode)})
    for row in rows:
        row["judge"] = scores.judge
    return rows
