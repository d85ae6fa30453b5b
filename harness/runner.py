"""Runs benchmarks x agents x seeds with one model, records every episode, then publishes the leaderboard.

Flow: resolve and validate everything (names, data, model, options) before a single file is written; open or
resume the run directory keyed by the config hash; play the missing episodes concurrently (in-process models
batch the concurrent calls; a failed episode is retried `retries` times, then recorded in errors.jsonl with its
attempt count, never scored); aggregate; score with the judge; publish. Running, scoring and publishing stay
separate steps: `rescore` (the `agemem-bench score` command) judges a finished run again from its records.

Judges: `roles.judge` (a model spec) when set, else the offline lexical judge, labelled "lexical" in the
leaderboard's judge column. Judge-independent rows (EM/F1, success, tokens, lexical memory quality) carry the
judge label "none"; judge-dependent rows (judge_score, memory_quality, judge_* cost, *_missing counts) carry
their judge's label, so one run can hold rows of several judges side by side (the leaderboard identifies a
run's rows by (run_id, judge): metrics.leaderboard.publish).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from agents.api import Agent, Models
from agents.builtin import AGENTS
from agents.episode import Job, now, play_episode
from agents.llm.api import ChatModel
from agents.llm.batching import BatchingModel
from agents.llm.spec import load_model
from benchmarks.api import Benchmark, TaskRef
from benchmarks.builtin import BENCHMARKS
from benchmarks.data_dir import data_dir
from benchmarks.errors import SuiteError
from harness.config import RunConfig
from harness.provenance import git_commit, machine, package_versions
from harness.records import RunDir, read_jsonl, safe_name
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


def _call(what: str, factory: Callable[..., Any], *args: Any, **options: Any) -> Any:
    """Construct a benchmark/agent; a wrong option name is the user's mistake, not a traceback."""
    try:
        return factory(*args, **options)
    except TypeError as exc:
        raise SuiteError(f"{what}: bad option ({exc})") from exc


def resolve_benchmarks(config: RunConfig) -> dict[str, Benchmark]:
    root = data_dir(config.data_dir)
    return {
        name: _call(f"benchmark '{name}'", BENCHMARKS.get(name), data_dir=root, source=config.data_source,
                    **config.benchmark_options.get(name, {}))
        for name in config.benchmarks
    }


def select_tasks(config: RunConfig, benchmark: Benchmark) -> list[TaskRef]:
    split = config.split or benchmark.default_split
    if split not in benchmark.splits():
        raise SuiteError(f"{benchmark.name}: no split '{split}' in this data; available: {', '.join(benchmark.splits())}")
    tasks = list(benchmark.tasks(split))
    return tasks[: config.limit] if config.limit else tasks


class ModelPool:
    """Loads each model spec once per run and shares it between roles, agents and episodes."""

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self._models: dict[str, ChatModel] = {}
        self._lock = threading.Lock()

    def get(self, spec: str) -> ChatModel:
        with self._lock:
            if spec not in self._models:
                model = load_model(spec, threads=self.config.threads, **self.config.model_options)
                check = getattr(model, "check", None)
                if check is not None:
                    check()  # an unreachable server fails here, before anything is written
                self._models[spec] = BatchingModel(model, max_batch=max(1, self.config.concurrency))
            return self._models[spec]

    def models(self) -> Models:
        config = self.config
        return Models(policy=self.get(config.model), others={r: self.get(s) for r, s in config.roles.items()},
                      loader=self.get)

    def close(self) -> None:
        for model in self._models.values():
            model.close()


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
    """`models` overrides loading the configured model specs (tests pass scripted models here)."""
    benchmarks = resolve_benchmarks(config)
    tasks = {name: select_tasks(config, bench) for name, bench in benchmarks.items()}
    data = {name: dict(bench.provenance()) for name, bench in benchmarks.items()}
    factories = {name: AGENTS.get(name) for name in config.agents}
    config_hash = config.config_hash(data)
    run_id = f"{config.name}-{config_hash[:10]}"
    pool = ModelPool(config)
    models = models or pool.models()
    model_label = models.policy.spec
    for name, factory in factories.items():  # bad agent options fail now, not in episode 1
        _call(f"agent '{name}'", factory, models, **config.agent_options.get(name, {}))

    meta = {
        "run_id": run_id, "config_hash": config_hash, "config": config.as_dict(), "data": data,
        "commit": git_commit(), "packages": package_versions(), "machine": machine(), "created": now(),
        "updated": now(), "model": {"spec": models.policy.spec, "label": models.policy.label},
    }
    run_dir = RunDir.open(Path(config.out_dir) / run_id, meta)
    finished = run_dir.finished_keys()
    jobs = [job for job in _jobs(config, tasks) if job.key not in finished]
    total = len(finished) + len(jobs)
    log(f"run {run_id}: {total} episodes ({len(finished)} already done) -> {run_dir.path}")

    try:
        new = _play_all(config, benchmarks, factories, models, jobs, run_dir, total - len(jobs), total, model_label)
        # Sorted by key: bootstrap CIs (and float sums) must not depend on the order episodes finished in.
        records = sorted(run_dir.episodes(), key=lambda r: str(r["key"]))
        # Scoring: after the episodes, from their records (a judge model stays loaded until it is done).
        factory = llm_judge(models.others["judge"]) if "judge" in models.others else lexical_judge()
        scores = score_records(records, factory, JudgmentCache(run_dir.path / JUDGMENTS),
                               concurrency=config.concurrency)
    except KeyboardInterrupt:
        raise  # no graceful close: the CLI exits at once; episodes in flight were never recorded
    except BaseException:
        pool.close()
        raise
    pool.close()

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


def _play_all(config: RunConfig, benchmarks: dict[str, Benchmark], factories: dict[str, Callable[..., Agent]],
              models: Models, jobs: list[Job], run_dir: RunDir, done: int, total: int, model_label: str) -> int:
    from tqdm import tqdm

    def work(job: Job) -> tuple[dict, list[dict]]:
        agent = factories[job.agent](models, **config.agent_options.get(job.agent, {}))
        workdir = run_dir.path / "memory" / safe_name(job.key)
        return play_episode(benchmarks[job.benchmark], job, agent, config.max_steps, workdir)

    bar = tqdm(total=total, initial=done, unit="ep", disable=not config.progress, dynamic_ncols=True)
    # Bounded retry: a failed episode goes back to the end of the queue (a flaky server gets time to recover) until
    # it has had 1 + retries attempts; only then is it recorded in errors.jsonl, with its attempt count.
    attempts: dict[str, int] = {}
    again: deque[Job] = deque()
    completed = 0
    successes = 0
    pending: dict[Future, Job] = {}
    queue = iter(jobs)
    pool = ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="episode")
    try:
        while True:
            while len(pending) < config.concurrency and (job := next(queue, None) or _pop(again)) is not None:
                attempts[job.key] = attempts.get(job.key, 0) + 1
                pending[pool.submit(work, job)] = job
            if not pending:
                break
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                job = pending.pop(future)
                try:
                    record, steps = future.result()
                except SuiteError:
                    raise
                except Exception as exc:  # retried, then recorded, never scored; a rerun retries it again
                    reason = f"{type(exc).__name__}: {exc}"
                    tried = attempts[job.key]
                    if tried <= config.retries:
                        bar.write(f"episode {job.key} failed (attempt {tried} of {config.retries + 1}), retrying: "
                                  f"{reason}"[:300])
                        again.append(job)
                        continue
                    run_dir.append_error({
                        "key": job.key, "benchmark": job.benchmark, "split": job.task.split, "agent": job.agent,
                        "model": model_label, "task_id": job.task.task_id, "seed": job.seed,
                        "error": reason[:2000], "attempts": tried, "time": now(),
                    })
                    bar.write(f"episode {job.key} failed after {tried} attempts: {reason}"[:300])
                else:
                    run_dir.append_episode(record, steps)
                    completed += 1
                    successes += int(record["success"])
                bar.update(1)
                bar.set_postfix(success=f"{successes}/{completed}")
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)  # queued episodes never start
        raise
    pool.shutdown()
    bar.close()
    return completed


def _pop(jobs: deque[Job]) -> Job | None:
    return jobs.popleft() if jobs else None
