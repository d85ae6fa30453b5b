"""Kill -9 soak: SIGKILL a run at random moments, resume it until it completes, compare with an uninterrupted run.

The run: the nomem agent (and, with --agents nomem,agemem-norl, AgeMem writing to its SQLite store) on the PDDL
fixture (12 problems, valid actions shown) and the HotpotQA fixture (4 questions), several seeds, concurrency 4,
through `harness.runner.run` in a child process. The policy is a deterministic stand-in for a model (this file's
`SoakModel`): its reply is a pure function of the messages (AgeMem is told to store a fact on some turns), and it
sleeps a random few tens of milliseconds per call (randomness that never reaches a reply) so episodes overlap and
kills land mid-episode. Same seeds, same replies: an interrupted run must end with exactly the records of an
uninterrupted one. Kills land at random moments while episodes run, now and then during start-up, and the last one
after every episode is recorded (scoring / publishing the leaderboard).

--executor ray: the same on Ray. The soak holds a local Ray cluster and serves SoakModel over HTTP (agents.llm.serve)
for the whole soak; each life is a driver joining that cluster with `--workers` actors that reach the model
through an `openai/soak@<url>` spec. A kill SIGKILLs the driver (Ray then removes its actors); in about half of the
lives an actor is SIGKILLed first, mid-episode, while the driver goes on (Ray restarts it, the runner retries).

Checked after the last resume: every line of episodes.jsonl / errors.jsonl / judgments.jsonl parses; every expected
episode key is there exactly once (lost = expected keys missing, duplicated = keys on more than one line); each
record and trajectory equals the uninterrupted run's (timing fields left out: wall_seconds, started, finished,
usage seconds, memory timestamps; and `worker`, which names the process); every memory store opens, passes SQLite's
integrity check and holds what the uninterrupted run's store holds; the leaderboard rows (value, CI, n; wall-time
metrics left out) are equal. Prints the figures and exits 1 on any difference.

Usage: python perf/soak_kill.py [--kills 20] [--seeds 5] [--seed 0] [--agents nomem] [--executor local|ray]
       [--workers 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Not compared: when things happened, and which process played an episode.
TIMING_KEYS = frozenset({"wall_seconds", "started", "finished", "seconds", "time", "created", "updated", "timestamp",
                         "worker"})
READY = "run "  # the runner's first log line, written once the run directory is open and episodes start


class SoakModel:
    """Deterministic policy: PDDL -> one of the listed valid actions, QA -> one of a few answers, by message hash."""

    spec = label = "soak/deterministic"

    def __init__(self, max_sleep_s: float = 0.06, calls_log: Path | None = None) -> None:
        self.max_sleep_s = max_sleep_s
        self.calls_log = calls_log  # one byte per call, across lives: shows how much in-flight work kills threw away

    def generate(self, requests: Sequence[Any]) -> list[Any]:
        from agents.llm.api import Completion, Usage

        out = []
        for request in requests:
            time.sleep(random.uniform(0.0, self.max_sleep_s))
            text = request.prefix + self._reply(request.messages)
            if self.calls_log is not None:
                with open(self.calls_log, "ab") as fh:
                    fh.write(b".")
            out.append(Completion(text, Usage(self.count_tokens(request.messages), len(text.split()), 1)))
        return out

    @staticmethod
    def _reply(messages: Sequence[Any]) -> str:
        digest = int(hashlib.sha256(json.dumps([dict(m) for m in messages], sort_keys=True).encode()).hexdigest(), 16)
        last = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        if "Add_memory" in messages[0]["content"] and messages[-1]["role"] == "user" and digest % 3 == 0:
            fact = json.dumps({"content": " ".join(last.split())[:80] or "nothing"})
            return f'<think>store</think><tool_call>[{{"name": "Add_memory", "arguments": {fact}}}]</tool_call>'
        listed = re.search(r"Valid actions: (.+)$", last, re.MULTILINE)
        if listed:
            actions = [a.strip() for a in listed.group(1).split(",") if a.strip()]
            choice = actions[digest % len(actions)] if digest % 5 else "look around"
        else:
            words = re.findall(r"[A-Z][a-z]+", last) or ["yes"]
            choice = ["yes", "no", words[digest % len(words)]][digest % 3]
        return f"<think>step</think><answer>{choice}</answer>"

    def count_tokens(self, messages: Sequence[Any]) -> int:
        return sum(len(m["content"].split()) + 4 for m in messages)

    def close(self) -> None:
        pass


def config_layer(out: Path, seeds: int, max_steps: int, concurrency: int, agents: Sequence[str] = ("nomem",)
                 ) -> dict[str, Any]:
    return {
        "name": "soak", "benchmarks": ["pddl", "hotpotqa"], "agents": list(agents), "data_source": "fixture",
        "seeds": list(range(seeds)), "max_steps": max_steps, "concurrency": concurrency,
        "benchmark_options": {"pddl": {"show_valid_actions": True}},
        "out_dir": str(out / "runs"), "leaderboard_dir": str(out / "lb"), "progress": False,
    }


def child(out: Path, args: argparse.Namespace) -> int:
    """One life of the run (fresh or resumed), in-process: what the subprocess executes."""
    from agents.api import Models
    from harness.config import build_config
    from harness.runner import run

    layer = config_layer(out, args.seeds, args.max_steps, args.concurrency, args.agents.split(","))
    models = None
    if args.executor == "ray":  # the model is the soak's server; episodes run on the soak's Ray cluster
        layer.update(model=f"openai/soak@{args.model_url}", executor="ray", workers=args.workers,
                     ray_address=args.ray_address, retries=3)
    else:
        models = Models(policy=SoakModel(args.max_sleep, out / "calls.log"))
    result = run(build_config(layer), models=models, log=lambda line: print(line, flush=True))
    print(f"done episodes={result.episodes} new={result.new_episodes} errors={result.errors}", flush=True)
    return 0


def _child_cmd(out: Path, args: argparse.Namespace) -> list[str]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(out), "--seeds", str(args.seeds),
           "--max-steps", str(args.max_steps), "--concurrency", str(args.concurrency),
           "--max-sleep", str(args.max_sleep), "--agents", args.agents, "--executor", args.executor]
    if args.executor == "ray":
        cmd += ["--workers", str(args.workers), "--model-url", args.model_url, "--ray-address", args.ray_address]
    return cmd


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def _start(out: Path, args: argparse.Namespace, log: Path) -> subprocess.Popen:
    return subprocess.Popen(_child_cmd(out, args), cwd=ROOT, env=_env(), stdout=open(log, "ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def _run_dir(out: Path) -> Path:
    dirs = [p for p in (out / "runs").iterdir() if p.is_dir()] if (out / "runs").exists() else []
    if len(dirs) > 1:
        raise SystemExit(f"soak: expected one run directory under {out / 'runs'}, found {len(dirs)}")
    return dirs[0] if dirs else out / "runs" / "none"


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def kill_and_resume(out: Path, args: argparse.Namespace, rng: random.Random, expected: int) -> dict[str, Any]:
    """SIGKILL lives of the run at random moments until `args.kills` kills landed, then let the last one finish."""
    out.mkdir(parents=True, exist_ok=True)
    log = out / "child.log"
    kills = lives = torn = worker_kills = 0
    phases: Counter[str] = Counter()
    while kills < args.kills:
        lives += 1
        ready_before = log.read_text().count(READY) if log.exists() else 0
        proc = _start(out, args, log)
        late = kills == args.kills - 1  # the last kill waits for every episode: it lands in scoring/publishing
        early = not late and rng.random() < 0.2  # now and then a kill during start-up / opening the run directory
        deadline = time.monotonic() + (rng.uniform(0.0, 1.5) if early else 300.0)
        # Ray: in about half of the lives a worker dies first, mid-episode (once this life has recorded one).
        kill_worker = args.executor == "ray" and not early and not late and rng.random() < 0.5
        recorded_at_start = _lines(_run_dir(out) / "episodes.jsonl")
        armed = False
        while time.monotonic() < deadline and proc.poll() is None:
            if late and _lines(_run_dir(out) / "episodes.jsonl") >= expected:
                deadline = min(deadline, time.monotonic() + rng.uniform(0.0, 0.3))
            elif not early and not late and not armed and log.read_text().count(READY) > ready_before:
                armed = True  # episodes started: this life has a random while left (longer when a worker dies)
                deadline = time.monotonic() + rng.uniform(0.05, args.max_life) + (1.0 if kill_worker else 0.0)
            if kill_worker and _lines(_run_dir(out) / "episodes.jsonl") > recorded_at_start:
                worker_kills += _kill_latest_worker(_run_dir(out) / "episodes.jsonl")
                kill_worker = False
            time.sleep(0.01)
        if proc.poll() is not None:  # it finished first: the run is complete, nothing left to interrupt
            if proc.returncode != 0:
                raise SystemExit(f"soak: a life exited with {proc.returncode}; see {log}")
            print(f"soak: the run completed after {kills} kills; raise --seeds for more", file=sys.stderr)
            break
        started = log.read_text().count(READY) > ready_before
        recorded = _lines(_run_dir(out) / "episodes.jsonl")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
        episodes = _run_dir(out) / "episodes.jsonl"
        torn += int(episodes.exists() and episodes.stat().st_size > 0 and not episodes.read_bytes().endswith(b"\n"))
        phases["start-up" if not started else "episodes" if recorded < expected else "scoring/publishing"] += 1
    lives += 1
    final = subprocess.run(_child_cmd(out, args), cwd=ROOT, capture_output=True, text=True, check=False,
                           env=_env())
    with open(log, "a") as fh:
        fh.write(final.stdout + final.stderr)
    if final.returncode != 0:
        raise SystemExit(f"soak: the final resume failed ({final.returncode}):\n{final.stderr[-2000:]}")
    return {"kills": kills, "lives": lives, "resumes": lives - 1, "torn_tails": torn, "kill_phases": dict(phases),
            "worker_kills": worker_kills}


def _kill_latest_worker(episodes: Path) -> int:
    """SIGKILL the Ray actor that recorded the latest episode (its pid is in the record's `worker`)."""
    lines = episodes.read_bytes().splitlines()
    try:
        pid = int(json.loads(lines[-1])["worker"].rsplit(":", 1)[1])
        os.kill(pid, signal.SIGKILL)
    except (IndexError, ValueError, KeyError, ProcessLookupError):
        return 0
    return 1


def uninterrupted(out: Path, args: argparse.Namespace) -> None:
    done = subprocess.run(_child_cmd(out, args), cwd=ROOT, capture_output=True, text=True, check=False,
                          env=_env())
    if done.returncode != 0:
        raise SystemExit(f"soak: the uninterrupted run failed ({done.returncode}):\n{done.stderr[-2000:]}")


# ---- comparison -----------------------------------------------------------------------------------------------


def strict_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every line must be complete JSON (after a resume, the reader's cut-off of a torn tail must have happened)."""
    if not path.exists():
        return []
    data = path.read_text(encoding="utf-8")
    if data and not data.endswith("\n"):
        raise AssertionError(f"{path}: last line is not complete")
    return [json.loads(line) for line in data.splitlines()]


def _untimed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _untimed(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [_untimed(v) for v in value]
    return value


def leaderboard(path: Path) -> dict[tuple[str, ...], tuple[str, ...]]:
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {(r["benchmark"], r["split"], r["agent"], r["model"], r["metric"], r["judge"], r["run_id"]):
            (r["value"], r["ci_low"], r["ci_high"], r["n"]) for r in rows if "seconds" not in r["metric"]}


def compare(base: Path, test: Path, expected: int) -> dict[str, Any]:
    """Figures of the interrupted run `test` against the uninterrupted `base` (both are output folders)."""
    base_dir, test_dir = _run_dir(base), _run_dir(test)
    base_records = strict_jsonl(base_dir / "episodes.jsonl")
    records = strict_jsonl(test_dir / "episodes.jsonl")
    errors = strict_jsonl(test_dir / "errors.jsonl") + strict_jsonl(base_dir / "errors.jsonl")
    strict_jsonl(test_dir / "judgments.jsonl")
    json.loads((test_dir / "run.json").read_text())
    counts = Counter(r["key"] for r in records)
    want = {r["key"]: r for r in base_records}
    got = {r["key"]: r for r in records}
    mismatched = sorted(r["key"] for r in records if r["key"] in want and _untimed(want[r["key"]]) != _untimed(r))
    def steps(run_dir: Path, record: dict[str, Any]) -> Any:
        return _untimed(strict_jsonl(run_dir / record["trajectory"]))

    traj_mismatched = sorted(k for k in want.keys() & got.keys() if steps(base_dir, want[k]) != steps(test_dir, got[k]))
    base_lb, test_lb = leaderboard(base / "lb" / "results.csv"), leaderboard(test / "lb" / "results.csv")
    lb_mismatched = sorted(k for k in base_lb.keys() | test_lb.keys() if base_lb.get(k) != test_lb.get(k))
    base_stores, test_stores = stores(base_dir), stores(test_dir)
    store_mismatched = sorted(k for k in base_stores.keys() | test_stores.keys()
                              if base_stores.get(k) != test_stores.get(k))
    calls = sum(int(u.get("calls", 0)) for r in records for u in r.get("usage", {}).values())
    made = (test / "calls.log").stat().st_size if (test / "calls.log").exists() else calls
    return {
        "expected": expected, "baseline_episodes": len(base_records), "episodes": len(records),
        "lost": len(want.keys() - got.keys()) + max(0, expected - len(want)),
        "extra": len(got.keys() - want.keys()), "duplicated": sum(n - 1 for n in counts.values() if n > 1),
        "record_mismatches": len(mismatched), "trajectory_mismatches": len(traj_mismatched), "errors": len(errors),
        "leaderboard_rows": len(base_lb), "leaderboard_mismatches": len(lb_mismatched),
        "memory_stores": len(test_stores), "memory_items": sum(len(v or ()) for v in test_stores.values()),
        "stores_unreadable": sum(v is None for v in test_stores.values()), "store_mismatches": len(store_mismatched),
        "model_calls": made, "recorded_calls": calls, "calls_redone_after_kills": made - calls,
        "examples": (mismatched + traj_mismatched + store_mismatched)[:3] + [" ".join(k) for k in lb_mismatched[:3]],
    }


def stores(run_dir: Path) -> dict[str, list[tuple[Any, ...]] | None]:
    """Every SQLite memory store of a run: its items, or None when it fails to open or SQLite's integrity check."""
    found: dict[str, list[tuple[Any, ...]] | None] = {}
    for path in sorted((run_dir / "memory").rglob("*.sqlite")):
        try:
            with closing(sqlite3.connect(path)) as db:
                ok = db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
                rows = db.execute("SELECT id, content, memory_type FROM items ORDER BY rowid").fetchall()
            found[str(path.relative_to(run_dir))] = rows if ok else None
        except sqlite3.Error:
            found[str(path.relative_to(run_dir))] = None
    return found


def expected_episodes(seeds: int, agents: int = 1) -> int:
    from benchmarks.hotpotqa.benchmark import HotpotQA
    from benchmarks.pddl.benchmark import PDDL

    tasks = sum(len(list(b.tasks(b.default_split))) for b in (PDDL(source="fixture"), HotpotQA(source="fixture")))
    return tasks * seeds * agents


def soak(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    rng = random.Random(args.seed)
    expected = expected_episodes(args.seeds, len(args.agents.split(",")))
    server = None
    if args.executor == "ray":  # one cluster and one model server for the whole soak: every life joins them
        import ray

        from agents.llm.serve import OpenAIServer

        ray.init(num_cpus=max(4, args.workers), include_dashboard=False, logging_level="ERROR")
        args.ray_address = ray.get_runtime_context().gcs_address
        server = OpenAIServer(SoakModel(args.max_sleep), model_name="soak").start()
        args.model_url = server.base_url
    try:
        t0 = time.perf_counter()
        uninterrupted(work / "base", args)
        t_base = time.perf_counter() - t0
        if server is not None:
            server.model.calls_log = work / "killed" / "calls.log"
        figures = kill_and_resume(work / "killed", args, rng, expected)
    finally:
        if server is not None:
            server.close()
            import ray

            ray.shutdown()
    figures.update(compare(work / "base", work / "killed", expected))
    figures.update(uninterrupted_s=round(t_base, 1), wall_s=round(time.perf_counter() - t0, 1))
    return figures


def ok(figures: dict[str, Any], kills: int) -> bool:
    return (figures["kills"] >= kills and figures["lost"] == 0 and figures["duplicated"] == 0
            and figures["extra"] == 0 and figures["record_mismatches"] == 0 and figures["errors"] == 0
            and figures["trajectory_mismatches"] == 0 and figures["leaderboard_mismatches"] == 0
            and figures["stores_unreadable"] == 0 and figures["store_mismatches"] == 0
            and figures["episodes"] == figures["expected"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs to land before the final resume")
    parser.add_argument("--seeds", type=int, help="seeds 0..N-1 (16 fixture tasks per seed; default: enough for "
                        "the kills, max(2, ceil(kills / 4)))")
    parser.add_argument("--max-steps", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--max-sleep", type=float, default=0.06, help="upper bound of the model's sleep per call")
    parser.add_argument("--max-life", type=float, default=1.0, help="longest a life runs episodes before its kill")
    parser.add_argument("--seed", type=int, default=0, help="seeds the kill moments")
    parser.add_argument("--keep", type=Path, help="keep the run folders here instead of a temporary folder")
    parser.add_argument("--agents", default="nomem", help="comma-separated; agemem-norl adds SQLite memory stores")
    parser.add_argument("--executor", choices=["local", "ray"], default="local")
    parser.add_argument("--workers", type=int, default=2, help="Ray actors per life (--executor ray)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--model-url", help=argparse.SUPPRESS)
    parser.add_argument("--ray-address", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.seeds is None:
        args.seeds = max(2, -(-args.kills // 4))
    if args.child is not None:
        return child(args.child, args)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        figures = soak(args, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="soak-kill-") as tmp:
            figures = soak(args, Path(tmp))
    passed = ok(figures, args.kills)
    for name, value in figures.items():
        print(f"{name:>24}: {value}")
    print("PASS" if passed else "FAIL")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
