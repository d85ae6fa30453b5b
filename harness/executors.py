"""Where episodes run: threads in this process (`executor = "local"`, the default) or Ray actors (`"ray"`).

The runner schedules and records; an executor only plays episodes (harness.workers.EpisodeWorker) and hands back
futures of (record, steps). A `lane` names episodes that share memory across episodes: the runner submits them one
at a time, in order, and an executor keeps each lane on one worker, where its store lives.

Ray: `workers` actors, each loading the benchmarks, agents and models once and playing up to `concurrency`
episodes at a time (their model calls batched). Ray is the one already initialised in this process, the cluster at
`ray_address` ("auto" = the local node's cluster), or else a local instance started for the run. Each actor
reserves `worker_resources` (default {num_cpus = threads}; e.g. {num_gpus = 1} for a vLLM engine per GPU) and must
see the same data as the driver (compared by content hash) before any episode starts. An actor that dies is
restarted by Ray; its episodes in flight fail and are retried under the run's bounded policy.
"""

from __future__ import annotations

import os
import socket
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from agents.api import Models
from agents.episode import Job
from agents.llm.api import ChatModel
from benchmarks.api import Benchmark
from benchmarks.errors import SuiteError, require
from harness.config import RunConfig, portable
from harness.workers import EpisodeWorker, ModelPool

ACTOR_RESTARTS = 4  # per actor, over the run; an actor dying more often is a broken node, not bad luck
START_TIMEOUT_S = 900.0  # actors load models before answering; a request no node can place never starts

Played = tuple[dict[str, Any], list[dict[str, Any]]]


class Executor(Protocol):
    slots: int  # episodes that may run at once
    policy: tuple[str, str]  # the policy model's (spec, label), as the workers loaded it
    cross_episode: list[str]  # agents whose memory crosses episodes: their episodes go in one lane each

    def submit(self, job: Job, lane: str | None) -> Future[Played]: ...

    def judge(self) -> ChatModel | None:
        """The judge role's model for scoring in the driver (None: the lexical judge)."""
        ...

    def describe(self) -> dict[str, Any]: ...

    def close(self, cancel: bool = False) -> None:
        """Release workers and models; `cancel`: at once, dropping queued and running episodes (never recorded)."""
        ...


class ThreadExecutor:
    def __init__(self, config: RunConfig, run_path: Path, benchmarks: dict[str, Benchmark],
                 models: Models | None) -> None:
        self.worker = EpisodeWorker(config, run_path, benchmarks=benchmarks, models=models)
        self.slots = config.concurrency
        self.policy = (self.worker.models.policy.spec, self.worker.models.policy.label)
        self.cross_episode = self.worker.cross_episode
        self._threads = ThreadPoolExecutor(config.concurrency, thread_name_prefix="episode")

    def submit(self, job: Job, lane: str | None) -> Future[Played]:
        return self._threads.submit(self.worker.play, job)

    def judge(self) -> ChatModel | None:
        return self.worker.models.others.get("judge")

    def describe(self) -> dict[str, Any]:
        return {"kind": "local", "workers": [self.worker.name], "concurrency": self.slots}

    def close(self, cancel: bool = False) -> None:
        self._threads.shutdown(wait=not cancel, cancel_futures=cancel)  # cancel: queued episodes never start
        if cancel:  # and nothing waits for episodes in flight (an interrupted CLI exits at once)
            threading.Thread(target=self.worker.close, name="close-models", daemon=True).start()
        else:
            self.worker.close()


class _RayWorker:
    """The actor: an EpisodeWorker whose start-up error is kept and raised by `info`, as a one-line SuiteError
    (an actor whose constructor raised only reports a wrapped traceback)."""

    def __init__(self, config: RunConfig, run_path: str) -> None:
        self.error: SuiteError | None = None
        try:
            self.worker: EpisodeWorker | None = EpisodeWorker(config, run_path)
        except SuiteError as exc:
            self.worker, self.error = None, exc

    def info(self) -> dict[str, Any]:
        if self.worker is None:
            raise self.error or SuiteError("worker failed to start")
        return self.worker.info()

    def play(self, job: Job) -> Played:
        assert self.worker is not None
        return self.worker.play(job)

    def shutdown(self) -> None:
        import ray

        if self.worker is not None:
            self.worker.close()
        ray.actor.exit_actor()  # a graceful exit: run-scoped stores are closed by their atexit hooks


def _check_reachable(address: str | None) -> None:
    """Ray retries an unreachable cluster address for minutes; a port that refuses us is known in seconds."""
    if address in (None, "auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except ValueError:
        raise ValueError(f"expected host:port, 'auto' or ray://host:port, got {address!r}") from None


def _first_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:300]


def _cause(exc: BaseException) -> BaseException:
    """Ray wraps a worker's exception; the runner wants the original (a SuiteError stays a one-line error)."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc


class RayExecutor:
    def __init__(self, config: RunConfig, run_path: Path, data: dict[str, Any]) -> None:
        ray = require("ray", "ray")
        self._ray = ray
        self._started = not ray.is_initialized()
        self._judges = ModelPool(config)  # scoring runs in the driver, on the judge role only
        self._judge_spec = config.roles.get("judge")
        self._in_flight = [0] * config.workers
        self._lanes: dict[str, int] = {}
        self._lock = threading.Lock()
        self.actors: list[Any] = []
        if self._started:
            local = {} if config.ray_address else {
                "num_cpus": max(os.cpu_count() or 1, config.workers * config.threads), "include_dashboard": False}
            try:
                _check_reachable(config.ray_address)
                ray.init(address=config.ray_address, logging_level="ERROR", **local)
            except (OSError, RuntimeError, ValueError) as exc:
                where = f"the Ray cluster at {config.ray_address}" if config.ray_address else "a local Ray"
                raise SuiteError(f"cannot start or join {where}: {_first_line(exc)}") from None
        resources = {"num_cpus": config.threads, **config.worker_resources}
        actor = ray.remote(_RayWorker).options(max_concurrency=config.concurrency, max_restarts=ACTOR_RESTARTS,
                                               max_task_retries=0, **resources)
        self.actors = [actor.remote(config, str(run_path)) for _ in range(config.workers)]
        try:
            infos = [self._get(a.info.remote()) for a in self.actors]
        except BaseException:
            self.close(cancel=True)
            raise
        for info in infos:
            if portable(info["data"]) != portable(data):
                self.close(cancel=True)
                raise SuiteError(f"worker {info['worker']} sees other data than the driver: give every node the same "
                                 "data directory (data_dir) and package versions")
        self.infos = infos
        self.slots = config.workers * config.concurrency
        self.policy = (infos[0]["policy_spec"], infos[0]["policy_label"])
        self.cross_episode = infos[0]["cross_episode"]

    def _get(self, ref: Any) -> Any:
        try:
            return self._ray.get(ref, timeout=START_TIMEOUT_S)
        except self._ray.exceptions.GetTimeoutError:
            raise SuiteError(f"Ray workers did not start within {START_TIMEOUT_S:.0f} s: does the cluster have "
                             "the resources asked for (workers x worker_resources)?") from None
        except self._ray.exceptions.RayError as exc:
            cause = _cause(exc)
            if isinstance(cause, SuiteError):
                raise cause from None
            raise SuiteError(f"a Ray worker failed to start: {_first_line(cause)}") from None

    def submit(self, job: Job, lane: str | None) -> Future[Played]:
        with self._lock:
            if lane is not None:  # a lane stays on one actor: its store lives in that process
                index = self._lanes.setdefault(lane, len(self._lanes) % len(self.actors))
            else:
                index = min(range(len(self.actors)), key=self._in_flight.__getitem__)
            self._in_flight[index] += 1
        out: Future[Played] = Future()

        def settle(done: Future[Played]) -> None:
            with self._lock:
                self._in_flight[index] -= 1
            exc = done.exception()
            if exc is not None:
                out.set_exception(_cause(exc))
            else:
                out.set_result(done.result())

        self.actors[index].play.remote(job).future().add_done_callback(settle)
        return out

    def judge(self) -> ChatModel | None:
        return self._judges.get(self._judge_spec) if self._judge_spec else None

    def describe(self) -> dict[str, Any]:
        return {"kind": "ray", "workers": [i["worker"] for i in self.infos], "concurrency": self.slots,
                "address": self._ray.get_runtime_context().gcs_address}

    def close(self, cancel: bool = False) -> None:
        ray = self._ray
        if not cancel:
            for ref in [a.shutdown.remote() for a in self.actors]:
                try:
                    ray.get(ref, timeout=60)
                except ray.exceptions.RayError:
                    pass  # the actor exited (that is what shutdown does)
        for a in self.actors:
            ray.kill(a, no_restart=True)
        self._judges.close()
        if self._started:
            ray.shutdown()


def open_executor(config: RunConfig, run_path: Path, benchmarks: dict[str, Benchmark], data: dict[str, Any],
                  models: Models | None = None) -> Executor:
    """`models` (in-process models, e.g. tests' scripted ones) only work with the local executor."""
    if config.executor == "local":
        return ThreadExecutor(config, run_path, benchmarks, models)
    if models is not None:
        raise SuiteError("in-process models cannot be sent to Ray workers: give a model spec instead")
    return RayExecutor(config, run_path, data)
