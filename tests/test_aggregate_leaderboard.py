import pandas as pd
import pytest

from metrics.aggregate import aggregate, bootstrap_mean
from metrics.leaderboard import COLUMNS, HONESTY_NOTE, publish


def _record(success, progress, em, prompt=100, seed=0, agent="nomem"):
    return {"benchmark": "hotpotqa", "split": "dev", "agent": agent, "model": "m", "success": success,
            "progress": progress, "steps": 4, "invalid_actions": 1, "wall_seconds": 2.0,
            "metrics": {"exact_match": em, "f1": progress},
            "usage": {"policy": {"prompt_tokens": prompt, "completion_tokens": 10, "calls": 4, "seconds": 1.0}}}


def test_bootstrap_ci_contains_mean_and_is_deterministic():
    values = [0, 1, 1, 0, 1, 1, 1, 0, 1, 0]
    a, b = bootstrap_mean(values), bootstrap_mean(values)
    assert a == b and a.value == pytest.approx(0.6) and a.ci_low < 0.6 < a.ci_high and a.n == 10
    assert bootstrap_mean([0.5]).ci_low == 0.5 == bootstrap_mean([0.5]).ci_high
    with pytest.raises(ValueError):
        bootstrap_mean([])


def test_aggregate_rows():
    rows = aggregate([_record(True, 1.0, 1.0), _record(False, 0.5, 0.0, prompt=300)],
                     errors=[{"benchmark": "hotpotqa", "split": "dev", "agent": "nomem", "model": "m"}])
    by = {r["metric"]: r for r in rows}
    assert by["success_rate"]["value"] == 0.5 and by["progress_rate"]["value"] == 0.75
    assert by["exact_match"]["value"] == 0.5 and by["policy_prompt_tokens"]["value"] == 200
    assert by["grounding_accuracy"]["value"] == 0.75 and by["llm_calls"]["value"] == 4
    assert by["errors"]["value"] == 1 and by["success_rate"]["n"] == 2
    assert by["total_tokens"]["value"] == 210


def test_memory_library_tokens_and_calls_count_towards_the_totals():
    record = _record(True, 1.0, 1.0)
    record["usage"]["memory"] = {"prompt_tokens": 500, "completion_tokens": 50, "calls": 3, "seconds": 9.0}
    by = {r["metric"]: r["value"] for r in aggregate([record])}
    assert by["memory_prompt_tokens"] == 500 and by["memory_completion_tokens"] == 50
    assert by["total_tokens"] == 100 + 10 + 500 + 50 and by["llm_calls"] == 4 + 3


def _rows(run_id, value):
    rows = aggregate([_record(value, value, value)])
    for r in rows:
        r.update(judge="none", data_source="fixture", run_id=run_id, commit="c", date="2026-11-25")
    return rows


def test_publish_merges_by_run_and_renders(tmp_path):
    publish(_rows("run-a", 1.0), tmp_path)
    publish(_rows("run-b", 0.0), tmp_path)
    csv_path, md_path = publish(_rows("run-a", 0.0), tmp_path)  # republishing run-a replaces its rows
    table = pd.read_csv(csv_path)
    assert list(table.columns) == list(COLUMNS)
    assert set(table["run_id"]) == {"run-a", "run-b"}
    assert (table[table.metric == "success_rate"]["value"] == 0.0).all()
    md = md_path.read_text()
    assert HONESTY_NOTE in md and "| hotpotqa | dev | nomem | m |" in md and "run-b" in md
