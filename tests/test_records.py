import json

import pytest

from agents.episode import episode_key
from harness.records import RunDir


def _meta(h="abc"):
    return {"run_id": "r", "config_hash": h}


def test_append_and_resume_keys(tmp_path):
    run = RunDir.open(tmp_path / "r", _meta())
    rec = {"key": episode_key("hotpotqa", "dev", "t1", "nomem", 0), "success": True}
    run.append_episode(rec, [{"step": 0, "action": "x"}])
    again = RunDir.open(tmp_path / "r", _meta())
    assert again.finished_keys() == {"hotpotqa/dev/t1/nomem/seed0"}
    stored = again.episodes()[0]
    traj = (tmp_path / "r" / stored["trajectory"]).read_text().splitlines()
    assert json.loads(traj[0])["action"] == "x"


def test_partial_last_line_is_dropped_on_reopen(tmp_path):
    run = RunDir.open(tmp_path / "r", _meta())
    run.append_episode({"key": "a"}, [])
    with open(run.episodes_path, "a") as fh:
        fh.write('{"key": "b", "succ')  # a crash mid-write
    assert run.finished_keys() == {"a"}
    RunDir.open(tmp_path / "r", _meta())
    assert run.episodes_path.read_text().endswith("\n")
    run.append_episode({"key": "c"}, [])
    assert run.finished_keys() == {"a", "c"}


def test_reopen_with_other_hash_refused(tmp_path):
    RunDir.open(tmp_path / "r", _meta("one"))
    with pytest.raises(RuntimeError, match="another config hash"):
        RunDir.open(tmp_path / "r", _meta("two"))


def test_trajectory_names_are_safe_and_unique(tmp_path):
    run = RunDir.open(tmp_path / "r", _meta())
    a = run.trajectory_path("b/s/../../etc/x/a/seed0")
    b = run.trajectory_path("b/s/__/__/etc/x/a/seed0")
    assert a.parent == run.trajectories and b.parent == run.trajectories and a != b
