"""Runs benchmarks x agents x seeds with one model, records every episode, then publishes the leaderboard.

Flow: resolve and validate everything (names, data, model, options) before a single file is written; open or
resume the run directory keyed by the config hash; play the missing episodes concurrently on the executor's
workers (threads here, or Ray actors: harness.executors; in-process models batch the concurrent calls; a failed
episode is retried `retries` times, then recorded in errors.jsonl with its attempt count, never scored); record
each episode exactly once, from this process only; aggregate; score with the judge; publish. Running, scoring
and publishing stay separate steps: `rescore` (the `agemem-bench score` command) judges a finished run again from
its records.

Judges: `roles.judge` (a model spec) when set, else the offline lexical judge, labelled "lexical" in the
leaderboard's judge column. Judge-independent rows (EM/F1, success, tokens, lexical memory quality) carry the
judge label "none"; judge-dependent rows (judge_score, memory_quality, judge_* cost, *_missing counts) carry
their judge's label, so one run can hold rows of several judges side by side (the leaderboard identifies a
run's rows by (run_id, judge): metrics.leaderboard.publish).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from agents.api import Models
from agents.episode import Job, now
from agents.llm.batching import BatchingModel
from agents.llm.spec import load_model
from benchmarks.api import TaskRef
from benchmarks.errors import SuiteError
from harness.config import RunConfig
from harness.executors import Executor, open_executor
from harness.provenance import git_commit, machine, package_versions
from harness.records import RunDir, read_jsonl
from harness.workers import resolve_benchmarks, select_tasks
from metrics.aggregate import aggregate
from metrics.leaderboard import publish
from metrics.scoring import (
    INDEPENDENT,
    LEXICAL,
    JudgeFactory,
    JudgmentCache,
    ScoreResult,
    judge_rows,
    lexical_judge,
    llm_judge,
    score_records,
)

JUDGMENTS = "judgments.jsonl"


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    leaderboard_csv: Path
    leaderboard_md: Path
    episodes: int
    errors: int
    new_episodes: int
    judge: str = LEXICAL
    judge_missing: int = 0  # answers and memory items the judge gave no usable score for
    judge_errors: int = 0  # judge calls that raised (not cached; the next scoring retries them)


def data_label(provenance: dict[str, Any], split: str) -> str:
    """E.g. "data_dir:dev_distractor_part1.json" or "fixture:fixture.json": which data a leaderboard row used."""
    files = provenance.get("splits", {}).get(split, {}).get("files", [])
    names = ",".join(Path(f["path"]).name for f in files if "path" in f)
    source = str(provenance.get("source", "unknown"))
    return f"{source}:{names}" if names else source


def _jobs(config: RunConfig, tasks: dict[str, list[TaskRef]]) -> Iterator[Job]:
    for name, task_list in tasks.items():
        for agent in config.agents:
            for seed in config.seeds:
                for task in task_list:
                    yield Job(name, task, agent, seed)


def run(config: RunConfig, *, models: Models | None = None, log: Callable[[str], None] = print) -> RunResult:
    """`models` overrides loading the configured model specs (tests pass scripted models here; local executor)."""
    benchmarks = resolve_benchmarks(config)
    tasks = {name: select_tasks(config, bench) for name, bench in benchmarks.items()}
    data = {name: dict(bench.provenance()) for name, bench in benchmarks.items()}
    config_hash = config.config_hash(data)
    run_id = f"{config.name}-{config_hash[:10]}"
    run_path = Path(config.out_dir) / run_id
    executor = open_executor(config, run_path, benchmarks, data, models)  # loads models; bad options fail here
    try:
        meta = {
            "run_id": run_id, "config_hash": config_hash, "config": config.as_dict(), "data": data,
            "commit": git_commit(), "packages": package_versions(), "machine": machine(),
            "executor": executor.describe(), "created": now(), "updated": now(),
            "model": {"spec": executor.policy[0], "label": executor.policy[1]},
        }
        run_dir = RunDir.open(run_path, meta)
        finished = run_dir.finished_keys()
        jobs = [job for job in _jobs(config, tasks) if job.key not in finished]
        total = len(finished) + len(jobs)
        log(f"run {run_id}: {total} episodes ({len(finished)} already done) -> {run_dir.path}")
        new = _play_all(config, executor, jobs, run_dir, finished, total, executor.policy[0])
        # Sorted by key: bootstrap CIs (and float sums) must not depend on the order episodes finished in.
        records = sorted(run_dir.episodes(), key=lambda r: str(r["key"]))
        # Scoring: after the episodes, from their records, in this process (a judge model stays loaded till done).
        judge = executor.judge()
        factory = llm_judge(judge) if judge is not None else lexical_judge()
        scores = score_records(records, factory, JudgmentCache(run_dir.path / JUDGMENTS),
                               concurrency=config.concurrency)
    except BaseException:
        executor.close(cancel=True)  # episodes in flight are never recorded; a rerun plays them again
        raise
    executor.close()

    done = {r["key"] for r in records}
    errors = list({e["key"]: e for e in read_jsonl(run_dir.errors_path) if e["key"] not in done}.values())
    rows = _stamp(aggregate(records, errors), INDEPENDENT, meta) + _stamp(judge_rows(records, scores), None, meta)
    csv_path, md_path = publish(rows, Path(config.leaderboard_dir))
    return RunResult(run_dir.path, csv_path, md_path, len(records), len(errors), new, factory.name,
                     _missing(scores), scores.errors)


def _missing(scores: ScoreResult) -> int:
    return int(sum((v.get("judge_missing") or 0) + (v.get("memory_judge_missing") or 0)
                   for v in scores.per_episode.values()))


def _stamp(rows: list[dict[str, Any]], judge: str | None, meta: dict[str, Any]) -> list[dict[str, Any]]:
    """Provenance columns; `judge` None keeps each row's own judge label."""
    data = meta.get("data", {})
    for row in rows:
        row.update(run_id=meta["run_id"], commit=meta.get("commit", ""), date=now()[:10],
                   data_source=data_label(data.get(row["benchmark"], {}), row["split"]))
        if judge is not None:
            row["judge"] = judge
    return rows


def judge_factory(spec: str, *, threads: int = 1, model_options: dict[str, Any] | None = None) -> JudgeFactory:
    """"lexical" or a model spec (checked: an unreachable judge server fails here, before anything is written)."""
    if spec.strip() == LEXICAL:
        return lexical_judge()
    model = load_model(spec, threads=threads, **(model_options or {}))
    check = getattr(model, "check", None)
    if check is not None:
        check()
    batched = BatchingModel(model, max_batch=8)
    return replace(llm_judge(batched), close=batched.close)


@dataclass(frozen=True)
class ScoreRunResult:
    run_dir: Path
    judge: str
    episodes: int
    judged: int
    calls_made: int
    cached: int
    missing: int
    errors: int
    first_error: str
    leaderboard_csv: Path
    leaderboard_md: Path


def rescore(run_path: Path, judge_spec: str, *, leaderboard_dir: Path | None = None, concurrency: int = 4,
            threads: int = 1, factory: JudgeFactory | None = None, progress: bool = True) -> ScoreRunResult:
    """Judge a finished run's records with another judge (no episode is replayed) and publish its rows.

    `factory` overrides building the judge from `judge_spec` (tests pass scripted judge models here).
    """
    import json

    meta_path = run_path / "run.json"
    if not meta_path.is_file() or not (run_path / "episodes.jsonl").is_file():
        raise SuiteError(f"not a run directory (no run.json and episodes.jsonl): {run_path}")
    try:
        meta = json.loads(meta_path.read_text())
        run_id = str(meta["run_id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise SuiteError(f"{meta_path}: unreadable run metadata ({exc})") from None
    records = RunDir(run_path).episodes()
    if not any(isinstance(r.get("reference"), dict) for r in records):
        raise SuiteError(f"{run_path}: no episode has a gold answer to judge (run {run_id}: {len(records)} episodes)")
    if concurrency < 1:
        raise SuiteError("score: --concurrency must be >= 1")
    factory = factory or judge_factory(judge_spec, threads=threads)
    target = leaderboard_dir or Path(str(meta.get("config", {}).get("leaderboard_dir") or "leaderboards"))
    from tqdm import tqdm

    try:
        with tqdm(unit="judgment", disable=not progress, dynamic_ncols=True, desc=f"score {run_id}") as bar:
            scores = score_records(records, factory, JudgmentCache(run_path / JUDGMENTS), concurrency=concurrency,
                                   progress=bar.update)
    finally:
        factory.close()
    rows = _stamp(judge_rows(records, scores), None, {**meta, "run_id": run_id})
    csv_path, md_path = publish(rows, target)
    return ScoreRunResult(run_path, factory.name, len(records), scores.judged, scores.calls_made, scores.cached,
                          _missing(scores), scores.errors, scores.first_error, csv_path, md_path)


class _Schedule:
    """Which episode starts next. Independent episodes go in job order, a failed one back to the end of the queue (a
    flaky server gets time to recover). The episodes of an agent whose memory crosses episodes form one lane: one
    at a time, in job order, a failed one retried before the next, so its store sees the same sequence every run."""

    def __init__(self, jobs: list[Job], cross_episode: list[str]) -> None:
        self.free = deque(job for job in jobs if job.agent not in cross_episode)
        self.lanes = {agent: deque(job for job in jobs if job.agent == agent) for agent in cross_episode}
        self.busy: set[str] = set()

    def next(self) -> tuple[Job, str | None] | None:
        for lane, queue in self.lanes.items():
            if queue and lane not in self.busy:
                self.busy.add(lane)
                return queue.popleft(), lane
        return (self.free.popleft(), None) if self.free else None

    def finished(self, job: Job, lane: str | None, *, retry: bool) -> None:
        if lane is None:
            if retry:
                self.free.append(job)
            return
        self.busy.discard(lane)
        if retry:
            self.lanes[lane].appendleft(job)


def _play_all(config: RunConfig, executor: Executor, jobs: list[Job], run_dir: RunDir, finished: set[str],
              total: int, model_label: str) -> int:
    """Only this loop writes records, each key at most once: that is what keeps them exactly-once whatever the
    workers do (a worker that dies mid-episode only fails that attempt)."""
    from tqdm import tqdm

    bar = tqdm(total=total, initial=len(finished), unit="ep", disable=not config.progress, dynamic_ncols=True)
    # Bounded retry: a failed episode gets 1 + retries attempts; only then is it recorded in errors.jsonl, with
    # its attempt count, never scored (a rerun retries it again).
    attempts: dict[str, int] = {}
    written = set(finished)
    completed = successes = 0
    schedule = _Schedule(jobs, executor.cross_episode)
    pending: dict[Future, tuple[Job, str | None]] = {}
    while True:
        while len(pending) < executor.slots and (picked := schedule.next()) is not None:
            job, lane = picked
            attempts[job.key] = attempts.get(job.key, 0) + 1
            pending[executor.submit(job, lane)] = picked
        if not pending:
            break
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            job, lane = pending.pop(future)
            try:
                record, steps = future.result()
            except SuiteError:
                raise
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
                tried = attempts[job.key]
                schedule.finished(job, lane, retry=tried <= config.retries)
                if tried <= config.retries:
                    bar.write(f"episode {job.key} failed (attempt {tried} of {config.retries + 1}), retrying: "
                              f"{reason}"[:300])
                    continue
                run_dir.append_error({
                    "key": job.key, "benchmark": job.benchmark, "split": job.task.split, "agent": job.agent,
                    "model": model_label, "task_id": job.task.task_id, "seed": job.seed,
                    "error": reason[:2000], "attempts": tried, "time": now(),
                })
                bar.write(f"episode {job.key} failed after {tried} attempts: {reason}"[:300])
            else:
                schedule.finished(job, lane, retry=False)
                if job.key in written:  # never twice, whatever a worker or its restarts sent back
                    continue
                run_dir.append_episode(record, steps)
                written.add(job.key)
                completed += 1
                successes += int(record["success"])
            bar.update(1)
            bar.set_postfix(success=f"{successes}/{completed}")
    bar.close()
    return completed
