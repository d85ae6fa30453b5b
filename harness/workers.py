"""The episode-playing side of a run: benchmarks, agents and models loaded once per process, one episode per call.

`EpisodeWorker` is what every executor runs (harness.executors): in the driver's own process for the thread
executor, once per Ray actor for the Ray executor. It only plays episodes and hands back (record, steps); the
driver alone writes records, so a worker that dies loses nothing that was recorded.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agents.api import Models
from agents.builtin import AGENTS
from agents.episode import Job, play_episode
from agents.llm.api import ChatModel
from agents.llm.batching import BatchingModel
from agents.llm.spec import load_model
from benchmarks.api import Benchmark, TaskRef
from benchmarks.builtin import BENCHMARKS
from benchmarks.data_dir import data_dir
from benchmarks.errors import SuiteError
from harness.config import RunConfig
from harness.records import safe_name


def construct(what: str, factory: Callable[..., Any], *args: Any, **options: Any) -> Any:
    """Construct a benchmark/agent; a wrong option name is the user's mistake, not a traceback."""
    try:
        return factory(*args, **options)
    except TypeError as exc:
        raise SuiteError(f"{what}: bad option ({exc})") from exc


def resolve_benchmarks(config: RunConfig) -> dict[str, Benchmark]:
    root = data_dir(config.data_dir)
    return {
        name: construct(f"benchmark '{name}'", BENCHMARKS.get(name), data_dir=root, source=config.data_source,
                        **config.benchmark_options.get(name, {}))
        for name in config.benchmarks
    }


def select_tasks(config: RunConfig, benchmark: Benchmark) -> list[TaskRef]:
    split = config.split or benchmark.default_split
    if split not in benchmark.splits():
        available = ", ".join(benchmark.splits())
        raise SuiteError(f"{benchmark.name}: no split '{split}' in this data; available: {available}")
    tasks = list(benchmark.tasks(split))
    return tasks[: config.limit] if config.limit else tasks


class ModelPool:
    """Loads each model spec once per process and shares it between roles, agents and episodes."""

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


class EpisodeWorker:
    """Plays the episodes of one run. `models` overrides loading the configured specs (tests pass scripted models);
    `benchmarks` reuses the driver's instances when the worker lives in the driver's process."""

    def __init__(self, config: RunConfig, run_path: str | Path, *, benchmarks: dict[str, Benchmark] | None = None,
                 models: Models | None = None) -> None:
        self.config, self.run_path = config, Path(run_path)
        self.name = f"{socket.gethostname()}:{os.getpid()}"  # recorded with every episode it plays
        self.benchmarks = benchmarks if benchmarks is not None else resolve_benchmarks(config)
        self.factories = {name: AGENTS.get(name) for name in config.agents}
        self.pool = ModelPool(config)
        try:
            self.models = models or self.pool.models()
            # Bad agent options fail now, not in episode 1; and which agents carry memory across episodes.
            agents = {name: construct(f"agent '{name}'", factory, self.models, **config.agent_options.get(name, {}))
                      for name, factory in self.factories.items()}
        except BaseException:
            self.pool.close()
            raise
        self.cross_episode = sorted(name for name, agent in agents.items() if getattr(agent, "cross_episode", False))

    def info(self) -> dict[str, Any]:
        """Who this is and the data it sees: provenance after loading the run's tasks, as the driver's is."""
        for bench in self.benchmarks.values():
            select_tasks(self.config, bench)
        return {"worker": self.name, "policy_spec": self.models.policy.spec, "policy_label": self.models.policy.label,
                "cross_episode": self.cross_episode,
                "data": {name: dict(bench.provenance()) for name, bench in self.benchmarks.items()}}

    def play(self, job: Job) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        agent = construct(f"agent '{job.agent}'", self.factories[job.agent], self.models,
                          **self.config.agent_options.get(job.agent, {}))
        record, steps = play_episode(self.benchmarks[job.benchmark], job, agent, self.config.max_steps,
                                     self._workdir(job))
        record["worker"] = self.name
        return record, steps

    def _workdir(self, job: Job) -> Path:
        """Stores go with the run's records when this node sees the run directory (one machine, or a shared file
        system); otherwise in this node's temporary directory (records carry the memory contents either way)."""
        root = self.run_path if (self.run_path / "run.json").is_file() else (
            Path(tempfile.gettempdir()) / "agemem-bench" / self.run_path.name)
        return root / "memory" / safe_name(job.key)

    def close(self) -> None:
        self.pool.close()
