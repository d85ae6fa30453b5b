"""The GRPO trainer end to end on a tiny random model and the fixture data: plumbing, checkpoints, resume, leaks."""

import csv
import json

import pytest
from transformers import AutoModelForCausalLM

from agents.agemem.train.trainer import TrainConfig, train
from benchmarks.errors import SuiteError


def _config(tmp_path, tiny_model_dir, **overrides):
    settings = {
        "model": f"transformers/{tiny_model_dir}", "out_dir": str(tmp_path / "train"), "data_source": "fixture",
        "steps": 2, "group_size": 2, "save_every": 1,
        "agent_options": {"max_new_tokens": 8, "max_rounds_per_step": 1},
        "benchmark_options": {"max_distractor_turns": 1}, "grpo": {"lr": 1e-4},
    }
    return TrainConfig.from_dict({**settings, **overrides})


def test_train_writes_metrics_checkpoints_and_resumes(tmp_path, tiny_model_dir):
    result = train(_config(tmp_path, tiny_model_dir), log=lambda _: None)
    assert result.steps_done == 2 and result.checkpoint.name == "step-0002"
    rows = list(csv.DictReader(open(result.metrics_csv)))
    assert [int(float(r["step"])) for r in rows] == [1, 2]
    for row in rows:
        assert {"reward_mean", "task_mean", "context_mean", "memory_mean", "loss", "kl", "clip_fraction"} <= set(row)
        assert float(row["samples"]) >= 2 * 3  # every policy round of both rollouts is a sample
    assert (result.out_dir / "reward_curve.png").stat().st_size > 0
    AutoModelForCausalLM.from_pretrained(result.checkpoint)  # what the `agemem` agent loads
    assert json.loads((result.out_dir / "config.json").read_text())["group_size"] == 2

    resumed = train(_config(tmp_path, tiny_model_dir, steps=3), log=lambda _: None)
    assert resumed.steps_done == 3 and resumed.checkpoint.name == "step-0003"
    assert [int(float(r["step"])) for r in csv.DictReader(open(resumed.metrics_csv))] == [1, 2, 3]


def test_refuses_evaluation_questions_and_bad_settings(tmp_path, tiny_model_dir):
    with pytest.raises(SuiteError, match="evaluation split"):
        train(_config(tmp_path, tiny_model_dir, train_split="dev"), log=lambda _: None)
    with pytest.raises(SuiteError, match="transformers"):
        TrainConfig.from_dict({"model": "openai/x@http://127.0.0.1:1/v1"})
    with pytest.raises(SuiteError, match="unknown setting"):
        TrainConfig.from_dict({"stepz": 3})
    with pytest.raises(SuiteError, match="unknown grpo"):
        TrainConfig.from_dict({"grpo": {"betta": 0.1}})
