"""Runs benchmarks x agents x seeds with one model, records every episode, then publishes the leaderboard.

Flow: resolve and validate everything (names, data, model, options) before a single file is written; open or
resume the run directory keyed by the config hash; play the missing episodes concurrently (in-process models
batch the concurrent calls); aggregate; publish. Running, scoring and publishing stay separate steps.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.api import Agent, Models
from agents.episode import Job, now, play_episode
from agents.builtin import AGENTS
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


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    leaderboard_csv: Path
    leaderboard_md: Path
    episodes: int
    errors: int
    new_episodes: int


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
    except KeyboardInterrupt:
        raise  # no graceful close: the CLI exits at once; episodes in flight were never recorded
    except BaseException:
        pool.close()
        raise
    pool.close()

    records = run_dir.episodes()
    done = {r["key"] for r in records}
    errors = list({e["key"]: e for e in read_jsonl(run_dir.errors_path) if e["key"] not in done}.values())
    rows = aggregate(records, errors)
    stamp = {"judge": "none (EM/F1 only)", "run_id": run_id, "commit": meta["commit"], "date": now()[:10]}
    for row in rows:
        row.update(stamp, data_source=data_label(data.get(row["benchmark"], {}), row["split"]))
    csv_path, md_path = publish(rows, Path(config.leaderboard_dir))
    return RunResult(run_dir.path, csv_path, md_path, len(records), len(errors), new)


def _play_all(config: RunConfig, benchmarks: dict[str, Benchmark], factories: dict[str, Callable[..., Agent]],
              models: Models, jobs: list[Job], run_dir: RunDir, done: int, total: int, model_label: str) -> int:
    from tqdm import tqdm

    def work(job: Job) -> tuple[dict, list[dict]]:
        agent = factories[job.agent](models, **config.agent_options.get(job.agent, {}))
        workdir = run_dir.path / "memory" / safe_name(job.key)
        return play_episode(benchmarks[job.benchmark], job, agent, config.max_steps, workdir)

    bar = tqdm(total=total, initial=done, unit="ep", disable=not config.progress, dynamic_ncols=True)
    completed = 0
    successes = 0
    pending: dict[Future, Job] = {}
    queue = iter(jobs)
    pool = ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="episode")
    try:
        while True:
            while len(pending) < config.concurrency and (job := next(queue, None)) is not None:
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
                except Exception as exc:  # recorded, never scored; a rerun retries the episode
                    run_dir.append_error({
                        "key": job.key, "benchmark": job.benchmark, "split": job.task.split, "agent": job.agent,
                        "model": model_label, "task_id": job.task.task_id, "seed": job.seed,
                        "error": f"{type(exc).__name__}: {exc}"[:2000], "time": now(),
                    })
                    bar.write(f"episode {job.key} failed: {type(exc).__name__}: {exc}"[:300])
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
