import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from harness.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


def _run_args(tmp_path, *extra):
    return ["run", "--out", str(tmp_path / "runs"), "--leaderboard-dir", str(tmp_path / "lb"), "--no-progress",
            *extra]


def test_list_names_everything_without_heavy_imports():
    code = ("import sys; from harness.cli import main; main(['list']); "
            "heavy = {'torch', 'transformers', 'datasets', 'pandas', 'vllm', 'httpx'} & set(sys.modules); "
            "assert not heavy, heavy")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "hotpotqa" in out.stdout and "nomem" in out.stdout and "default" in out.stdout
    assert all(name in out.stdout for name in ("mem0", "mem0g", "amem", "langmem"))


def test_end_to_end_with_tiny_random_model(tmp_path, tiny_model_dir, capsys):
    config = tmp_path / "c.toml"
    config.write_text("[agent_options.nomem]\nmax_new_tokens = 12\n")
    code = main(_run_args(tmp_path, "--model", f"transformers/{tiny_model_dir}", "--source", "fixture", "-a", "nomem",
                          "--limit", "3", "--concurrency", "3", "--config", str(config)))
    assert code == 0
    printed = capsys.readouterr().out
    assert "episodes: 3 (3 new, 0 failed)" in printed and "leaderboard:" in printed
    run_dir = next((tmp_path / "runs").iterdir())
    records = [json.loads(line) for line in (run_dir / "episodes.jsonl").read_text().splitlines()]
    assert len(records) == 3 and all(r["model"] == f"transformers/{tiny_model_dir}" for r in records)
    assert all(0 < r["usage"]["policy"]["completion_tokens"] <= 12 * r["steps"] for r in records)
    table = pd.read_csv(tmp_path / "lb" / "results.csv")
    assert set(table["run_id"]) == {run_dir.name} and (table["data_source"] == "fixture:fixture.json").all()
    assert (tmp_path / "lb" / "results.md").read_text().count("| hotpotqa | dev | nomem |") == 1


@pytest.mark.parametrize("args, message", [
    (["-b", "nope"], "unknown benchmark 'nope'"),
    (["--model", "transformers/does/not/exist"], "does/not/exist"),
    (["--model", "openai/m@http://127.0.0.1:9/v1"], "cannot reach model server"),
    (["--model", "gpt4"], "model spec"),
    (["--data-dir", "/nonexistent/agemem-data"], "/nonexistent/agemem-data"),
    (["--preset", "nope"], "unknown preset"),
    (["--executor", "ray", "--ray-address", "127.0.0.1:1"], "cannot start or join the Ray cluster at 127.0.0.1:1"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, args, message):
    out = _cli(*_run_args(tmp_path, "--source", "fixture", *args), env={"HF_HUB_OFFLINE": "1"})
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("agemem-bench: error:") and message in lines[0], out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "runs").exists() and not (tmp_path / "lb").exists()


@pytest.mark.slow
def test_smoke_real_smollm2_two_hotpotqa_episodes(tmp_path, embedded_model_dir, capsys):
    """The real embedded model on two real episodes (dev data when AGEMEM_DATA is set, else the fixture)."""
    assert main(_run_args(tmp_path, "-a", "nomem", "--limit", "2", "--concurrency", "2")) == 0
    run_dir = next((tmp_path / "runs").iterdir())
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["model"]["spec"] == "transformers/smollm2-135m-instruct-q4_1"
    records = [json.loads(line) for line in (run_dir / "episodes.jsonl").read_text().splitlines()]
    assert len(records) == 2
    for record in records:
        assert record["terminated"] and record["usage"]["policy"]["prompt_tokens"] > 100
        assert record["usage"]["policy"]["calls"] == record["steps"] >= 3
        assert 0.0 <= record["metrics"]["f1"] <= 1.0


@pytest.mark.parametrize("args, message", [
    (["--steps", "0"], "steps"),
    (["--model", "openai/m@http://127.0.0.1:9/v1"], "transformers"),
    (["--config", "/nonexistent/train.toml"], "config file not found"),
])
def test_train_bad_input_is_one_line(tmp_path, args, message):
    out = _cli("train", "--out", str(tmp_path / "train"), *args)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and message in out.stderr, out.stderr
    assert not (tmp_path / "train").exists()


@pytest.mark.slow
def test_every_memory_baseline_runs_end_to_end_with_counted_memory_calls(tmp_path, tiny_model_dir, capsys):
    """Runner -> shared loop -> real library -> local endpoint -> in-process model, for all four baselines."""
    agents = ["mem0", "mem0g", "amem", "langmem"]
    code = main(_run_args(tmp_path, "--model", f"transformers/{tiny_model_dir}", "--source", "fixture",
                          "-a", ",".join(agents), "--limit", "1", "--concurrency", "4"))
    assert code == 0, capsys.readouterr().err
    run_dir = next((tmp_path / "runs").iterdir())
    records = {r["agent"]: r for r in map(json.loads, (run_dir / "episodes.jsonl").read_text().splitlines())}
    assert sorted(records) == sorted(agents)
    for name, record in records.items():
        stats = record["agent_stats"]
        assert stats["memory_backend"] == name and stats["memory"]["writes"] == record["steps"], name
        assert record["usage"]["memory"]["calls"] == stats["memory_cost"]["write"]["calls"] + \
            stats["memory_cost"]["retrieve"]["calls"] > 0, name
        assert isinstance(stats["memory_items"], list), name
    assert not any(p.name.startswith(("qdrant", "chroma")) for p in tmp_path.iterdir())  # stores under the run dir
    table = pd.read_csv(tmp_path / "lb" / "results.csv")
    assert set(table["agent"]) == set(agents)


def test_serve_bad_port_is_one_line():
    out = _cli("serve", "--port", "70000")
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "--port" in out.stderr, out.stderr
