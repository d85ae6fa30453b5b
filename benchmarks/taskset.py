"""The part every fixed-task-set benchmark shares: source resolution, lazy loading, split and task lookup.

PDDL, BabyAI, ScienceWorld and ALFWorld each serve one list of tasks read either from the data directory (the
real set) or from built-in fixtures, under one split. They differed only in what they read, so the choice of
source ("auto"/"data_dir"/"fixture"), its errors and the lookups live here once; an adapter sets the class
attributes below and implements `_read_real` and `_read_fixture`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any, Generic, TypeVar

from benchmarks.api import TaskRef, check_owner
from benchmarks.data_dir import data_dir as resolve_data_dir
from benchmarks.errors import SuiteError

SOURCES = ("auto", "data_dir", "fixture")
T = TypeVar("T")  # a task record: has .task_id and .info() (or override _info)


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def read_label_file(path: Path, what: str, row_problem: Callable[[Any], str | None]
                    ) -> tuple[list[tuple[int, dict[str, Any]]], dict[str, Any]]:
    """An AgentBoard JSONL label file (BabyAI, ScienceWorld): (line number, row) for every non-blank line, each valid
    JSON that `row_problem` finds no problem with, and the file's provenance entry (path, sha256, records)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SuiteError(f"cannot read {what} label file {path}: {exc}") from exc
    rows = []
    for number, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SuiteError(f"{what} label file {path} line {number} is not valid JSON: {exc}") from exc
        problem = row_problem(row)
        if problem:
            raise SuiteError(f"{what} label file {path} line {number} is malformed: {problem}")
        rows.append((number, row))
    return rows, {"path": str(path), "sha256": hashlib.sha256(raw).hexdigest(), "records": len(rows)}


class TaskSetBenchmark(Generic[T]):
    name: str
    version: str
    fixture_version: str | None = None  # the version fixture runs report (a different task set, a different version)
    data_path: str | Path  # the real set, relative to the data directory
    data_is_folder: bool = False  # data_path is a folder (else a file)
    default_split = "test"

    def __init__(self, data_dir: str | Path | None, source: str, settings: Any) -> None:
        if source not in SOURCES:
            raise SuiteError(f"{self.name} source must be one of {', '.join(SOURCES)}, got {source!r}")
        self.settings = settings
        settings.validate()
        self.source = source
        self._root = resolve_data_dir(data_dir) if source in ("auto", "data_dir") else None
        path = self._root / self.data_path if self._root else None
        present = path is not None and (path.is_dir() if self.data_is_folder else path.is_file())
        self._data_path = path if present else None
        if source == "data_dir" and self._data_path is None:
            missing = f"{self.data_path}/ folder" if self.data_is_folder else str(self.data_path)
            where = f"'{self._root}' has no {missing}" if self._root else "no data directory was given"
            raise SuiteError(f"{self.name} source 'data_dir': {where} (pass data_dir or set AGEMEM_DATA)")
        self.resolved_source = "data_dir" if self._data_path else "fixture"
        if self.resolved_source == "fixture" and self.fixture_version:
            self.version = self.fixture_version
        self._tasks: list[T] | None = None
        self._files: list[dict[str, Any]] = []

    # --- what an adapter implements ----------------------------------------------------------------------------------

    def _read_real(self) -> tuple[list[T], list[dict[str, Any]]]:
        """The real tasks and their files' provenance entries (self._root and self._data_path are set)."""
        raise NotImplementedError

    def _read_fixture(self) -> tuple[list[T], list[dict[str, Any]]]:
        raise NotImplementedError

    def _info(self, task: T) -> dict[str, Any]:
        return task.info()  # type: ignore[attr-defined]

    def _split_owner(self) -> str:
        """How split errors name the benchmark."""
        return self.name

    # --- shared ------------------------------------------------------------------------------------------------------

    def _load(self) -> list[T]:
        if self._tasks is None:
            tasks, self._files = self._read_real() if self._data_path is not None else self._read_fixture()
            self._by_id = {task.task_id: task for task in tasks}  # type: ignore[attr-defined]
            self._tasks = tasks
        return self._tasks

    def splits(self) -> list[str]:
        return [self.default_split]

    def tasks(self, split: str) -> Sequence[TaskRef]:
        if split not in self.splits():
            raise SuiteError(f"{self._split_owner()} has no split '{split}'; offered: {self.splits()}")
        tasks = self._load()
        return tuple(TaskRef(self.name, split, t.task_id, self._info(t)) for t in tasks)  # type: ignore[attr-defined]

    def task(self, task_id: str) -> T:
        self._load()
        if task_id not in self._by_id:
            raise SuiteError(f"{self.name} ({self.resolved_source}) has no task '{task_id}'")
        return self._by_id[task_id]

    def _provenance(self, **extra: Any) -> dict[str, Any]:
        """What every task set records, then the adapter's own entries, then the task ids."""
        tasks = self._load()
        return {
            "benchmark": self.name,
            "version": self.version,
            "source": self.resolved_source,
            "requested_source": self.source,
            "fixture": self.resolved_source == "fixture",
            "data_dir": str(self._root) if self._root else None,
            "files": self._files,
            "settings": asdict(self.settings),
            **extra,
            "tasks": [task.task_id for task in tasks],  # type: ignore[attr-defined]
        }

    def _task_for(self, ref: TaskRef) -> T:
        """The start of make(): the reference must be this benchmark's, in one of its splits."""
        check_owner(self, ref)
        if ref.split not in self.splits():
            raise SuiteError(f"{self._split_owner()} has no split '{ref.split}'")
        return self.task(ref.task_id)
