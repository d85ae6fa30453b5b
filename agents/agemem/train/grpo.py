"""Step-wise GRPO (paper Sec. 3.4, Alg. 2): each step of a trajectory is its own training sample.

AgeMem rewrites its context between steps (Summary/Filter, the stage reset), so a trajectory is not one growing
token sequence. Every step is kept as (prompt it saw, tokens it generated, their log-probs under the sampling
policy); the trajectory's terminal reward is normalised within its group of K rollouts and the SAME advantage is
given to every step sample of that trajectory.

Loss per generated token: -min(r*A, clip(r, 1-eps_low, 1+eps_high)*A) + beta*KL_k3(pi || pi_ref), with
r = exp(logp_new - logp_old). Aggregation: mean over a sample's generated tokens, then mean over samples, so a
long step does not outweigh a short one (every step is one "experience", as in the paper's mean over experiences).
Prompt and padding positions never enter the loss.
"""

from __future__ import annotations

import copy
import math
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
STATE_FILE = "trainer_state.pt"


class Tokens(Protocol):
    """Anything with a prompt and a completion (a StepSample, or a pair before its old log-probs are known)."""

    prompt_ids: Sequence[int]
    completion_ids: Sequence[int]


@dataclass(frozen=True)
class StepSample:
    prompt_ids: tuple[int, ...]
    completion_ids: tuple[int, ...]
    # Of completion_ids under the policy that sampled them. None = on-policy: one update right after the rollouts,
    # so the current policy IS the sampling policy and its detached log-probs serve (saves a forward pass per sample).
    old_logprobs: tuple[float, ...] | None
    trajectory_id: str
    group_id: str

    def __post_init__(self) -> None:
        if not self.prompt_ids:
            raise ValueError("a step sample needs at least one prompt token")
        if self.old_logprobs is not None and len(self.old_logprobs) != len(self.completion_ids):
            raise ValueError(f"{len(self.old_logprobs)} old log-probs for {len(self.completion_ids)} completion tokens")


def group_advantages(rewards: Sequence[float], eps: float = 1e-6) -> list[float]:
    """(r - mean) / (std + eps), std with 1/(K-1); an all-equal or single-rollout group carries no signal: zeros."""
    n = len(rewards)
    if n < 2 or max(rewards) == min(rewards):
        return [0.0] * n
    mean = math.fsum(rewards) / n
    std = math.sqrt(math.fsum((r - mean) ** 2 for r in rewards) / (n - 1))
    return [(r - mean) / (std + eps) for r in rewards]


def broadcast_advantages(
    samples: Sequence[StepSample], rewards_by_trajectory: Mapping[str, float], eps: float = 1e-6
) -> list[float]:
    """Per sample, the group-normalised reward of its trajectory (groups from the samples' group_id).

    A trajectory with a reward but no samples is ignored (its group is unknown from the samples).
    """
    group_of: dict[str, str] = {}
    for sample in samples:
        if sample.trajectory_id not in rewards_by_trajectory:
            raise ValueError(f"no reward for trajectory {sample.trajectory_id!r}")
        if group_of.setdefault(sample.trajectory_id, sample.group_id) != sample.group_id:
            raise ValueError(f"trajectory {sample.trajectory_id!r} appears in two groups")
    members: dict[str, list[str]] = defaultdict(list)
    for trajectory, group in group_of.items():
        members[group].append(trajectory)
    advantage: dict[str, float] = {}
    for trajectories in members.values():
        values = group_advantages([float(rewards_by_trajectory[t]) for t in trajectories], eps)
        advantage.update(zip(trajectories, values, strict=True))
    return [advantage[s.trajectory_id] for s in samples]


def _batch_logprobs(model: Any, batch: Sequence[Tokens], pad_id: int) -> list[torch.Tensor]:
    """One forward pass over left-padded prompt+completion; log-softmax gathered at the next-token positions.

    Left padding with explicit position ids keeps every real token's positions and causal context identical to an
    unpadded pass, and puts every completion at the end of its row, so the vocabulary projection runs only on the
    last `longest completion + 1` positions instead of the whole prompt (the bulk of the memory and time).
    """
    device = next(model.parameters()).device
    seqs = [list(s.prompt_ids) + list(s.completion_ids) for s in batch]
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, seq in enumerate(seqs):
        ids[row, width - len(seq) :] = torch.tensor(seq, dtype=torch.long)
        mask[row, width - len(seq) :] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    keep = max(len(s.completion_ids) for s in batch) + 1
    padded = {"attention_mask": mask.to(device), "position_ids": positions.to(device)}
    if all(len(s) == width for s in seqs):
        # No padding: no explicit mask, so SDPA can take its fused causal kernel instead of materialising
        # batch x heads x L x L attention weights for backward (tens of GB at L ~ 2,000 over 30 layers).
        padded = {}
    logits = model(input_ids=ids.to(device), use_cache=False, logits_to_keep=keep, **padded).logits
    out = []
    for row, sample in enumerate(batch):
        n = len(sample.completion_ids)
        step_logits = logits[row, keep - n - 1 : keep - 1].float()  # position t predicts token t+1
        target = torch.tensor(list(sample.completion_ids), dtype=torch.long, device=device)
        out.append(torch.log_softmax(step_logits, dim=-1).gather(-1, target[:, None]).squeeze(-1))
    return out


def distributed() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized() and \
        torch.distributed.get_world_size() > 1


def _all_reduce(tensor: torch.Tensor) -> torch.Tensor:
    """Sum over ranks in place (a no-op in a single process)."""
    if distributed():
        torch.distributed.all_reduce(tensor)
    return tensor


def token_logprobs(model: Any, samples: Sequence[Tokens], *, pad_id: int, micro_batch: int = 4) -> list[torch.Tensor]:
    """Per sample, the log-probs of its completion tokens given its prompt (grad follows the caller's mode)."""
    out: list[torch.Tensor] = []
    for i in range(0, len(samples), micro_batch):
        out.extend(_batch_logprobs(model, samples[i : i + micro_batch], pad_id))
    return out


@dataclass(frozen=True)
class GRPOConfig:
    beta: float = 0.1  # KL weight (paper: 0.1); 0 keeps no reference model at all
    clip_low: float = 0.2
    clip_high: float = 0.2
    lr: float = 1e-5
    micro_batch: int = 4
    max_grad_norm: float = 1.0
    lora: bool = False
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    seed: int = 0


class StepwiseGRPO:
    """One optimiser over per-step samples; the reference is the adapter-disabled model (LoRA) or a frozen copy."""

    def __init__(self, model: Any, config: GRPOConfig, *, pad_id: int) -> None:
        torch.manual_seed(config.seed)  # LoRA init and anything stochastic downstream
        self.config, self.pad_id, self.step = config, pad_id, 0
        self.reference: Any = None
        if config.lora:
            from benchmarks.errors import require

            peft = require("peft", "train")
            names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
            targets = [t for t in LORA_TARGETS if t in names]
            if not targets:
                raise ValueError(f"none of the LoRA target modules {LORA_TARGETS} exist in this model")
            lora = peft.LoraConfig(
                r=config.lora_r,
                lora_alpha=config.lora_alpha,
                lora_dropout=config.lora_dropout,
                target_modules=targets,
                task_type="CAUSAL_LM",
            )
            model = peft.get_peft_model(model, lora)
        elif config.beta > 0:
            self.reference = copy.deepcopy(model).eval().requires_grad_(False)
        self.model = model
        self.params = [p for p in model.parameters() if p.requires_grad]
        # No weight decay: it would pull the policy towards zero weights rather than towards the reference.
        self.optimizer = torch.optim.AdamW(self.params, lr=config.lr, weight_decay=0.0)

    def _reference_logprobs(self, batch: Sequence[StepSample]) -> list[torch.Tensor]:
        with torch.no_grad():
            if self.config.lora:
                was_training = self.model.training
                self.model.eval()
                with self.model.disable_adapter():
                    out = _batch_logprobs(self.model, batch, self.pad_id)
                self.model.train(was_training)
                return out
            return _batch_logprobs(self.reference, batch, self.pad_id)

    def policy_logprobs(self, samples: Sequence[Tokens]) -> list[tuple[float, ...]]:
        """Log-probs of the completions under the current policy (eval mode, no grad): the old log-probs."""
        self.model.eval()
        with torch.no_grad():
            lps = token_logprobs(self.model, samples, pad_id=self.pad_id, micro_batch=self.config.micro_batch)
        return [tuple(lp.tolist()) for lp in lps]

    def update(self, samples: Sequence[StepSample], advantages: Sequence[float]) -> dict[str, float]:
        """One optimiser step over all samples: accumulate micro-batch gradients, clip the norm, step.

        Data parallel (torch.distributed initialised, e.g. under torchrun): each rank passes its own samples (whole
        groups); the loss is normalised by the GLOBAL sample count and the summed gradients are all-reduced before
        clipping, so every rank takes the step one process would take on the union of the samples."""
        if len(samples) != len(advantages):
            raise ValueError(f"{len(samples)} samples but {len(advantages)} advantages")
        cfg = self.config
        kept = [(s, float(a)) for s, a in zip(samples, advantages, strict=True) if s.completion_ids]
        device = next(self.model.parameters()).device
        n = int(_all_reduce(torch.tensor([float(len(kept))], device=device))[0])
        sums: defaultdict[str, float] = defaultdict(float)
        self.model.train()  # configured dropout applies (none by default, so ratio == 1 on-policy)
        self.optimizer.zero_grad()
        for i in range(0, len(kept), cfg.micro_batch):
            chunk = kept[i : i + cfg.micro_batch]
            batch = [s for s, _ in chunk]
            ref = self._reference_logprobs(batch) if cfg.beta > 0 else None
            new = _batch_logprobs(self.model, batch, self.pad_id)
            total = new[0].new_zeros(())
            for j, (sample, adv) in enumerate(chunk):
                old = (new[j].detach() if sample.old_logprobs is None
                       else torch.tensor(sample.old_logprobs, dtype=torch.float32, device=new[j].device))
                ratio = torch.exp(new[j] - old)
                clipped = torch.clamp(ratio, 1 - cfg.clip_low, 1 + cfg.clip_high)
                policy = -torch.minimum(ratio * adv, clipped * adv)
                loss = policy
                if ref is not None:
                    log_rho = ref[j] - new[j]
                    kl = torch.exp(log_rho) - log_rho - 1  # k3: unbiased, always >= 0
                    loss = policy + cfg.beta * kl
                    sums["kl"] += float(kl.detach().sum())
                total = total + loss.mean() / n
                sums["policy_loss"] += float(policy.detach().mean()) / n
                sums["clipped"] += float(((ratio * adv) > (clipped * adv)).sum())  # the clipped term was taken
                sums["ratio"] += float(ratio.detach().sum())
                sums["tokens"] += ratio.numel()
            total.backward()
            sums["loss"] += float(total.detach())
        grad_norm = 0.0
        if n:
            if distributed():
                for p in self.params:  # a rank whose samples never touched p still joins the reduction
                    p.grad = torch.zeros_like(p) if p.grad is None else p.grad
                    _all_reduce(p.grad)
            grad_norm = float(torch.nn.utils.clip_grad_norm_(self.params, cfg.max_grad_norm))
            self.optimizer.step()
            self.step += 1
        self.model.eval()
        names = ("kl", "policy_loss", "clipped", "ratio", "tokens", "loss")  # the same on every rank
        totals = _all_reduce(torch.tensor([sums[k] for k in names] + [float(len(samples) - len(kept))],
                                          dtype=torch.float64, device=device)).tolist()
        sums = defaultdict(float, zip(names, totals, strict=False))
        tokens = max(sums["tokens"], 1.0)
        return {
            "loss": sums["loss"],
            "policy_loss": sums["policy_loss"],
            "kl": sums["kl"] / tokens,
            "clip_fraction": sums["clipped"] / tokens,
            "ratio_mean": sums["ratio"] / tokens,
            "tokens": sums["tokens"],
            "samples": float(n),
            "skipped_empty": totals[-1],
            "grad_norm": grad_norm,
            "step": float(self.step),
        }

    def policy_weights(self) -> Iterator[tuple[str, torch.Tensor]]:
        """The current policy as full weights under the base model's parameter names, for pushing into a rollout
        engine (vLLM) after each update. LoRA: W + its adapter delta, computed on the fly; the trained model is
        never merged in place (merge/unmerge would make the base weights drift by rounding at every sync)."""
        if not self.config.lora:
            yield from self.model.state_dict().items()
            return
        from peft.tuners.lora import LoraLayer

        base = self.model.get_base_model()
        deltas = {name: module for name, module in base.named_modules() if isinstance(module, LoraLayer)}
        with torch.no_grad():
            for key, tensor in base.state_dict().items():
                if ".lora_" in key:
                    continue
                module, _, leaf = key.rpartition(".base_layer.")
                if module:
                    lora = deltas[module]
                    if leaf == "weight":
                        tensor = tensor + sum(lora.get_delta_weight(a) for a in lora.active_adapters)
                    key = f"{module}.{leaf}"
                yield key, tensor

    def save(self, path: str | Path, tokenizer: Any = None) -> Path:
        """A plain model dir (LoRA merged into a copy) plus trainer_state.pt (optimiser, step, reference/adapter)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        state: dict[str, Any] = {
            "step": self.step,
            "config": asdict(self.config),
            "optimizer": self.optimizer.state_dict(),
        }
        if self.config.lora:
            from peft import get_peft_model_state_dict

            copy.deepcopy(self.model).merge_and_unload().save_pretrained(path)
            state["adapter"] = get_peft_model_state_dict(self.model)
        else:
            self.model.save_pretrained(path)
            if self.reference is not None:  # resuming from the saved weights must keep the ORIGINAL reference
                state["reference"] = self.reference.state_dict()
        if tokenizer is not None:
            tokenizer.save_pretrained(path)
        torch.save(state, path / STATE_FILE)
        return path

    def load_state(self, path: str | Path) -> None:
        """Resume: optimiser, step and reference (full) or adapter (LoRA; build the trainer on the ORIGINAL base)."""
        state = torch.load(Path(path) / STATE_FILE, map_location="cpu", weights_only=True)
        if self.config.lora:
            from peft import set_peft_model_state_dict

            set_peft_model_state_dict(self.model, state["adapter"])
        elif self.reference is not None and "reference" in state:
            self.reference.load_state_dict(state["reference"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
