"""Per-step latency of the embodied adapters side by side in one run, and ScienceWorld's fast step vs env.step().

Each adapter plays a scripted path through the episode API on its first tasks (AgentBoard's sets from the data
directory when present, else the offline fixtures): PDDL follows the reference planner's plan, ALFWorld the
built-in planner expert's, ScienceWorld its gold path, BabyAI a cycle of `check valid actions`, the first `go to`
it lists and two primitive moves. Times are wall-clock medians over all steps (and resets) of a benchmark; the
machine's other load shows in them, so compare the rows of one run. ScienceWorld replays the same gold paths with
fast_step off for the ratio. Usage:

    python perf/adapter_latency.py [--tasks 3] [--benchmarks pddl,babyai,scienceworld,alfworld] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MAX_STEPS = 30


def scripted_path(name: str, bench: Any, episode: Any, task: Any) -> list[str] | None:
    """The actions to play, or None for BabyAI, whose next action depends on the last reply."""
    if name == "pddl":
        from benchmarks.pddl.planner import plan

        found = plan(episode.simulator, "gbfs", max_expansions=20_000).plan or []
        return [episode.language.action(action) for action in found]
    if name == "alfworld":
        from benchmarks.alfworld.benchmark import planner_plan

        return planner_plan(bench.game(task.task_id))
    if name == "scienceworld":
        return episode.gold_actions()
    return None


def babyai_next(step: int, last_reply: str) -> str:
    if step % 4 == 0:
        return "check valid actions"
    if step % 4 == 1:
        options = re.findall(r"go to [a-z]+ [a-z ]*?\d+", last_reply)
        return options[0] if options else "turn left"
    return ("turn left", "move forward")[step % 2]


def play(name: str, bench: Any, tasks: list[Any], paths: dict[str, list[str] | None]) -> dict[str, Any]:
    resets: list[float] = []
    steps: list[float] = []
    solved = 0
    for task in tasks:
        episode = bench.make(task)
        try:
            if task.task_id not in paths:
                paths[task.task_id] = scripted_path(name, bench, episode, task)
            path = paths[task.task_id]
            started = time.perf_counter()
            reply = episode.reset().text
            resets.append(time.perf_counter() - started)
            for i in range(MAX_STEPS if path is None else min(MAX_STEPS, len(path))):
                action = babyai_next(i, reply) if path is None else path[i]
                started = time.perf_counter()
                result = episode.step(action)
                steps.append(time.perf_counter() - started)
                reply = result.observation.text
                if result.done:
                    solved += int(result.success)
                    break
        finally:
            episode.close()
    return {"tasks": len(tasks), "solved": solved, "steps": len(steps),
            "reset_s": statistics.median(resets), "step_ms": 1000 * statistics.median(steps),
            "step_p90_ms": 1000 * statistics.quantiles(steps, n=10)[-1] if len(steps) > 1 else 1000 * steps[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=3)
    parser.add_argument("--benchmarks", default="pddl,babyai,scienceworld,alfworld")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()

    from benchmarks.builtin import BENCHMARKS
    from benchmarks.data_dir import data_dir

    rows = []
    for name in args.benchmarks.split(","):
        bench = BENCHMARKS.get(name)(data_dir=data_dir(args.data_dir), source="auto")
        tasks = list(bench.tasks(bench.default_split if bench.default_split in bench.splits() else
                                 bench.splits()[0]))[: args.tasks]
        paths: dict[str, list[str] | None] = {}
        rows.append((name, bench.provenance().get("source", "?"), play(name, bench, tasks, paths)))
        if name == "scienceworld":
            slow = BENCHMARKS.get(name)(data_dir=data_dir(args.data_dir), source="auto", fast_step=False)
            rows.append(("scienceworld (env.step)", rows[-1][1], play(name, slow, tasks, paths)))
            slow.close()
        getattr(bench, "close", lambda: None)()

    print("| adapter | source | tasks | solved | steps timed | reset median s | step median ms | step p90 ms |")
    print("|---|---|---|---|---|---|---|---|")
    for name, source, r in rows:
        print(f"| {name} | {source} | {r['tasks']} | {r['solved']} | {r['steps']} | {r['reset_s']:.3f} | "
              f"{r['step_ms']:.2f} | {r['step_p90_ms']:.2f} |")
    fast = dict((n, r) for n, _, r in rows)
    if "scienceworld" in fast and "scienceworld (env.step)" in fast:
        ratio = fast["scienceworld (env.step)"]["step_ms"] / fast["scienceworld"]["step_ms"]
        print(f"ScienceWorld: env.step() takes {ratio:.1f}x the fast step's median time on the same gold paths")


if __name__ == "__main__":
    main()
