"""One episode, the same for evaluation and training: observation -> agent -> action -> environment.

Returns the summary record and the per-step trajectory; writing them is the caller's business (the runner
appends them to a run directory, the trainer turns them into rewards).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agents.api import Agent
from agents.llm.api import Usage
from benchmarks.api import Benchmark, StepLimit, TaskRef


def episode_key(benchmark: str, split: str, task_id: str, agent: str, seed: int) -> str:
    return f"{benchmark}/{split}/{task_id}/{agent}/seed{seed}"


@dataclass(frozen=True)
class Job:
    benchmark: str
    task: TaskRef
    agent: str
    seed: int

    @property
    def key(self) -> str:
        return episode_key(self.benchmark, self.task.split, self.task.task_id, self.agent, self.seed)


def episode_reference(episode: Any) -> dict[str, Any] | None:
    """What judges need from an episode with a gold answer (question, answer, supporting sentences as [title,
    sentence]), kept in the record so scoring never replays the episode. An episode may offer `reference()`;
    HotpotQA episodes keep their HotpotRecord as `record`. None for episodes without a gold answer."""
    hook = getattr(episode, "reference", None)
    if callable(hook):
        return dict(hook())
    record = getattr(episode, "record", None)
    if record is None or not all(hasattr(record, name) for name in ("question", "answer", "gold_sentences")):
        return None
    sentences, _ = record.gold_sentences()
    return {"question": record.question, "answer": record.answer,
            "support": [[title, sentence] for title, sentence in sentences]}


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def play_episode(
    benchmark: Benchmark, job: Job, agent: Agent, max_steps: int | None, workdir: Path | None = None
) -> tuple[dict, list[dict]]:
    """One episode: observation -> agent -> action -> environment, until terminated or truncated."""
    if workdir is not None:  # a retried episode must not see its failed attempt's memory
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
    inner = benchmark.make(job.task, seed=job.seed)
    episode = StepLimit(inner, max_steps or inner.max_steps)
    started, t0 = now(), time.perf_counter()
    usage: dict[str, Usage] = {}
    steps: list[dict[str, Any]] = []
    invalid = 0
    try:
        agent.reset(job.task, seed=job.seed, workdir=workdir)
        observation = episode.reset()
        while True:
            decision = agent.act(observation)
            result = episode.step(decision.action)
            for role, used in decision.usage.items():
                usage[role] = usage.get(role, Usage()) + used
            invalid += 0 if result.valid else 1
            steps.append(
                {
                    "step": len(steps),
                    "observation": observation.text,
                    "goal": observation.goal,
                    "new_session": observation.new_session,
                    "action": decision.action,
                    "valid": result.valid,
                    "reward": result.reward,
                    "progress": result.progress,
                    "agent": dict(decision.trace),
                }
            )
            observation = result.observation
            if result.done:
                break
        stats = dict(agent.episode_stats())
    finally:
        episode.close()
        close = getattr(agent, "close", None)  # agents holding stores or servers release them, even on failure
        if close is not None:
            close()
    record = {
        "key": job.key,
        "benchmark": job.benchmark,
        "split": job.task.split,
        "task_id": job.task.task_id,
        "agent": job.agent,
        "model": agent.policy.spec,
        "seed": job.seed,
        "success": bool(result.success),
        "progress": float(result.progress),
        "terminated": result.terminated,
        "truncated": result.truncated,
        "steps": len(steps),
        "invalid_actions": invalid,
        "metrics": dict(result.metrics),
        "usage": {role: u.as_dict() for role, u in sorted(usage.items())},
        "wall_seconds": round(time.perf_counter() - t0, 3),
        "task_info": dict(job.task.info),
        "layout": dict(getattr(inner, "layout", {}) or {}),
        "agent_stats": stats,
        "started": started,
        "finished": now(),
    }
    reference = episode_reference(inner)
    if reference is not None:  # the answer is the action that ended the episode; none when it was cut off
        record["reference"] = reference
        record["prediction"] = steps[-1]["action"] if result.terminated and steps else None
    return record, steps
