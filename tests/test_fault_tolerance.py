"""Fault tolerance of a run: kill -9 and resume, a faulty model server, a full disk, secrets kept out of records.

Covered elsewhere: a dead ScienceWorld JVM (test_scienceworld), exceptions inside memory libraries and per-episode
memory isolation (test_memory_agent), training refusing evaluation ids (test_trainer). The long soak with >= 20
kills is perf/soak_kill.py; this file runs a scaled-down version of it.
"""

from __future__ import annotations

import errno
import json
import os
import random
import threading
from argparse import Namespace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self

import pandas as pd
import pytest

from agents.api import Models
from agents.llm.api import ChatRequest
from agents.nomem import render_observation
from benchmarks.errors import SuiteError
from benchmarks.pddl.benchmark import PDDL
from harness import records, runner
from harness.config import build_config
from tests.fakes import ScriptedModel, perf_script

ROOT = Path(__file__).resolve().parent.parent
SECRET = "sk-test-SECRET-5f1c9e77d2a04b6b"


def _soak_module():
    return perf_script("soak_kill")


def _attempts(config) -> int:
    return 1 + config.retries


# ---- kill -9 and resume -----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_sigkill_and_resume_equals_an_uninterrupted_run(tmp_path):
    """nomem and AgeMem (whose SQLite stores are written while the kills land)."""
    soak = _soak_module()
    args = Namespace(kills=3, seeds=1, max_steps=4, concurrency=4, max_sleep=0.05, max_life=0.6,
                     agents="nomem,agemem-norl", executor="local")
    expected = soak.expected_episodes(args.seeds, agents=2)
    soak.child(tmp_path / "base", args)  # uninterrupted
    figures = soak.kill_and_resume(tmp_path / "killed", args, random.Random(7), expected)
    figures.update(soak.compare(tmp_path / "base", tmp_path / "killed", expected))
    assert figures["kills"] == 3 and figures["resumes"] == 3
    assert figures["episodes"] == expected == 32
    assert figures["lost"] == figures["duplicated"] == figures["extra"] == figures["errors"] == 0
    assert figures["record_mismatches"] == figures["trajectory_mismatches"] == 0
    assert figures["leaderboard_rows"] > 10 and figures["leaderboard_mismatches"] == 0
    assert figures["memory_stores"] == 16 and figures["memory_items"] > 0
    assert figures["stores_unreadable"] == figures["store_mismatches"] == 0
    assert soak.ok(figures, 3)


def test_soak_comparison_sees_lost_duplicated_and_changed_episodes(tmp_path):
    """The soak's checks can fail: a lost, a duplicated and an altered record are each counted."""
    soak = _soak_module()
    for name in ("base", "test"):
        run_dir = tmp_path / name / "runs" / "soak-x"
        (run_dir / "trajectories").mkdir(parents=True)
        (run_dir / "run.json").write_text("{}")
        lines = []
        for key, progress in (("a", 0.5), ("b", 0.0), ("c", 1.0)):
            (run_dir / "trajectories" / f"{key}.jsonl").write_text('{"step": 0}\n')
            lines.append({"key": key, "progress": progress, "wall_seconds": random.random(),
                          "trajectory": f"trajectories/{key}.jsonl"})
        if name == "test":
            lines = [lines[0], {**lines[1], "progress": 0.25}, lines[1]]  # c lost, b altered and duplicated
        (run_dir / "episodes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
        (tmp_path / name / "lb").mkdir()
        (tmp_path / name / "lb" / "results.csv").write_text(
            "benchmark,split,agent,model,metric,judge,run_id,value,ci_low,ci_high,n\n"
            f"pddl,test,nomem,m,progress_rate,none,r,{0.5 if name == 'base' else 0.25},0,1,3\n")
    figures = soak.compare(tmp_path / "base", tmp_path / "test", 3)
    assert figures["lost"] == 1 and figures["duplicated"] == 1 and figures["leaderboard_mismatches"] == 1
    assert figures["record_mismatches"] == 1  # wall_seconds differs everywhere but is a timing field
    assert not soak.ok({**figures, "kills": 1, "episodes": 3, "expected": 3}, 1)


# ---- a faulty OpenAI-compatible model server --------------------------------------------------------------------

REPLY = "<think>t</think><answer>look around</answer>"


class FaultyServer:
    """/v1 chat completions whose behaviour is chosen per PDDL task (found by its first observation in the prompt).

    Faults: "timeout" (answers after the client gave up), "500", "truncated" (half a JSON body), "cutoff"
    (Content-Length promises more than is sent), "garbage" (binary junk echoing the Authorization header), "401"
    (a non-retryable refusal echoing the header), "flaky-once" (one 500, then fine: the backend's own retry), and
    "flaky-episode" (fails `n` requests in a row, then fine: the runner's episode retry).
    """

    def __init__(self, plan: dict[str, str], markers: dict[str, str], flaky_requests: int) -> None:
        self.plan, self.markers, self.flaky_requests = plan, markers, flaky_requests
        self.requests: dict[str, int] = {}
        self.auth: set[str] = set()
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def task_of(self, body: dict) -> str:
        first = next((m["content"] for m in body.get("messages", []) if m.get("role") == "user"), "")
        found = [task for task, marker in self.markers.items() if marker in first]
        assert len(found) == 1, "every request must name exactly one task"
        return found[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args) -> None:
                pass

            def _send(self, status: int, body: bytes, length: int | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body) if length is None else length))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                server.auth.add(self.headers.get("Authorization", ""))
                self._send(200, b'{"object": "list", "data": [{"id": "fake"}]}')

            def do_POST(self) -> None:
                try:
                    self._post()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout): nothing to answer

            def _post(self) -> None:
                auth = self.headers.get("Authorization", "")
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                task = server.task_of(body)
                with server.lock:
                    server.auth.add(auth)
                    seen = server.requests[task] = server.requests.get(task, 0) + 1
                fault = server.plan.get(task, "")
                good = json.dumps({"choices": [{"message": {"role": "assistant", "content": REPLY},
                                                "finish_reason": "stop"}],
                                   "usage": {"prompt_tokens": 10, "completion_tokens": 5}}).encode()
                if fault == "timeout":
                    threading.Event().wait(1.0)
                    self._send(200, good)
                elif fault == "500" or (fault == "flaky-once" and seen == 1) or (
                        fault == "flaky-episode" and seen <= server.flaky_requests):
                    self._send(500, b'{"error": "internal"}')
                elif fault == "truncated":
                    self._send(200, good[: len(good) // 2])
                elif fault == "cutoff":
                    self._send(200, good[:20], length=len(good))
                    self.close_connection = True
                elif fault == "garbage":
                    self._send(200, b"\x00\xff<html>oops " + auth.encode() + b" \xfe")
                elif fault == "garbage-at-100":  # the echoed key straddles the 100th character of the body
                    self._send(200, b"\x00" + b"p" * 82 + auth.encode())
                elif fault == "401":
                    self._send(401, json.dumps({"error": f"bad credentials: {auth}"}).encode())
                else:
                    self._send(200, good)

        return Handler

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


PERSISTENT = {"timeout": "timed out", "500": "HTTP 500", "truncated": "malformed reply", "cutoff": "connection error",
              "garbage": "malformed reply", "401": "HTTP 401"}
BACKEND = {"timeout_s": 0.3, "max_retries": 1, "backoff_s": 0.01, "max_backoff_s": 0.02, "check_timeout_s": 5.0}


def _pddl_markers() -> dict[str, str]:
    bench = PDDL(source="fixture")
    return {t.task_id: render_observation(bench.make(t, seed=0).reset()) for t in bench.tasks("test")}


def _openai_config(tmp_path: Path, url: str, concurrency: int = 1):
    return build_config({
        "benchmarks": ["pddl"], "agents": ["nomem"], "data_source": "fixture", "max_steps": 3,
        "concurrency": concurrency,
        "model": f"openai/fake@{url}", "model_options": BACKEND, "out_dir": str(tmp_path / "runs"),
        "leaderboard_dir": str(tmp_path / "lb"), "progress": False,
    })


def test_model_server_faults_are_retried_then_recorded_as_errors_and_secrets_never_leak(tmp_path, monkeypatch,
                                                                                        capsys):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    markers = _pddl_markers()
    tasks = sorted(markers)
    plan = dict(zip(tasks, [*PERSISTENT, "flaky-once", "flaky-episode"], strict=False))
    by_fault = {fault: task for task, fault in plan.items()}
    per_attempt = 1 + BACKEND["max_retries"]  # HTTP requests one episode attempt makes before it gives up
    logs: list[str] = []
    with FaultyServer(plan, markers, flaky_requests=per_attempt) as server:
        config = _openai_config(tmp_path, server.url)  # one at a time: request counts are exact
        result = runner.run(config, log=logs.append)
        attempts = _attempts(config)
        requests = dict(server.requests)
        out = capsys.readouterr()
        table = pd.read_csv(result.leaderboard_csv)  # before the rerun below re-publishes this run's rows

        # A rerun once the server is healthy retries exactly the failed episodes; the errors row goes away.
        server.plan = {}
        fixed = runner.run(config, log=logs.append)
        out2 = capsys.readouterr()

    assert server.auth == {f"Bearer {SECRET}"}  # the key was really sent, so the scan below could find it
    assert result.episodes == len(tasks) - len(PERSISTENT) and result.errors == len(PERSISTENT)
    run_dir = result.run_dir
    errors = [json.loads(line) for line in (run_dir / "errors.jsonl").read_text().splitlines()]
    assert sorted(e["task_id"] for e in errors) == sorted(by_fault[f] for f in PERSISTENT)
    # Each persistent fault: exactly `attempts` episode attempts, each bounded by the backend's own retries.
    for error in errors:
        fault = plan[error["task_id"]]
        assert error["attempts"] == attempts and PERSISTENT[fault] in error["error"], error
        assert requests[error["task_id"]] == attempts * (1 if fault == "401" else per_attempt)
    assert "***" in next(e["error"] for e in errors if plan[e["task_id"]] == "garbage")  # the echoed key, scrubbed
    # Transient faults: one absorbed by the backend's retry, one by the runner's episode retry; both then scored.
    assert requests[by_fault["flaky-once"]] == 1 + 3 and requests[by_fault["flaky-episode"]] == per_attempt + 3
    assert "retrying" in out.out and f"failed after {attempts} attempts" in out.out

    assert table.loc[table["metric"] == "errors", "value"].tolist() == [float(len(PERSISTENT))]
    scored = table[table["metric"].isin(["success_rate", "progress_rate"])]
    assert len(scored) == 2 and (scored["n"] == result.episodes).all()  # failures are counted, never scored

    assert fixed.run_dir == run_dir and fixed.new_episodes == len(PERSISTENT) and fixed.errors == 0
    keys = [json.loads(line)["key"] for line in (run_dir / "episodes.jsonl").read_text().splitlines()]
    assert len(keys) == len(set(keys)) == len(tasks)
    final = pd.read_csv(fixed.leaderboard_csv)
    assert "errors" not in set(final["metric"])
    assert (final.loc[final["metric"] == "success_rate", "n"] == len(tasks)).all()
    _assert_no_secret(tmp_path, out.out + out.err + out2.out + out2.err + "\n".join(logs))


def test_a_faulty_request_fails_only_its_own_episode_when_episodes_run_concurrently(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    markers = _pddl_markers()
    tasks = sorted(markers)
    plan = {task: fault for task, fault in zip(tasks[::4], ["500", "garbage", "cutoff"], strict=True)}
    with FaultyServer(plan, markers, flaky_requests=0) as server:
        result = runner.run(_openai_config(tmp_path, server.url, concurrency=4), log=lambda _: None)
    errors = [json.loads(line) for line in (result.run_dir / "errors.jsonl").read_text().splitlines()]
    assert sorted(e["task_id"] for e in errors) == sorted(plan)
    assert result.episodes == len(tasks) - len(plan) and result.errors == len(plan)


def test_no_part_of_the_key_leaks_when_an_echoed_key_is_cut_off(monkeypatch):
    from agents.llm.openai_backend import ModelError, OpenAIModel

    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with FaultyServer({"t": "garbage-at-100"}, {"t": "MARK"}, flaky_requests=0) as server:
        model = OpenAIModel("fake", server.url, max_retries=0, timeout_s=5.0)
        try:
            with pytest.raises(ModelError) as failure:
                model.generate([ChatRequest(messages=({"role": "user", "content": "MARK"},))])
        finally:
            model.close()
    assert "Bearer ***" in str(failure.value)  # the echoed key (which the 100-character cut falls inside) is masked
    assert SECRET[:10] not in str(failure.value)


def _assert_no_secret(root: Path, captured: str) -> None:
    assert SECRET not in captured
    scanned = 0
    for path in root.rglob("*"):
        if path.is_file():
            scanned += 1
            assert SECRET.encode() not in path.read_bytes(), path
    assert scanned > 10


# ---- a full disk while writing records --------------------------------------------------------------------------


def _hotpot_config(tmp_path: Path):
    return build_config({"benchmarks": ["hotpotqa"], "agents": ["nomem"], "data_source": "fixture", "limit": 3,
                         "concurrency": 1, "out_dir": str(tmp_path / "runs"), "leaderboard_dir": str(tmp_path / "lb"),
                         "progress": False})


def _models() -> Models:
    return Models(policy=ScriptedModel("<think>sure</think><answer>yes</answer>"))


def _fd_path(fd: int) -> str:
    return os.readlink(f"/proc/self/fd/{fd}")


@pytest.mark.parametrize("where", ["write", "fsync", "trajectory"])
def test_full_disk_fails_loudly_keeps_records_whole_and_resumes(tmp_path, monkeypatch, where):
    real_write, real_fsync = os.write, os.fsync
    state = {"appends": 0, "failed": False}

    def full(fd: int) -> OSError:
        state["failed"] = True
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), _fd_path(fd))

    def write(fd: int, data) -> int:
        if where == "write" and _fd_path(fd).endswith("episodes.jsonl"):
            state["appends"] += 1
            if state["appends"] == 2:  # the second episode's line: half of it lands, then the disk is full
                return real_write(fd, bytes(data)[: len(data) // 2])
            if state["appends"] > 2:
                raise full(fd)
        return real_write(fd, data)

    def fsync(fd: int) -> None:
        target = _fd_path(fd)
        if where == "fsync" and target.endswith("episodes.jsonl"):
            state["appends"] += 1
            if state["appends"] == 2:
                raise full(fd)
        if where == "trajectory" and "/trajectories/" in target:
            state["appends"] += 1
            if state["appends"] == 2:
                raise full(fd)
        return real_fsync(fd)

    monkeypatch.setattr(records.os, "write", write)
    monkeypatch.setattr(records.os, "fsync", fsync)
    with pytest.raises(SuiteError, match="No space left on device.*rerun the same command to resume"):
        runner.run(_hotpot_config(tmp_path), models=_models(), log=lambda _: None)
    assert state["failed"]
    monkeypatch.undo()

    run_dir = next((tmp_path / "runs").iterdir())
    text = (run_dir / "episodes.jsonl").read_text()
    assert text.endswith("\n") and len(text.splitlines()) == 1  # the first episode, whole; nothing half-written
    first = json.loads(text)
    assert (run_dir / first["trajectory"]).is_file()
    assert not (tmp_path / "lb" / "results.csv").exists()  # nothing was published from a failed run

    resumed = runner.run(_hotpot_config(tmp_path), models=_models(), log=lambda _: None)
    assert resumed.run_dir == run_dir and resumed.new_episodes == 2 and resumed.episodes == 3
    keys = [json.loads(line)["key"] for line in (run_dir / "episodes.jsonl").read_text().splitlines()]
    assert len(keys) == len(set(keys)) == 3 and first["key"] in keys


def test_a_failed_append_is_cut_back_so_the_next_line_is_never_glued_to_it(tmp_path, monkeypatch):
    """Even in-process (a caller that catches the error and goes on), a failed write leaves no torn line."""
    run = records.RunDir.open(tmp_path / "r", {"run_id": "r", "config_hash": "h"})
    run.append_episode({"key": "a", "success": True}, [])
    real_write = os.write

    def write(fd: int, data) -> int:
        if _fd_path(fd).endswith("episodes.jsonl"):
            real_write(fd, bytes(data)[:7])  # part of the line lands, then the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(records.os, "write", write)
    with pytest.raises(SuiteError, match="No space left"):
        run.append_episode({"key": "b", "success": True}, [])
    monkeypatch.undo()
    run.append_episode({"key": "c", "success": False}, [])
    assert [r["key"] for r in run.episodes()] == ["a", "c"]
    assert all(json.loads(line) for line in run.episodes_path.read_text().splitlines())
