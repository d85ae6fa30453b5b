import json

import pandas as pd
import pytest

from agents.api import Models
from agents.builtin import AGENTS
from benchmarks.errors import SuiteError
from harness.config import build_config
from harness.runner import run
from tests.fakes import ScriptedModel


def _config(tmp_path, **overrides):
    settings = {"benchmarks": ["hotpotqa"], "agents": ["nomem"], "data_source": "fixture", "limit": 2,
                "concurrency": 2, "out_dir": str(tmp_path / "runs"),
                "leaderboard_dir": str(tmp_path / "lb"), "progress": False}
    return build_config({**settings, **overrides})


def _models():
    return Models(policy=ScriptedModel("<think>sure</think><answer>yes</answer>"))


def test_run_records_publishes_and_resumes(tmp_path):
    result = run(_config(tmp_path), models=_models(), log=lambda _: None)
    assert result.episodes == 2 and result.new_episodes == 2 and result.errors == 0
    meta = json.loads((result.run_dir / "run.json").read_text())
    assert {"config_hash", "commit", "packages", "data", "config", "machine"} <= set(meta)
    assert meta["data"]["hotpotqa"]["source"] == "fixture"
    records = [json.loads(line) for line in (result.run_dir / "episodes.jsonl").read_text().splitlines()]
    for rec in records:
        assert rec["steps"] >= 3 and rec["terminated"] and not rec["truncated"]
        assert rec["usage"]["policy"]["calls"] == rec["steps"]
        assert set(rec["metrics"]) == {"exact_match", "f1"}
        steps = (result.run_dir / rec["trajectory"]).read_text().splitlines()
        assert len(steps) == rec["steps"]
        assert sum(json.loads(s)["new_session"] for s in steps) == 1
    table = pd.read_csv(result.leaderboard_csv)
    assert {"success_rate", "exact_match", "f1", "policy_prompt_tokens"} <= set(table["metric"])
    assert (table["n"] == 2).all() and (table["data_source"] == "fixture:fixture.json").all()

    again = run(_config(tmp_path), models=_models(), log=lambda _: None)
    assert again.run_dir == result.run_dir and again.new_episodes == 0
    more = run(_config(tmp_path, limit=3, concurrency=1), models=_models(), log=lambda _: None)
    assert more.run_dir == result.run_dir and more.new_episodes == 1 and more.episodes == 3


def test_failed_episode_is_recorded_as_error_not_scored(tmp_path):
    calls = {"n": 0}

    def flaky(messages):
        calls["n"] += 1
        if calls["n"] >= 2:  # every attempt after the first model call fails
            raise ConnectionError("model server went away")
        return "<answer>ok</answer>"

    result = run(_config(tmp_path, limit=1), models=Models(policy=ScriptedModel(flaky)), log=lambda _: None)
    assert result.episodes == 0 and result.errors == 1
    error = json.loads((result.run_dir / "errors.jsonl").read_text())
    assert "model server went away" in error["error"] and error["attempts"] == 2  # retried once within the run
    table = pd.read_csv(result.leaderboard_csv)
    assert list(table["metric"]) == ["errors"]
    fixed = run(_config(tmp_path, limit=1), models=_models(), log=lambda _: None)  # a rerun retries it
    assert fixed.new_episodes == 1 and fixed.errors == 0


@pytest.mark.parametrize("overrides, message", [
    ({"benchmarks": ["hotpotqaa"]}, "did you mean 'hotpotqa'"),
    ({"agents": ["mem9"]}, "unknown agent 'mem9'"),
    ({"split": "nope"}, "no split 'nope'"),
    ({"agent_options": {"nomem": {"bogus": 1}}}, "bad option"),
    ({"benchmark_options": {"hotpotqa": {"bogus": 1}}}, "bad option"),
])
def test_bad_input_fails_before_anything_is_written(tmp_path, overrides, message):
    with pytest.raises(SuiteError, match=message):
        run(_config(tmp_path, **overrides), models=_models(), log=lambda _: None)
    assert not (tmp_path / "runs").exists() and not (tmp_path / "lb").exists()


def test_builtin_agents_are_lazy():
    assert "nomem" in AGENTS.names()
