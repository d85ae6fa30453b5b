"""A benchmark-agnostic conformance check of the episode API (benchmarks/api.py).

Every adapter (HotpotQA now; ALFWorld, PDDL, BabyAI, ScienceWorld later) runs the same check in its tests, so the
runner can rely on the contract instead of special-casing benchmarks. Problems are collected, not raised one at a
time, so a new adapter sees everything it gets wrong in one run.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from itertools import cycle
from typing import Any

from benchmarks.api import Observation, StepLimit, StepResult, TaskRef

DEFAULT_ACTIONS = ("check valid actions", "look around", "noop")
MAX_CHECK_STEPS = 1000  # an episode whose own budget exceeds this is treated as never-ending


def _json_problem(value: Any, what: str) -> str | None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return f"{what} is not JSON-serialisable: {exc}"
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _observation_problems(obs: Any, where: str) -> list[str]:
    if not isinstance(obs, Observation):
        return [f"{where}: expected an Observation, got {type(obs).__name__}"]
    problems = []
    if not isinstance(obs.text, str):
        problems.append(f"{where}: observation text is {type(obs.text).__name__}, not str")
    if not isinstance(obs.new_session, bool):
        problems.append(f"{where}: new_session is {type(obs.new_session).__name__}, not bool")
    if obs.goal is not None and not isinstance(obs.goal, str):
        problems.append(f"{where}: goal is neither None nor str")
    if obs.valid_actions is not None and not all(isinstance(a, str) for a in obs.valid_actions):
        problems.append(f"{where}: valid_actions holds non-strings")
    return problems


def _result_problems(result: Any, where: str, previous_progress: float) -> list[str]:
    if not isinstance(result, StepResult):
        return [f"{where}: expected a StepResult, got {type(result).__name__}"]
    problems = _observation_problems(result.observation, where)
    if not _is_number(result.reward):
        problems.append(f"{where}: reward {result.reward!r} is not a finite number")
    for flag in ("terminated", "truncated", "success", "valid"):
        if not isinstance(getattr(result, flag), bool):
            problems.append(f"{where}: {flag} is not a bool")
    if not _is_number(result.progress) or not 0.0 <= result.progress <= 1.0:
        problems.append(f"{where}: progress {result.progress!r} is not in [0, 1]")
    elif result.progress < previous_progress:
        problems.append(f"{where}: progress decreased from {previous_progress} to {result.progress}")
    if result.success and not result.terminated:
        problems.append(f"{where}: success without terminated")
    if not isinstance(result.metrics, Mapping):
        problems.append(f"{where}: metrics is not a mapping")
    else:
        problems += [
            f"{where}: metric {key!r} = {value!r} is not a finite number"
            for key, value in result.metrics.items()
            if not isinstance(key, str) or not _is_number(value)
        ]
    return problems


def _play(benchmark: Any, task: TaskRef, actions: Sequence[str], seed: int) -> tuple[list[Observation], list[str]]:
    """Play one episode under StepLimit; returns the observations seen and the problems found."""
    where = f"task '{task.task_id}'"
    episode = benchmark.make(task, seed=seed)
    missing = [name for name in ("reset", "step", "close") if not callable(getattr(episode, name, None))]
    if missing:
        return [], [f"{where}: episode lacks {', '.join(missing)}"]
    budget = getattr(episode, "max_steps", None)
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
        return [], [f"{where}: max_steps {budget!r} is not an int >= 1"]
    if budget > MAX_CHECK_STEPS:
        return [], [f"{where}: max_steps {budget} exceeds {MAX_CHECK_STEPS}; the episode cannot be checked to its end"]
    limited = StepLimit(episode, budget)
    first = limited.reset()
    observations, problems = [first], _observation_problems(first, f"{where} reset")
    progress, result = 0.0, None
    for index, action in zip(range(budget), cycle(actions)):
        result = limited.step(action)
        problems += _result_problems(result, f"{where} step {index + 1}", progress)
        if not isinstance(result, StepResult):
            break
        observations.append(result.observation)
        progress = max(progress, result.progress) if _is_number(result.progress) else progress
        if result.done:
            break
    if result is None or not getattr(result, "done", False):
        problems.append(f"{where}: episode did not end within max_steps={budget} under StepLimit")
    else:
        try:
            limited.step(actions[0])
            problems.append(f"{where}: step() after the episode ended did not raise")
        except Exception:  # any error is the expected refusal
            pass
    episode.close()
    episode.close()
    return observations, problems


def _task_problems(benchmark: Any, split: str, tasks: Sequence[Any]) -> list[str]:
    problems = []
    ids = [getattr(task, "task_id", None) for task in tasks]
    if len(set(ids)) != len(ids):
        problems.append(f"split '{split}': task ids are not unique")
    for task in tasks:
        if not isinstance(task, TaskRef):
            problems.append(f"split '{split}': task {task!r} is not a TaskRef")
            continue
        where = f"task '{task.task_id}'"
        if not isinstance(task.task_id, str) or not task.task_id:
            problems.append(f"{where}: task_id is not a non-empty string")
        if task.benchmark != benchmark.name:
            problems.append(f"{where}: benchmark {task.benchmark!r} != {benchmark.name!r}")
        if task.split != split:
            problems.append(f"{where}: split {task.split!r} != {split!r}")
        problems += filter(None, [_json_problem(dict(task.info), f"{where} info")])
    return problems


def check_benchmark(
    benchmark: Any,
    *,
    split: str | None = None,
    n_tasks: int = 2,
    actions: Sequence[str] = DEFAULT_ACTIONS,
    seed: int = 0,
) -> list[str]:
    """Return every contract violation found (empty = conforms). Exceptions are reported, not propagated."""
    if not actions:
        raise ValueError("check_benchmark needs at least one action")
    problems = [
        f"{attr} must be a non-empty string"
        for attr in ("name", "version")
        if not isinstance(getattr(benchmark, attr, None), str) or not getattr(benchmark, attr)
    ]
    try:
        splits = list(benchmark.splits())
        if not splits:
            return [*problems, "splits() is empty"]
        if getattr(benchmark, "default_split", None) not in splits:
            problems.append(f"default_split {getattr(benchmark, 'default_split', None)!r} is not in splits() = {splits}")
        split = split if split is not None else getattr(benchmark, "default_split", splits[0])
        if split not in splits:
            return [*problems, f"split '{split}' is not in splits() = {splits}"]
        tasks = list(benchmark.tasks(split))
        if not tasks:
            return [*problems, f"tasks('{split}') is empty"]
        if [t.task_id for t in benchmark.tasks(split)] != [getattr(t, "task_id", None) for t in tasks]:
            problems.append(f"tasks('{split}') differs between two calls")
        problems += _task_problems(benchmark, split, tasks)
        problems += filter(None, [_json_problem(benchmark.provenance(), "provenance()")])
    except Exception as exc:  # a crash is a conformance problem to report
        return [*problems, f"listing tasks raised {type(exc).__name__}: {exc}"]
    for task in tasks[:n_tasks]:
        try:
            first, found = _play(benchmark, task, actions, seed)
            problems += found
            if not found and _play(benchmark, task, actions, seed)[0] != first:
                problems.append(f"task '{task.task_id}': two episodes with seed {seed} observed different sequences")
        except Exception as exc:  # same: reported, not raised
            problems.append(f"task '{getattr(task, 'task_id', task)}': raised {type(exc).__name__}: {exc}")
    return problems


def assert_conforms(benchmark: Any, **options: Any) -> None:
    problems = check_benchmark(benchmark, **options)
    if problems:
        raise AssertionError("benchmark does not conform:\n- " + "\n- ".join(problems))
