"""A run directory: `run.json`, append-only `episodes.jsonl`, `errors.jsonl` and per-step `trajectories/`.

Crash safety: an episode's trajectory is written (atomically) before its summary line is appended, flushed and
fsynced, so a summary line always has its trajectory, and a killed process leaves at most one partial last
line, which is cut off when the run is opened again. A write that fails (a full disk) cuts its line back off and
stops the run with a one-line error, so a torn line is never followed by others and read back as a result.
Failed episodes go to `errors.jsonl`, not to `episodes.jsonl`, so a rerun retries them and no failure is ever
scored.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.errors import SuiteError


def safe_name(key: str) -> str:
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "_", key)[:80]
    return f"{readable}-{hashlib.sha1(key.encode()).hexdigest()[:8]}"


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    """A failed write (a full disk, a read-only or vanished directory) is one line saying what to do."""
    try:
        yield
    except OSError as exc:
        raise SuiteError(f"cannot write {path}: {exc.strerror or exc}; the episodes recorded before are kept: "
                         "fix it and rerun the same command to resume") from exc


def write_json_atomic(path: Path, payload: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with _writing(path):
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=2, sort_keys=True, default=str)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Complete lines only: a partial last line (a crash mid-write) is ignored."""
    if not path.exists():
        return
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.endswith("\n"):
                return
            yield json.loads(line)


class RunDir:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.episodes_path = path / "episodes.jsonl"
        self.errors_path = path / "errors.jsonl"
        self.trajectories = path / "trajectories"
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path, run_meta: dict[str, Any]) -> RunDir:
        """Create the run directory, or reopen it for resuming when the config hash matches."""
        run = cls(path)
        meta_path = path / "run.json"
        if meta_path.exists():
            old = json.loads(meta_path.read_text())
            if old.get("config_hash") != run_meta["config_hash"]:
                raise RuntimeError(f"{path} holds a run with another config hash")
            run_meta = {**run_meta, "created": old.get("created", run_meta.get("created"))}
        run.trajectories.mkdir(parents=True, exist_ok=True)
        run._drop_partial_line(run.episodes_path)
        run._drop_partial_line(run.errors_path)
        write_json_atomic(meta_path, run_meta)
        return run

    @staticmethod
    def _drop_partial_line(path: Path) -> None:
        if not path.exists():
            return
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            with open(path, "r+b") as fh:
                fh.truncate(data.rfind(b"\n") + 1)

    def finished_keys(self) -> set[str]:
        return {rec["key"] for rec in read_jsonl(self.episodes_path)}

    def episodes(self) -> list[dict[str, Any]]:
        return list(read_jsonl(self.episodes_path))

    def trajectory_path(self, key: str) -> Path:
        return self.trajectories / f"{safe_name(key)}.jsonl"

    def append_episode(self, record: dict[str, Any], steps: list[dict[str, Any]]) -> None:
        traj = self.trajectory_path(record["key"])
        tmp = traj.with_name(f".{traj.name}.tmp")
        with _writing(traj):
            with open(tmp, "w", encoding="utf-8") as fh:
                for step in steps:
                    fh.write(json.dumps(step, default=str) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, traj)
        self._append(self.episodes_path, {**record, "trajectory": str(traj.relative_to(self.path))})

    def append_error(self, record: dict[str, Any]) -> None:
        self._append(self.errors_path, record)

    def _append(self, path: Path, record: dict[str, Any]) -> None:
        """One whole line or nothing: unbuffered writes, and on failure the file is cut back to where it was."""
        data = (json.dumps(record, sort_keys=True, default=str) + "\n").encode("utf-8")
        with self._lock, _writing(path):
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                start = os.fstat(fd).st_size
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
                    os.fsync(fd)
                except OSError:
                    os.ftruncate(fd, start)
                    raise
            finally:
                os.close(fd)
