"""Harness overhead per step: the episode loop + agent prompt building + record writing, with an instant model.

Side by side in one run: the same episodes with the real embedded model, so the overhead is reported as a share
of real episode time. Usage: python perf/harness_overhead.py [--episodes 20] [--real-episodes 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from agents.api import Models
from agents.llm.api import ChatRequest, Completion, Usage
from agents.llm.batching import BatchingModel
from agents.llm.spec import EMBEDDED_MODEL_SPEC, load_model
from agents.nomem import NoMemoryAgent
from benchmarks.hotpotqa.benchmark import HotpotQA
from harness.records import RunDir
from agents.episode import Job, play_episode


class InstantModel:
    """Replies at once with a fixed answer; counts tokens as words. Isolates what the harness itself costs."""

    spec = label = "instant"

    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        return [Completion("<think>x</think><answer>yes</answer>", Usage(1, 1, 1)) for _ in requests]

    def count_tokens(self, messages: Sequence) -> int:
        return sum(len(m["content"].split()) for m in messages)

    def close(self) -> None:
        pass


def time_episodes(model, n: int, bench: HotpotQA, out: Path) -> tuple[float, int]:
    run = RunDir.open(out, {"config_hash": out.name})
    tasks = list(bench.tasks(bench.default_split))
    steps = 0
    start = time.perf_counter()
    for i in range(n):
        job = Job(bench.name, tasks[i % len(tasks)], "nomem", seed=i)
        record, trajectory = play_episode(bench, job, NoMemoryAgent(Models(policy=model), max_new_tokens=48), None)
        run.append_episode(record, trajectory)
        steps += record["steps"]
    return time.perf_counter() - start, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--real-episodes", type=int, default=2, help="0 skips the real-model comparison")
    parser.add_argument("--model", default=EMBEDDED_MODEL_SPEC)
    args = parser.parse_args()
    bench = HotpotQA(source="fixture")
    with tempfile.TemporaryDirectory() as tmp:
        instant = BatchingModel(InstantModel())
        wall, steps = time_episodes(instant, args.episodes, bench, Path(tmp) / "instant")
        instant.close()
        per_step = wall / steps
        print(f"instant model: {args.episodes} episodes, {steps} steps, {wall:.3f} s -> "
              f"harness overhead {per_step * 1000:.2f} ms/step")
        if args.real_episodes:
            real = BatchingModel(load_model(args.model))
            real_wall, real_steps = time_episodes(real, args.real_episodes, bench, Path(tmp) / "real")
            real.close()
            real_step = real_wall / real_steps
            print(f"{args.model}: {args.real_episodes} episodes, {real_steps} steps, {real_wall:.1f} s -> "
                  f"{real_step * 1000:.0f} ms/step")
            print(f"harness overhead share of a real step: {per_step / real_step:.3%}")


if __name__ == "__main__":
    main()
