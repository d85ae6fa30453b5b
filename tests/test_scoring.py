"""Scoring after the episodes: judges over records, the judgment cache, `agemem-bench score`, judge labels."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from agents.api import Models
from harness.cli import main
from harness.config import build_config
from harness.runner import rescore, run
from metrics.leaderboard import publish
from metrics.scoring import JudgmentCache, judge_rows, llm_judge, score_records
from tests.fakes import QueueModel, ScriptedModel

SUPPORT = [["Corran Footbridge", "The Corran Footbridge was designed by the architect Ilsa Brandt."],
           ["Ilsa Brandt", "Ilsa Brandt (born 1948) is an architect known for light pedestrian bridges."]]


def _record(key: str, prediction: str | None, *, agent: str = "nomem", items: list[str] | None = None,
            seed: int = 0) -> dict:
    stats = {} if items is None else {"ltm_items": [{"id": f"m{i}", "content": t} for i, t in enumerate(items)]}
    return {"key": key, "benchmark": "hotpotqa", "split": "dev", "task_id": key, "agent": agent, "model": "m",
            "seed": seed, "success": prediction == "1948", "progress": 1.0, "steps": 4, "invalid_actions": 0,
            "terminated": prediction is not None, "truncated": prediction is None,
            "metrics": {"exact_match": float(prediction == "1948"), "f1": float(prediction == "1948")},
            "usage": {"policy": {"prompt_tokens": 10, "completion_tokens": 2, "calls": 4, "seconds": 0.1}},
            "wall_seconds": 1.0, "agent_stats": stats, "prediction": prediction,
            "reference": {"question": "In which year was the architect of the Corran Footbridge born?",
                          "answer": "1948", "support": SUPPORT}}


def _by_metric(rows: list[dict], agent: str = "nomem") -> dict[str, dict]:
    return {r["metric"]: r for r in rows if r["agent"] == agent}


def _graded(messages) -> str:
    """A judge model: 0.9 for an answer containing 1948, 0.1 otherwise; items by whether they name Brandt."""
    text = messages[-1]["content"]
    if "Memory item" in text:
        return "1.0" if "Brandt" in text.split("Memory item")[-1] else "0.2"
    return "0.9" if "1948" in text.split("Answer to grade")[-1] else "0.1"


def test_llm_judge_scores_answers_and_memory_items_with_its_cost():
    model = ScriptedModel(_graded, spec="scripted/judge")
    records = [_record("a", "1948"), _record("b", "Paris"),
               _record("c", "1948", agent="agemem-norl", items=["Ilsa Brandt was born in 1948", "Paris is nice",
                                                                 "Brandt designed the bridge", "weather"])]
    scores = score_records(records, llm_judge(model), JudgmentCache(None))
    assert scores.judge == "llm:scripted/judge" and scores.judged == 3 and scores.calls_made == 6
    rows = judge_rows(records, scores)
    assert {r["judge"] for r in rows} == {"llm:scripted/judge"}
    nomem = _by_metric(rows)
    assert nomem["judge_score"]["value"] == pytest.approx(0.5) and nomem["judge_score"]["n"] == 2
    assert nomem["judge_missing"]["value"] == 0 and nomem["judge_calls"]["value"] == 1.0
    assert nomem["judge_prompt_tokens"]["value"] > 50 and "memory_quality" not in nomem  # no memory: absent
    agemem = _by_metric(rows, "agemem-norl")
    assert agemem["memory_quality"]["value"] == 0.5 and agemem["memory_judge_missing"]["value"] == 0
    assert agemem["judge_calls"]["value"] == 5.0  # one answer + four items
    item_prompts = [r.messages[-1]["content"] for r in model.requests if "Memory item" in r.messages[-1]["content"]]
    assert all("Supporting facts" in p and "Ilsa Brandt (born 1948)" in p for p in item_prompts)


def test_garbage_then_valid_is_retried_and_always_garbage_is_missing_never_zero():
    retried = score_records([_record("a", "1948")], llm_judge(QueueModel(["great answer!", "0.7"])), JudgmentCache(None))
    assert retried.per_episode["a"]["judge_score"] == 0.7 and retried.per_episode["a"]["judge_calls"] == 2
    model = ScriptedModel(lambda m: "0.8" if "Paris" in m[1]["content"] else "no idea", spec="scripted/judge")
    records = [_record("a", "1948"), _record("b", "Paris"),
               _record("c", "1948", agent="agemem-norl", items=["x"])]
    scores = score_records(records, llm_judge(model), JudgmentCache(None))
    assert scores.per_episode["a"]["judge_score"] is None and scores.per_episode["a"]["judge_calls"] == 3
    nomem = _by_metric(judge_rows(records, scores))
    assert nomem["judge_score"]["value"] == 0.8 and nomem["judge_score"]["n"] == 1  # the missing one left out
    assert nomem["judge_missing"]["value"] == 1 and nomem["judge_missing"]["n"] == 2
    agemem = _by_metric(judge_rows(records, scores), "agemem-norl")
    assert "judge_score" not in agemem and "memory_quality" not in agemem  # nothing known: no row at all
    assert agemem["judge_missing"]["value"] == 1 and agemem["memory_judge_missing"]["value"] == 1


def test_unanswered_episode_scores_zero_without_a_call_and_unjudgeable_records_are_skipped():
    model = ScriptedModel("0.9", spec="scripted/judge")
    babyai = {**_record("z", "go left"), "benchmark": "babyai"}
    del babyai["reference"]
    scores = score_records([_record("t", None), babyai], llm_judge(model), JudgmentCache(None))
    assert scores.per_episode == {"t": {"judge_score": 0.0, "judge_missing": 0.0, "judge_prompt_tokens": 0.0,
                                        "judge_completion_tokens": 0.0, "judge_calls": 0.0}}
    assert model.requests == []


def test_cache_hits_make_no_second_call_and_survive_a_reopen_and_a_torn_line(tmp_path):
    path = tmp_path / "judgments.jsonl"
    model = ScriptedModel(_graded, spec="scripted/judge")
    records = [_record("a", "1948"), _record("b", "1948", seed=1), _record("c", "Paris")]  # a, b: same input
    first = score_records(records, llm_judge(model), JudgmentCache(path))
    assert len(model.requests) == 2 and first.calls_made == 2 and len(path.read_text().splitlines()) == 2
    with open(path, "a") as fh:
        fh.write('{"judge": "llm:scripted/judge", "kind": "ans')  # a crash mid-write
    again = score_records(records, llm_judge(model), JudgmentCache(path))
    assert len(model.requests) == 2 and again.cached == 2 and again.calls_made == 0
    assert again.per_episode == first.per_episode  # same scores and same recorded judge cost
    assert path.read_text().endswith("\n")
    other = score_records(records, llm_judge(ScriptedModel("0.5", spec="scripted/other")), JudgmentCache(path))
    assert other.calls_made == 2 and other.per_episode["a"]["judge_score"] == 0.5  # another judge: its own entries


def test_cached_missing_is_reused_and_a_raising_call_is_retried_next_time(tmp_path):
    path = tmp_path / "judgments.jsonl"
    garbage = ScriptedModel("no idea", spec="scripted/judge")
    score_records([_record("a", "1948")], llm_judge(garbage), JudgmentCache(path))
    assert json.loads(path.read_text())["value"] is None
    score_records([_record("a", "1948")], llm_judge(garbage), JudgmentCache(path))
    assert len(garbage.requests) == 3  # 1 + 2 retries, then the missing judgment came from the cache

    def down(_messages):
        raise ConnectionError("judge server went away")

    failed = score_records([_record("b", "Paris")], llm_judge(ScriptedModel(down, spec="scripted/judge")),
                           JudgmentCache(path))
    assert failed.errors == 1 and "went away" in failed.first_error and failed.per_episode["b"]["judge_score"] is None
    fixed = score_records([_record("b", "Paris")], llm_judge(ScriptedModel("0.3", spec="scripted/judge")),
                          JudgmentCache(path))
    assert fixed.calls_made == 1 and fixed.per_episode["b"]["judge_score"] == 0.3


def _run_dir(tmp_path: Path) -> Path:
    path = tmp_path / "runs" / "run-abc"
    path.mkdir(parents=True)
    meta = {"run_id": "run-abc", "commit": "c0ffee", "config": {"leaderboard_dir": str(tmp_path / "default-lb")},
            "data": {"hotpotqa": {"source": "fixture", "splits": {"dev": {"files": [{"path": "x/fixture.json"}]}}}}}
    (path / "run.json").write_text(json.dumps(meta))
    records = [_record("a", "1948"), _record("b", "Paris"),
               _record("c", "1948", agent="agemem-norl", items=["Ilsa Brandt was born in 1948", "weather"])]
    (path / "episodes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_score_cli_end_to_end_keeps_every_judges_rows(tmp_path, capsys):
    run_path, lb = _run_dir(tmp_path), tmp_path / "lb"
    assert main(["score", str(run_path), "--judge", "lexical", "--leaderboard-dir", str(lb), "--no-progress"]) == 0
    assert "judge lexical: 3 of 3 episodes judged (4 judgments made, 0 cached, 0 missing)" in capsys.readouterr().out
    table = pd.read_csv(lb / "results.csv")
    assert set(table["judge"]) == {"lexical"} and set(table["run_id"]) == {"run-abc"}
    lexical = table[(table.agent == "nomem") & (table.metric == "judge_score")].iloc[0]
    assert lexical.value == 0.5 and lexical.n == 2 and lexical.data_source == "fixture:fixture.json"

    # Another judge for the same run: its rows are added, the lexical ones stay.
    outcome = rescore(run_path, "ignored", leaderboard_dir=lb, progress=False,
                      factory=llm_judge(ScriptedModel(_graded, spec="scripted/judge")))
    assert outcome.judge == "llm:scripted/judge" and outcome.calls_made == 4  # a's and c's answers are one input
    table = pd.read_csv(lb / "results.csv")
    scores = table[(table.agent == "nomem") & (table.metric == "judge_score")].set_index("judge")["value"]
    assert scores.to_dict() == {"llm:scripted/judge": pytest.approx(0.5), "lexical": 0.5}
    memory = table[(table.agent == "agemem-norl") & (table.metric == "memory_quality")].set_index("judge")["value"]
    assert memory.to_dict() == {"llm:scripted/judge": 0.5, "lexical": 0.5}

    # Re-scoring with the lexical judge: everything from the cache, the LLM judge's rows untouched.
    assert main(["score", str(run_path), "--judge", "lexical", "--leaderboard-dir", str(lb), "--no-progress"]) == 0
    assert "(0 judgments made, 4 cached, 0 missing)" in capsys.readouterr().out
    again = pd.read_csv(lb / "results.csv")
    assert len(again) == len(table) and set(again["judge"]) == {"lexical", "llm:scripted/judge"}

    # A later publication of the run's judge-independent rows keeps both judges' rows too.
    publish([{"benchmark": "hotpotqa", "split": "dev", "agent": "nomem", "model": "m", "metric": "f1",
                  "value": 0.5, "ci_low": 0.0, "ci_high": 1.0, "n": 2, "judge": "none", "data_source": "d",
                  "run_id": "run-abc", "commit": "c", "date": "2026-11-26"}], lb)
    final = pd.read_csv(lb / "results.csv")
    assert set(final["judge"]) == {"none", "lexical", "llm:scripted/judge"}
    assert len(final) == len(again) + 1


def test_score_cli_defaults_to_the_runs_leaderboard_dir(tmp_path, capsys):
    run_path = _run_dir(tmp_path)
    assert main(["score", str(run_path), "--judge", " lexical", "--no-progress"]) == 0
    assert (tmp_path / "default-lb" / "results.csv").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["score", "{tmp}/nowhere", "--judge", "lexical"], "not a run directory"),
    (["score", "{run}", "--judge", "bogus"], "malformed model spec 'bogus'"),
    (["score", "{run}", "--judge", "gpt/x"], "unknown model backend 'gpt'"),
    (["score", "{run}", "--judge", "openai/m@http://127.0.0.1:9"], "agemem-bench: error:"),
    (["score", "{run}", "--judge", "lexical", "--concurrency", "0"], "--concurrency must be >= 1"),
])
def test_score_cli_bad_input_is_one_line_exit_2(tmp_path, capsys, args, message):
    run_path = _run_dir(tmp_path)
    argv = [a.format(tmp=tmp_path, run=run_path) for a in args]
    assert main([*argv, "--leaderboard-dir", str(tmp_path / "lb"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "lb").exists() and not (run_path / "judgments.jsonl").exists()


def test_score_refuses_a_run_without_gold_answers(tmp_path, capsys):
    run_path = _run_dir(tmp_path)
    record = {k: v for k, v in _record("a", "x").items() if k not in ("reference", "prediction")}
    (run_path / "episodes.jsonl").write_text(json.dumps({**record, "benchmark": "babyai"}) + "\n")
    assert main(["score", str(run_path), "--judge", "lexical", "--no-progress"]) == 2
    assert "no episode has a gold answer to judge" in capsys.readouterr().err


def _config(tmp_path: Path, **overrides):
    settings = {"benchmarks": ["hotpotqa"], "agents": ["nomem"], "data_source": "fixture", "limit": 2,
                "concurrency": 2, "out_dir": str(tmp_path / "runs"), "leaderboard_dir": str(tmp_path / "lb"),
                "progress": False}
    return build_config({**settings, **overrides})


def test_runner_scores_with_the_judge_role_or_the_lexical_judge(tmp_path):
    policy = ScriptedModel("<answer>1948</answer>")
    plain = run(_config(tmp_path), models=Models(policy=policy), log=lambda _: None)
    assert plain.judge == "lexical"
    records = [json.loads(line) for line in (plain.run_dir / "episodes.jsonl").read_text().splitlines()]
    assert all(r["prediction"] == "1948" and r["reference"]["support"] for r in records)
    assert {r["reference"]["question"] for r in records} and all(r["reference"]["answer"] for r in records)
    table = pd.read_csv(plain.leaderboard_csv)
    assert set(table[table.metric.isin(["f1", "success_rate", "total_tokens"])]["judge"]) == {"none"}
    assert set(table[table.metric == "judge_score"]["judge"]) == {"lexical"}

    judge = ScriptedModel("0.6", spec="scripted/judge")
    config = _config(tmp_path, roles={"judge": "openai/judge@http://127.0.0.1:9"})
    assert config.config_hash({}) == _config(tmp_path).config_hash({})  # the judge never changes the episodes
    judged = run(config, models=Models(policy=policy, others={"judge": judge}), log=lambda _: None)
    assert judged.run_dir == plain.run_dir and judged.new_episodes == 0 and judged.judge == "llm:scripted/judge"
    assert len(judge.requests) == judged.episodes
    table = pd.read_csv(judged.leaderboard_csv)
    scores = table[table.metric == "judge_score"].set_index("judge")["value"].to_dict()
    f1 = table[table.metric == "f1"]["value"].iloc[0]  # lexical answer score: 1 on exact match, else token F1
    assert scores == {"lexical": pytest.approx(f1), "llm:scripted/judge": 0.6}
    assert table[(table.metric == "judge_prompt_tokens") & (table.judge == "llm:scripted/judge")]["value"].iloc[0] > 0
