"""The PDDL task sets: AgentBoard's 60 problems from a data directory, or the self-written fixtures.

AgentBoard's problem N of a family is the N-th file of the lexicographically sorted problem folder (blockworld #1 is
problem1.pddl, #2 is problem10.pddl). `label_to_problem.json` spells that mapping out; it is checked against the
folder listing, so a changed folder cannot silently renumber tasks. Without it, the mapping is derived from the
listing. Task ids are "<family>-<N>" (N from 1), e.g. "gripper-1", "blockworld-2".
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.errors import SuiteError
from benchmarks.pddl import generators

FOLDER = Path("agentboard") / "pddl"
LABEL_FILE = "label_to_problem.json"
FAMILIES = ("gripper", "blockworld", "barman", "tyreworld")  # AgentBoard's order
EXPECTED_COUNTS = {"gripper": 20, "blockworld": 10, "barman": 20, "tyreworld": 10}


@dataclass(frozen=True)
class PDDLTask:
    task_id: str
    family: str
    domain_text: str
    problem_text: str
    info: dict[str, Any] = field(default_factory=dict)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"pddl: cannot read '{path}': {exc}") from exc


def _entries(folder: Path) -> list[dict[str, Any]]:
    """The label file's entries, or the same mapping derived from the sorted folder listings."""
    listing = {fam: sorted(p.name for p in (folder / fam).glob("*.pddl")) for fam in FAMILIES}
    label_path = folder / LABEL_FILE
    if not label_path.is_file():
        return [
            {"subtask": fam, "problem_index": index, "domain_file": f"{fam}.pddl", "problem_file": f"{fam}/{name}"}
            for fam in FAMILIES
            for index, name in enumerate(listing[fam])
        ]
    try:
        entries = json.loads(_read(label_path))
        assert isinstance(entries, list) and all(isinstance(e, dict) for e in entries)
    except (json.JSONDecodeError, AssertionError) as exc:
        raise SuiteError(f"pddl: '{label_path}' is not a JSON list of objects") from exc
    for entry in entries:
        try:
            fam, index, problem = entry["subtask"], entry["problem_index"], entry["problem_file"]
            expected = f"{fam}/{listing[fam][index]}"
        except (KeyError, IndexError, TypeError) as exc:
            raise SuiteError(f"pddl: label entry {entry} does not match the problem folders ({exc!r})") from exc
        if problem != expected:
            raise SuiteError(
                f"pddl: label entry {fam} #{index} names '{problem}', but the sorted folder has '{expected}'"
            )
    return entries


def load_real(root: Path) -> tuple[list[PDDLTask], list[dict[str, Any]]]:
    """AgentBoard's tasks under <root>/agentboard/pddl, and the files they came from (path, sha256)."""
    folder = root / FOLDER
    entries = _entries(folder)
    if not entries:
        raise SuiteError(f"pddl: no problems found under '{folder}'")
    domains: dict[str, str] = {}
    tasks, files = [], []
    label_path = folder / LABEL_FILE
    if label_path.is_file():
        files.append({"path": str(FOLDER / LABEL_FILE), "sha256": _sha256(_read(label_path))})
    for entry in entries:
        fam, index = entry["subtask"], entry["problem_index"]
        domain_file = entry.get("domain_file", f"{fam}.pddl")
        if domain_file not in domains:
            domains[domain_file] = _read(folder / domain_file)
            files.append({"path": str(FOLDER / domain_file), "sha256": _sha256(domains[domain_file])})
        problem_text = _read(folder / entry["problem_file"])
        files.append({"path": str(FOLDER / entry["problem_file"]), "sha256": _sha256(problem_text)})
        info = {
            "family": fam,
            "problem_file": entry["problem_file"],
            "fixture": False,
            **{key: entry[key] for key in ("label_id", "difficulty", "n_subgoals") if key in entry},
        }
        tasks.append(PDDLTask(f"{fam}-{index + 1}", fam, domains[domain_file], problem_text, info))
    if len({task.task_id for task in tasks}) != len(tasks):
        raise SuiteError(f"pddl: '{folder}' maps two entries to the same task")
    return tasks, files


def load_fixture() -> list[PDDLTask]:
    tasks = []
    for spec in generators.FIXTURES:
        domain_text, problem_text = generators.fixture_text(spec.task_id)
        info = {
            "family": spec.family,
            "fixture": True,
            "optimal_plan_length": spec.optimal_steps,
            "problem_sha256": _sha256(problem_text),
        }
        tasks.append(PDDLTask(spec.task_id, spec.family, domain_text, problem_text, info))
    return tasks
