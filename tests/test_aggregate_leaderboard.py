import pandas as pd
import pytest

from metrics.aggregate import aggregate, bootstrap_mean, summarize
from metrics.leaderboard import COLUMNS, HONESTY_NOTE, publish


def _record(success, progress, em, prompt=100, seed=0, agent="nomem"):
    return {"benchmark": "hotpotqa", "split": "dev", "agent": agent, "model": "m", "seed": seed, "success": success,
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


def test_two_level_bootstrap_over_seeds_covers_seed_to_seed_variation():
    values = [0.0] * 10 + [1.0] * 10
    seeds = [0] * 10 + [1] * 10
    episodes_only = bootstrap_mean(values)
    over_seeds = bootstrap_mean(values, clusters=seeds)
    assert episodes_only.value == over_seeds.value == 0.5 and over_seeds.n == 20
    # Episode resampling sees 20 coin flips; seed resampling also draws {0,0} -> 0 and {1,1} -> 1 (p = 1/4 each).
    assert 0.2 < episodes_only.ci_low < 0.5 < episodes_only.ci_high < 0.8
    assert over_seeds.ci_low == 0.0 and over_seeds.ci_high == 1.0
    # Seeds that agree: the two-level interval is about as wide as the episode one, and deterministic.
    same = [0, 1, 1, 0, 1] * 4
    a = bootstrap_mean(same, clusters=[0] * 10 + [1] * 10)
    assert a == bootstrap_mean(same, clusters=[0] * 10 + [1] * 10)
    b = bootstrap_mean(same)
    assert abs((a.ci_high - a.ci_low) - (b.ci_high - b.ci_low)) < 0.1
    assert bootstrap_mean(values, clusters=[7] * 20) == episodes_only  # one seed: plain episode bootstrap
    with pytest.raises(ValueError):
        bootstrap_mean([1.0, 0.0], clusters=[0])


def test_aggregate_uses_the_seed_bootstrap_when_a_group_has_several_seeds():
    records = [_record(True, 1.0, 1.0, seed=0) for _ in range(5)] + [_record(False, 0.0, 0.0, seed=1) for _ in range(5)]
    row = {r["metric"]: r for r in aggregate(records)}["success_rate"]
    assert row["value"] == 0.5 and row["n"] == 10 and (row["ci_low"], row["ci_high"]) == (0.0, 1.0)


def test_missing_values_are_left_out_and_n_says_so():
    rows = summarize([({**_record(True, 1, 1)}, {"judge_score": 0.5}), (_record(True, 1, 1), {"judge_score": None}),
                      (_record(True, 1, 1), {"judge_score": 1.0})], zero_fill=False)
    assert rows == [{"benchmark": "hotpotqa", "split": "dev", "agent": "nomem", "model": "m", "metric": "judge_score",
                     "value": 0.75, "ci_low": pytest.approx(0.5), "ci_high": 1.0, "n": 2}]
    assert summarize([(_record(True, 1, 1), {"judge_score": None})]) == []  # nothing known: no row, never 0
    zero = summarize([(_record(True, 1, 1), {"a": 1.0}), (_record(True, 1, 1), {"b": 1.0})])
    assert {r["metric"]: r["value"] for r in zero} == {"a": 0.5, "b": 0.5}  # absent = 0 with zero_fill


def test_lexical_memory_metrics_only_for_agents_with_memory():
    reference = {"question": "q", "answer": "1948", "support": [["T", "Ilsa Brandt was born in 1948."]]}
    memory = {**_record(True, 1, 1, agent="mem0"), "reference": reference,
              "agent_stats": {"memory_items": ["Ilsa Brandt born 1948", "noise"]}}
    plain = {**_record(True, 1, 1), "reference": reference, "agent_stats": {}}
    by = {(r["agent"], r["metric"]): r["value"] for r in aggregate([memory, plain])}
    assert by[("mem0", "memory_coverage")] == 1.0 and by[("mem0", "memory_precision")] == 0.5
    assert by[("mem0", "memory_items")] == 2.0
    assert not any(agent == "nomem" and metric.startswith("memory_") for agent, metric in by)
