"""The distributed path on a local Ray: same records as threads, exactly once, a killed worker, ordered lanes.

The policy is the soak's deterministic model (perf/soak_kill.py SoakModel: replies are a pure function of the
messages, with random sleeps so episodes overlap) served over HTTP by agents.llm.serve on two endpoints, which the
Ray workers reach through one `openai/...@url1,url2` spec: the way a cluster reaches its vLLM servers.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agents.llm.serve import OpenAIServer
from benchmarks.errors import SuiteError
from harness import runner
from harness.config import build_config
from harness.executors import open_executor
from harness.workers import resolve_benchmarks
from tests.fakes import perf_script

ROOT = Path(__file__).resolve().parent.parent
soak = perf_script("soak_kill")


@pytest.fixture(scope="module")
def ray_local() -> Iterator[Any]:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=4, include_dashboard=False, logging_level="ERROR", object_store_memory=200 * 1024**2,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})  # workers import the test plug-in agent
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def endpoints() -> Iterator[list[OpenAIServer]]:
    servers = [OpenAIServer(soak.SoakModel(max_sleep_s=0.02), model_name="soak").start() for _ in range(2)]
    yield servers
    for server in servers:
        server.close()


def config(out: Path, endpoints: list[OpenAIServer], **overrides: Any):
    layer = soak.config_layer(out, seeds=1, max_steps=4, concurrency=2)
    layer.update({"model": "openai/soak@" + ",".join(s.base_url for s in endpoints), **overrides})
    return build_config(layer)


def records(out: Path) -> dict[str, dict[str, Any]]:
    (run_dir,) = (out / "runs").iterdir()
    lines = soak.strict_jsonl(run_dir / "episodes.jsonl")
    counts = Counter(r["key"] for r in lines)
    assert all(n == 1 for n in counts.values()), f"duplicated: {[k for k, n in counts.items() if n > 1]}"
    return {r["key"]: r for r in lines}


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal but for timing fields and the process that played it (`worker`)."""
    return soak._untimed(a) == soak._untimed(b)


def test_ray_records_equal_a_local_run_exactly_once(ray_local, endpoints, tmp_path: Path) -> None:
    local = runner.run(config(tmp_path / "local", endpoints), log=lambda _: None)
    calls_before = [s.ledger.snapshot() for s in endpoints]
    remote = runner.run(config(tmp_path / "ray", endpoints, executor="ray", workers=2), log=lambda _: None)
    assert remote.run_dir.name == local.run_dir.name  # where episodes run is not part of the run id
    want, got = records(tmp_path / "local"), records(tmp_path / "ray")
    assert len(got) == len(want) == soak.expected_episodes(1) == remote.new_episodes and remote.errors == 0
    assert all(same(want[k], got[k]) for k in want)
    workers = Counter(r["worker"] for r in got.values())
    assert len(workers) == 2 and min(workers.values()) >= 3  # both actors played episodes
    assert all(w.split(":")[1] != str(os.getpid()) for w in workers)  # ... in other processes
    served = [(s.ledger.snapshot() - before).usage.calls for s, before in zip(endpoints, calls_before, strict=True)]
    assert min(served) > 0  # and both endpoints served them
    meta = json.loads((remote.run_dir / "run.json").read_text())
    assert meta["executor"]["kind"] == "ray" and sorted(meta["executor"]["workers"]) == sorted(workers)
    assert soak.leaderboard(local.leaderboard_csv) == soak.leaderboard(remote.leaderboard_csv)


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(ray_local, endpoints, tmp_path: Path) -> None:
    runner.run(config(tmp_path / "local", endpoints, seeds=[0, 1]), log=lambda _: None)
    out = tmp_path / "ray"
    killed: list[int] = []

    def kill_a_worker() -> None:  # SIGKILL the actor that recorded the first episode, while others are in flight
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            episodes = list((out / "runs").glob("*/episodes.jsonl"))
            if episodes and episodes[0].read_text().count("\n") >= 2:
                first = json.loads(episodes[0].read_text().splitlines()[0])
                killed.append(int(first["worker"].rsplit(":", 1)[1]))
                os.kill(killed[0], signal.SIGKILL)
            time.sleep(0.01)

    killer = threading.Thread(target=kill_a_worker, daemon=True)
    killer.start()
    result = runner.run(config(out, endpoints, seeds=[0, 1], executor="ray", workers=2, retries=3),
                        log=lambda _: None)
    killer.join()
    assert killed, "the kill never landed"
    want, got = records(tmp_path / "local"), records(out)
    assert set(got) == set(want) and result.errors == 0 and not (result.run_dir / "errors.jsonl").exists()
    assert all(same(want[k], got[k]) for k in want)
    pids = {int(r["worker"].rsplit(":", 1)[1]) for r in got.values()}
    assert len(pids) >= 3 and killed[0] in pids  # the restarted actor is a new process that played the rest


def test_a_cross_episode_lane_runs_in_order_on_one_worker(ray_local, endpoints, tmp_path: Path) -> None:
    probe = "tests.probes:OrderProbeAgent"
    cfg = config(tmp_path, endpoints, agents=["nomem", probe], seeds=[0, 1], executor="ray", workers=2)
    runner.run(cfg, log=lambda _: None)
    got = records(tmp_path)
    lane = [r for r in got.values() if r["agent"] == probe]
    order = [job.key for job in runner._jobs(cfg, {n: runner.select_tasks(cfg, b)
                                                   for n, b in resolve_benchmarks(cfg).items()}) if job.agent == probe]
    assert len(lane) == len(order) == soak.expected_episodes(2)
    assert len({r["worker"] for r in lane}) == 1  # where its store lives
    assert not any(r["agent_stats"]["overlapped"] for r in lane)
    assert [r["key"] for r in sorted(lane, key=lambda r: r["agent_stats"]["sequence"])] == order
    others = {r["worker"] for r in got.values() if r["agent"] == "nomem"}
    assert len(others) == 2  # independent episodes still use every worker


def test_the_local_executor_keeps_a_lane_in_order_at_any_concurrency(endpoints, tmp_path: Path) -> None:
    probe = "tests.probes:OrderProbeAgent"
    cfg = config(tmp_path, endpoints, agents=[probe, "nomem"], concurrency=6)
    runner.run(cfg, log=lambda _: None)
    lane = [r for r in records(tmp_path).values() if r["agent"] == probe]
    order = [job.key for job in runner._jobs(cfg, {n: runner.select_tasks(cfg, b)
                                                   for n, b in resolve_benchmarks(cfg).items()}) if job.agent == probe]
    assert not any(r["agent_stats"]["overlapped"] for r in lane)
    assert [r["key"] for r in sorted(lane, key=lambda r: r["agent_stats"]["sequence"])] == order


@pytest.mark.slow
def test_the_embedded_model_on_ray_workers_plays_what_it_plays_locally(embedded_model_dir, tmp_path: Path) -> None:
    """The CLI starts its own local Ray, two actors each load the real SmolLM2, and greedy episodes (one at a time
    per process, so no batching) come out as they do in this process."""
    import subprocess
    import sys

    options = tmp_path / "short.toml"
    options.write_text("[agent_options.nomem]\nmax_new_tokens = 24\n")
    common = ["-b", "pddl", "-a", "nomem", "--source", "fixture", "--limit", "2", "--max-steps", "2",
              "--concurrency", "1", "--no-progress", "--config", str(options)]
    def where(name: str) -> list[str]:
        return ["--out", str(tmp_path / name / "runs"), "--leaderboard-dir", str(tmp_path / name / "lb")]

    done = subprocess.run([sys.executable, "-m", "harness", "run", *common, *where("ray"), "--executor", "ray",
                           "--workers", "2"], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    from harness.cli import main

    assert main(["run", *common, *where("local")]) == 0
    want, got = records(tmp_path / "local"), records(tmp_path / "ray")
    assert len(got) == len(want) == 2 and all(same(want[k], got[k]) for k in want)
    assert len({r["worker"] for r in got.values()}) == 2
    assert all(r["usage"]["policy"]["completion_tokens"] > 0 for r in got.values())


def test_worker_start_up_errors_are_one_line(ray_local, endpoints, tmp_path: Path) -> None:
    bad_option = config(tmp_path, endpoints, executor="ray", agent_options={"nomem": {"no_such_option": 1}})
    with pytest.raises(SuiteError, match=r"^agent 'nomem': bad option") as info:
        runner.run(bad_option, log=lambda _: None)
    assert "\n" not in str(info.value) and not (tmp_path / "runs").exists()
    dead = config(tmp_path, endpoints, executor="ray", model="openai/soak@http://127.0.0.1:9/v1")
    with pytest.raises(SuiteError, match=r"^cannot reach model server at http://127.0.0.1:9/v1"):
        runner.run(dead, log=lambda _: None)


def test_workers_that_see_other_data_are_refused(ray_local, endpoints, tmp_path: Path) -> None:
    cfg = config(tmp_path, endpoints, executor="ray")
    benchmarks = resolve_benchmarks(cfg)
    data = {name: dict(bench.provenance()) for name, bench in benchmarks.items()}
    data["pddl"] = {**data["pddl"], "version": "something else"}
    with pytest.raises(SuiteError, match="sees other data than the driver"):
        open_executor(cfg, tmp_path / "run", benchmarks, data)


def test_in_process_models_are_refused_on_ray_and_a_missing_ray_names_the_extra(endpoints, tmp_path, monkeypatch):
    from agents.api import Models

    cfg = config(tmp_path, endpoints, executor="ray")
    with pytest.raises(SuiteError, match="in-process models cannot be sent to Ray workers"):
        runner.run(cfg, models=Models(policy=soak.SoakModel()), log=lambda _: None)
    monkeypatch.setitem(__import__("sys").modules, "ray", None)
    with pytest.raises(SuiteError, match=r"pip install 'agemem-bench\[ray\]'"):
        runner.run(cfg, log=lambda _: None)


@pytest.mark.parametrize("overrides, message", [
    ({"executor": "dask"}, "executor must be one of local, ray"),
    ({"workers": 0}, "workers must be >= 1"),
    ({"worker_resources": {"num_gpu": 1}}, "worker_resources takes"),
    ({"worker_resources": {"num_gpus": -1}}, "worker_resources takes"),
    ({"worker_resources": {"resources": {"tpu": "x"}}}, "worker_resources takes"),
])
def test_bad_executor_settings_are_one_line(overrides, message) -> None:
    with pytest.raises(SuiteError, match=message):
        build_config(overrides)


def test_plugin_agents_load_by_import_path_and_bad_ones_are_one_line() -> None:
    from agents.builtin import AGENTS
    from tests.probes import OrderProbeAgent

    assert AGENTS.get("tests.probes:OrderProbeAgent") is OrderProbeAgent
    with pytest.raises(SuiteError, match=r"agent 'tests.nowhere:Agent': cannot import it \(ModuleNotFoundError"):
        AGENTS.get("tests.nowhere:Agent")
    with pytest.raises(SuiteError, match="cannot import it .AttributeError"):
        AGENTS.get("tests.probes:Nothing")
