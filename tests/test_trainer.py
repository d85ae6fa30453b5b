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


def test_tensorboard_logs_every_metric(tmp_path, tiny_model_dir):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = train(_config(tmp_path, tiny_model_dir, steps=1, tensorboard=True), log=lambda _: None)
    events = EventAccumulator(str(result.out_dir / "tensorboard"))
    events.Reload()
    row = next(csv.DictReader(open(result.metrics_csv)))
    assert set(events.Tags()["scalars"]) == {f"train/{key}" for key in row}
    [reward] = events.Scalars("train/reward_mean")
    assert reward.step == 1 and reward.value == pytest.approx(float(row["reward_mean"]), abs=1e-6)


def _rank_train(rank, world, port, config, out):
    import os

    import torch

    os.environ.update(WORLD_SIZE=str(world), RANK=str(rank), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    try:
        train(config, log=lambda _: None)
        weights = {k: v.detach().clone() for k, v in _final_model(config).named_parameters()}
        torch.save(weights, f"{out}/rank{rank}.pt")
    finally:
        torch.distributed.destroy_process_group()


def _final_model(config):
    from pathlib import Path

    return AutoModelForCausalLM.from_pretrained(max(Path(config.out_dir, "checkpoints").glob("step-*")))


def test_data_parallel_training_covers_both_ranks_and_writes_once(tmp_path, tiny_model_dir):
    import socket

    import torch
    import torch.multiprocessing as mp

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = _config(tmp_path, tiny_model_dir, steps=2)
    mp.spawn(_rank_train, args=(2, port, config, str(tmp_path)), nprocs=2)
    rows = list(csv.DictReader(open(tmp_path / "train" / "metrics.csv")))
    assert [int(float(r["step"])) for r in rows] == [1, 2]  # one row per step, written by rank 0 only
    assert all(float(r["rollouts"]) == 2 * config.group_size for r in rows)  # both ranks' rollouts in the row
    assert sorted(p.name for p in (tmp_path / "train" / "checkpoints").iterdir()) == ["step-0001", "step-0002"]
    zero, one = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2))
    assert all(torch.equal(zero[k], one[k]) for k in zero)


def test_a_separate_rollout_engine_samples_and_gets_every_update(tmp_path, tiny_model_dir, monkeypatch):
    """The vLLM path's wiring, with a second transformers copy standing in for the engine (vLLM needs a GPU)."""
    import torch

    from agents.agemem.train import trainer as trainer_module
    from agents.llm.transformers_backend import TransformersModel

    class SyncedCopy(TransformersModel):
        """Its own copy of the weights that changes only through load_weights, as a vLLM engine's does."""

        syncs = generated = 0

        def load_weights(self, weights):
            self.model.load_state_dict(dict(weights), strict=True)
            self.syncs += 1
            self.held = {k: v.clone() for k, v in self.model.state_dict().items()}  # closed engines drop the model

        def generate(self, requests):
            self.generated += len(requests)
            return super().generate(requests)

    engine = SyncedCopy(str(tiny_model_dir))
    monkeypatch.setattr(trainer_module, "_rollout_engine", lambda config, backend: engine)
    monkeypatch.setattr(trainer_module, "require", lambda module, extra: None)  # the vllm import check
    result = train(_config(tmp_path, tiny_model_dir, rollout_engine="vllm", grpo={"lr": 1e-2, "lora": True}),
                   log=lambda _: None)
    assert engine.generated > 0 and engine.syncs == 1 + result.steps_done  # once at start, then after every update
    trained = AutoModelForCausalLM.from_pretrained(result.checkpoint).state_dict()
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir).state_dict()
    assert any(not torch.equal(trained[k], base[k]) for k in trained)
    for name, tensor in engine.held.items():
        assert torch.allclose(tensor, trained[name], atol=1e-6), name


def test_rollout_engine_settings_are_checked(tmp_path, tiny_model_dir):
    import importlib.util

    if importlib.util.find_spec("vllm"):
        pytest.skip("vllm is installed here: the missing-extra message cannot be shown")
    with pytest.raises(SuiteError, match="rollout_engine must be one of"):
        TrainConfig.from_dict({"rollout_engine": "sglang"})
    with pytest.raises(SuiteError, match=r"agemem-bench\[vllm\]"):  # vllm is not installed in the test env
        train(_config(tmp_path, tiny_model_dir, rollout_engine="vllm"), log=lambda _: None)
    assert not (tmp_path / "train").exists()  # refused before writing anything
