"""Step-wise GRPO training of the AgeMem policy on HotpotQA's training split.

Each step: pick `questions_per_step` training questions; play `group_size` rollouts of each three-stage episode
with the SAME agent and episode code as evaluation (sampling at temperature 1, so the recorded log-probs are
the behaviour policy's); score every rollout with the paper's reward; normalise within each question's group;
give that advantage to every policy round of the rollout (each round = its own prompt and completion); update.

Everything a researcher needs to trust the curve is written to `out_dir`: `config.json`, `metrics.csv` (one
flushed row per step: reward and every component, loss, KL, clip fraction, tokens, time), `reward_curve.png`,
and `checkpoints/step-NNNN/` (a plain transformers model dir the `agemem` agent loads, plus the trainer state for
resuming). Rerunning the same command resumes from the newest checkpoint.
"""

from __future__ import annotations

import csv
import json
import random
import statistics
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from agents.agemem.agent import AgeMemAgent
from agents.agemem.train.grpo import GRPOConfig, StepSample, StepwiseGRPO, broadcast_advantages
from agents.agemem.train.reward import RewardWeights, compute_reward, facts_from_episode
from agents.api import Models
from agents.episode import Job, play_episode
from agents.llm.api import ChatModel, ChatRequest, Completion, Message
from agents.llm.batching import BatchingModel
from agents.llm.spec import EMBEDDED_MODEL_SPEC, load_model
from benchmarks.api import TaskRef
from benchmarks.data_dir import data_dir
from benchmarks.errors import SuiteError, require
from benchmarks.hotpotqa.benchmark import HotpotQA
from metrics.answer import normalize_answer
from metrics.judges import Judge, LexicalJudge, LLMJudge

AGENT_NAME = "agemem-train"
ROLLOUT_ENGINES = ("transformers", "vllm")


@dataclass(frozen=True)
class TrainConfig:
    model: str = EMBEDDED_MODEL_SPEC  # must be a transformers/ spec: the weights are trained in process
    out_dir: str = "runs/train"
    data_dir: str | None = None
    data_source: str = "auto"
    train_split: str = "train"  # train, or train_extra (the pool disjoint from dev)
    eval_split: str = "dev"  # the trainer refuses any overlap with it
    steps: int = 10
    questions_per_step: int = 1
    group_size: int = 8
    seed: int = 0
    judge: str = "lexical"  # or a model spec for an LLM judge
    save_every: int = 1
    threads: int = 1
    model_options: dict[str, Any] = field(default_factory=dict)  # e.g. {device = "cuda", dtype = "bfloat16"}
    # Who samples the rollouts: the trained model itself, or an in-process vLLM engine over the same base weights
    # that receives the policy's weights after every update (GPU; vllm_options are VLLMModel's options).
    rollout_engine: str = "transformers"
    vllm_options: dict[str, Any] = field(default_factory=dict)  # e.g. {gpu_memory_utilization = 0.3}
    tensorboard: bool = False  # also log every metrics.csv column to out_dir/tensorboard
    agent_options: dict[str, Any] = field(default_factory=dict)
    benchmark_options: dict[str, Any] = field(default_factory=dict)
    reward: dict[str, float] = field(default_factory=dict)  # RewardWeights fields
    grpo: dict[str, Any] = field(default_factory=dict)  # GRPOConfig fields

    def __post_init__(self) -> None:
        if not self.model.startswith("transformers/"):
            raise SuiteError(f"train: model must be a transformers/<id|path> spec (trained in process), got {self.model}")
        if min(self.steps, self.questions_per_step, self.save_every, self.threads) < 1 or self.group_size < 2:
            raise SuiteError("train: steps, questions_per_step, save_every, threads must be >= 1 and group_size >= 2")
        if self.rollout_engine not in ROLLOUT_ENGINES:
            raise SuiteError(f"train: rollout_engine must be one of {', '.join(ROLLOUT_ENGINES)}, got {self.rollout_engine!r}")
        for name, cls in (("reward", RewardWeights), ("grpo", GRPOConfig)):
            unknown = set(getattr(self, name)) - {f.name for f in fields(cls)}
            if unknown:
                raise SuiteError(f"train: unknown {name} setting(s) {sorted(unknown)}")

    @classmethod
    def from_dict(cls, settings: dict[str, Any]) -> TrainConfig:
        unknown = set(settings) - {f.name for f in fields(cls)}
        if unknown:
            raise SuiteError(f"train: unknown setting(s) {sorted(unknown)}; known: {sorted(f.name for f in fields(cls))}")
        try:
            return cls(**settings)
        except TypeError as exc:
            raise SuiteError(f"train: {exc}") from exc


@dataclass(frozen=True)
class TrainResult:
    out_dir: Path
    checkpoint: Path
    metrics_csv: Path
    steps_done: int


class RecordingModel:
    """The policy as one rollout sees it: every generation is kept as (exact prompt ids, generated ids)."""

    def __init__(self, inner: ChatModel, tokenize: Callable[[Sequence[Message], str], list[int]]) -> None:
        self.inner, self.tokenize = inner, tokenize
        self.spec, self.label = inner.spec, inner.label
        self.pairs: list[tuple[tuple[int, ...], tuple[int, ...]]] = []

    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        completions = self.inner.generate(requests)
        for request, completion in zip(requests, completions, strict=True):
            self.pairs.append((tuple(self.tokenize(request.messages, request.prefix)), completion.token_ids))
        return completions

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return self.inner.count_tokens(messages)

    def close(self) -> None:
        pass


def refuse_leaks(train: Sequence[TaskRef], evaluation: Sequence[TaskRef], questions: dict[str, str]) -> None:
    """No training id or question may appear in the evaluation split."""
    ids = {t.task_id for t in train} & {t.task_id for t in evaluation}
    if ids:
        raise SuiteError(f"train: {len(ids)} training task id(s) are in the evaluation split, e.g. {sorted(ids)[0]}")
    seen = {normalize_answer(questions[t.task_id]) for t in evaluation}
    leaked = [t.task_id for t in train if normalize_answer(questions[t.task_id]) in seen]
    if leaked:
        raise SuiteError(f"train: {len(leaked)} training question(s) also appear in the evaluation split, e.g. {leaked[0]}")


def train(config: TrainConfig, *, log: Callable[[str], None] = print) -> TrainResult:
    """Train; under torchrun/accelerate launch (WORLD_SIZE > 1) every rank plays its own questions and rank 0 writes."""
    import torch

    if config.rollout_engine == "vllm":
        require("vllm", "vllm")  # before anything is loaded or written
    rank, world = _join_process_group(config.model_options)
    if rank:
        log = lambda _message: None

    bench = HotpotQA(data_dir=data_dir(config.data_dir), source=config.data_source, **config.benchmark_options)
    if config.train_split not in bench.splits():
        raise SuiteError(f"train: no split '{config.train_split}' in this data; available: {bench.splits()}")
    tasks = list(bench.tasks(config.train_split))
    evaluation = list(bench.tasks(config.eval_split)) if config.eval_split in bench.splits() else []
    records = {t.task_id: bench.make(t).record for t in [*tasks, *evaluation]}
    refuse_leaks(tasks, evaluation, {i: r.question for i, r in records.items()})

    out = Path(config.out_dir)
    saved = out / "config.json"
    settings = asdict(config)
    if saved.exists() and _resumable(json.loads(saved.read_text())) != _resumable(settings):
        raise SuiteError(f"train: {out} holds a run with another config; choose another out_dir")
    if rank == 0:
        (out / "checkpoints").mkdir(parents=True, exist_ok=True)
        saved.write_text(json.dumps(settings, indent=2, sort_keys=True))
    _barrier()
    latest = _latest_checkpoint(out)
    grpo_config = GRPOConfig(**{"seed": config.seed, **config.grpo})
    # Full fine-tuning resumes from the saved weights; LoRA rebuilds on the base and reloads its adapter.
    spec = f"transformers/{latest}" if latest is not None and not grpo_config.lora else config.model
    backend = load_model(spec, threads=config.threads, **config.model_options)
    trainer = StepwiseGRPO(backend.model, grpo_config, pad_id=backend.pad_id)
    backend.model = trainer.model
    if latest is not None:
        trainer.load_state(latest)
        log(f"resuming from {latest} (step {trainer.step})")
    torch.manual_seed(config.seed + trainer.step + 100_003 * rank)  # ranks sample different rollouts
    engine = _rollout_engine(config, backend)
    policy = BatchingModel(engine, max_batch=config.group_size * config.questions_per_step)

    def sync() -> None:  # the engine must sample from the policy being trained (also after a resume)
        if engine is not backend:
            engine.load_weights(trainer.policy_weights())

    sync()
    judge: Judge = LexicalJudge() if config.judge == "lexical" else LLMJudge(load_model(config.judge))
    weights = RewardWeights(**config.reward)
    order = random.Random(config.seed).sample(range(len(tasks)), len(tasks))
    metrics_csv = out / "metrics.csv"
    checkpoint = latest or Path(config.model)
    writer = _tensorboard(out) if config.tensorboard and rank == 0 else None
    per_step = config.questions_per_step * world
    try:
        while trainer.step < config.steps:
            step = trainer.step
            started = time.perf_counter()
            chosen = [tasks[order[(step * per_step + rank * config.questions_per_step + i) % len(tasks)]]
                      for i in range(config.questions_per_step)]
            rollouts = _rollouts(bench, chosen, config, policy, backend.prompt_ids)
            samples, rewards, breakdowns = [], {}, []
            for task, k, record, steps, recorder, agent in rollouts:
                gold = records[task.task_id]
                facts = facts_from_episode(
                    record, steps, question=gold.question, gold_answer=gold.answer,
                    support=[s for _, s in gold.gold_sentences()[0]], token_budget=agent.context_tokens,
                    max_rounds=agent.max_rounds_per_episode)
                breakdown = compute_reward(facts, judge, weights)
                trajectory = f"{task.task_id}/{k}"
                rewards[trajectory] = breakdown.total
                breakdowns.append(breakdown)
                # One update per batch of rollouts: on-policy, old log-probs = the detached current ones.
                samples += [StepSample(p, c, None, trajectory, task.task_id) for p, c in recorder.pairs]
            stats = trainer.update(samples, broadcast_advantages(samples, rewards))
            sync()
            breakdowns = _gather(breakdowns)
            if rank == 0:
                row = _row(step, breakdowns, stats, time.perf_counter() - started)
                _append_csv(metrics_csv, row)
                if writer is not None:
                    for key, value in row.items():
                        writer.add_scalar(f"train/{key}", value, step + 1)
                    writer.flush()
                log(f"step {step + 1}/{config.steps}: reward {row['reward_mean']:.3f} (task {row['task_mean']:.3f}) "
                    f"loss {row['loss']:.4f} kl {row['kl']:.4f} in {row['seconds']:.0f} s")
            if trainer.step % config.save_every == 0 or trainer.step == config.steps:
                checkpoint = out / "checkpoints" / f"step-{trainer.step:04d}"
                if rank == 0:
                    trainer.save(checkpoint, backend.tokenizer)
                    plot_rewards(metrics_csv, out / "reward_curve.png")
                _barrier()  # no rank reads or resumes from a checkpoint rank 0 is still writing
    finally:
        policy.close()
        if engine is not backend:
            backend.close()
        if writer is not None:
            writer.close()
    return TrainResult(out, checkpoint, metrics_csv, trainer.step)


def _rollout_engine(config: TrainConfig, backend: Any) -> Any:
    """The trained model itself, or a vLLM engine loaded from the same base weights (synced after each update)."""
    if config.rollout_engine == "transformers":
        return backend
    from agents.llm.transformers_backend import resolve_source

    return load_model(f"vllm/{resolve_source(config.model.removeprefix('transformers/'))[0]}", **config.vllm_options)


def _join_process_group(model_options: dict[str, Any]) -> tuple[int, int]:
    """(rank, world size): joins the group torchrun / accelerate launch describe in the environment, if any."""
    import os

    import torch

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    if not torch.distributed.is_initialized():
        cuda = str(model_options.get("device", "cpu")).startswith("cuda")
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        torch.distributed.init_process_group("nccl" if cuda else "gloo")
    return torch.distributed.get_rank(), torch.distributed.get_world_size()


def _gather(items: list) -> list:
    """Every rank's items, in rank order (the metrics row covers all rollouts of the step)."""
    from agents.agemem.train.grpo import distributed

    if not distributed():
        return items
    import torch

    gathered: list[list] = [[] for _ in range(torch.distributed.get_world_size())]
    torch.distributed.all_gather_object(gathered, items)
    return [item for part in gathered for item in part]


def _barrier() -> None:
    from agents.agemem.train.grpo import distributed

    if distributed():
        import torch

        torch.distributed.barrier()


def _tensorboard(out: Path) -> Any:
    require("tensorboard", "train")
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(log_dir=str(out / "tensorboard"))


def _rollouts(bench: HotpotQA, chosen: list[TaskRef], config: TrainConfig, policy: ChatModel,
              tokenize: Callable[[Sequence[Message], str], list[int]]) -> list[tuple]:
    """group_size episodes per question, all at once: their generations batch together."""

    def one(task: TaskRef, k: int) -> tuple:
        recorder = RecordingModel(policy, tokenize)
        # temperature 1: the log-probs recomputed for the update are then those of the sampling policy.
        agent = AgeMemAgent(Models(policy=recorder, others={"summarizer": policy}), name=AGENT_NAME,
                            **{**config.agent_options, "temperature": 1.0})
        record, steps = play_episode(bench, Job(bench.name, task, AGENT_NAME, seed=k), agent, None)
        return task, k, record, steps, recorder, agent

    jobs = [(task, k) for task in chosen for k in range(config.group_size)]
    with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="rollout") as pool:
        return list(pool.map(lambda job: one(*job), jobs))


def _row(step: int, breakdowns: list, stats: dict[str, float], seconds: float) -> dict[str, float]:
    totals = [b.total for b in breakdowns]
    row: dict[str, float] = {"step": step + 1, "rollouts": len(totals), "reward_mean": statistics.fmean(totals),
                             "reward_std": statistics.stdev(totals) if len(totals) > 1 else 0.0}
    for name in ("task", "context", "memory", "compression", "preventive", "preservation", "storage",
                 "maintenance", "relevance", "overflow_penalty", "rounds_penalty"):
        row[f"{name}_mean"] = statistics.fmean(getattr(b, name) for b in breakdowns)
    row["judge_missing"] = sum(len(b.missing) for b in breakdowns)
    row.update({k: v for k, v in stats.items() if k != "step"})
    row["seconds"] = seconds
    return row


def _append_csv(path: Path, row: dict[str, float]) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)
        fh.flush()


def _resumable(settings: dict[str, Any]) -> dict[str, Any]:
    """What must match to resume: everything but how long to train and how often to save."""
    return {k: v for k, v in settings.items() if k not in ("steps", "save_every", "threads")}


def _latest_checkpoint(out: Path) -> Path | None:
    done = sorted(p for p in (out / "checkpoints").glob("step-*") if (p / "trainer_state.pt").exists())
    return done[-1] if done else None


def plot_rewards(metrics_csv: Path, png: Path) -> None:
    """Mean reward (with its task component) per step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(metrics_csv) as fh:
        rows = list(csv.DictReader(fh))
    steps = [int(float(r["step"])) for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(steps, [float(r["reward_mean"]) for r in rows], marker="o", label="reward (mean over rollouts)")
    ax.plot(steps, [float(r["task_mean"]) for r in rows], marker=".", linestyle="--", label="R_task")
    ax.set_xlabel("GRPO step")
    ax.set_ylabel("reward")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    plt.close(fig)
