"""Run configuration: presets (TOML files), a user's TOML file and command-line flags, merged in that order.

The config hash covers only what changes results (benchmarks, agents, model, split, seeds, limits, options,
data). `limit` and `concurrency` are left out on purpose: a rerun with a larger limit or more workers resumes
the same run instead of starting a new one. So is the judge role (`roles.judge`): judging happens after the
episodes (metrics.scoring), so another judge re-scores the same run instead of replaying it. Nor is where
episodes run (`executor`, `workers`, `ray_address`, `worker_resources`): a run started on threads can be resumed on
a Ray cluster.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

from agents.llm.spec import EMBEDDED_MODEL_SPEC
from benchmarks.errors import SuiteError

NOT_HASHED = frozenset({"limit", "concurrency", "threads", "out_dir", "leaderboard_dir", "progress", "retries",
                        "executor", "workers", "ray_address", "worker_resources"})
EXECUTORS = ("local", "ray")
WORKER_RESOURCES = frozenset({"num_cpus", "num_gpus", "memory", "resources"})  # Ray actor options
NOT_HASHED_ROLES = frozenset({"judge"})  # scoring after the episodes: never changes an episode


@dataclass(frozen=True)
class RunConfig:
    name: str = "run"
    benchmarks: tuple[str, ...] = ("hotpotqa",)
    agents: tuple[str, ...] = ("nomem",)
    model: str = EMBEDDED_MODEL_SPEC
    roles: dict[str, str] = field(default_factory=dict)  # other model roles, e.g. {"judge": "openai/...@..."}
    split: str | None = None  # None = each benchmark's evaluation split
    limit: int | None = None  # episodes per benchmark x agent x seed (first N tasks); None = all
    seeds: tuple[int, ...] = (0,)
    max_steps: int | None = None  # None = each benchmark's own cap
    concurrency: int = 4
    threads: int = 1  # torch threads for in-process models
    data_dir: str | None = None
    data_source: str = "auto"
    benchmark_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    agent_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    model_options: dict[str, Any] = field(default_factory=dict)
    out_dir: str = "runs"
    leaderboard_dir: str = "leaderboards"
    progress: bool = True
    retries: int = 1  # extra attempts for a failed episode within a run; then it is recorded as an error
    # Where episodes run (harness.executors): "local" threads, or "ray" actors on this machine or a cluster.
    executor: str = "local"
    workers: int = 1  # Ray actors, each playing `concurrency` episodes at a time
    ray_address: str | None = None  # None: start a local Ray; "auto" or "ray://host:10001": join a cluster
    worker_resources: dict[str, Any] = field(default_factory=dict)  # per actor, e.g. {"num_gpus": 1}

    def __post_init__(self) -> None:
        if not self.benchmarks or not self.agents or not self.seeds:
            raise SuiteError("config: benchmarks, agents and seeds must each name at least one entry")
        if self.limit is not None and self.limit < 1:
            raise SuiteError("config: limit must be a positive number of episodes")
        if self.retries < 0:
            raise SuiteError("config: retries must be >= 0")
        if self.concurrency < 1 or self.threads < 1:
            raise SuiteError("config: concurrency and threads must be >= 1")
        if self.max_steps is not None and self.max_steps < 1:
            raise SuiteError("config: max_steps must be >= 1")
        if self.executor not in EXECUTORS:
            raise SuiteError(f"config: executor must be one of {', '.join(EXECUTORS)}, got {self.executor!r}")
        if self.workers < 1:
            raise SuiteError("config: workers must be >= 1")
        custom = self.worker_resources.get("resources", {})
        numbers = {**{k: v for k, v in self.worker_resources.items() if k != "resources"},
                   **(custom if isinstance(custom, dict) else {"resources": custom})}
        bad = sorted(k for k, v in numbers.items() if isinstance(v, bool) or not isinstance(v, int | float) or v < 0)
        unknown = sorted(set(self.worker_resources) - WORKER_RESOURCES)
        if bad or unknown:
            raise SuiteError(f"config: worker_resources takes {', '.join(sorted(WORKER_RESOURCES))} (numbers >= 0; "
                             f"resources: a table of custom Ray resources); bad: {', '.join(unknown + bad)}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def config_hash(self, data_provenance: dict[str, Any]) -> str:
        hashed = {k: v for k, v in self.as_dict().items() if k not in NOT_HASHED}
        hashed["roles"] = {role: spec for role, spec in self.roles.items() if role not in NOT_HASHED_ROLES}
        hashed["data"] = portable(data_provenance)
        blob = json.dumps(hashed, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()


def portable(value: Any) -> Any:
    """Provenance without file-system locations: the same data (by hash) gives the same run id anywhere."""
    if isinstance(value, dict):
        return {k: portable(v) for k, v in value.items() if k not in ("path", "data_dir")}
    if isinstance(value, list):
        return [portable(v) for v in value]
    return value


_FIELDS = {f.name: f for f in fields(RunConfig)}
_TUPLES = {"benchmarks", "agents", "seeds"}


def presets() -> list[str]:
    return sorted(p.name.removesuffix(".toml") for p in resources.files("harness.presets").iterdir()
                  if p.name.endswith(".toml"))


def _read_toml(text: str, origin: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError(f"{origin}: not valid TOML ({exc})") from exc


def load_preset(name: str) -> dict[str, Any]:
    if name not in presets():
        raise SuiteError(f"unknown preset '{name}'; known: {', '.join(presets())}")
    text = resources.files("harness.presets").joinpath(f"{name}.toml").read_text()
    return _read_toml(text, f"preset {name}")


def load_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise SuiteError(f"config file not found: {path}")
    return _read_toml(path.read_text(), str(path))


def build_config(*layers: dict[str, Any]) -> RunConfig:
    """Merge layers (later wins; None values are ignored) into a validated RunConfig."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if value is None:
                continue
            if key not in _FIELDS:
                raise SuiteError(f"config: unknown setting '{key}'; known: {', '.join(sorted(_FIELDS))}")
            merged[key] = tuple(value) if key in _TUPLES else value
    try:
        return RunConfig(**merged)
    except TypeError as exc:
        raise SuiteError(f"config: {exc}") from exc
