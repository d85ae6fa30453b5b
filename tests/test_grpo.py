"""Step-wise GRPO: advantages, loss masking, clipping, KL, batching, determinism, save/resume, LoRA, learning."""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from agents.agemem.train.grpo import (
    GRPOConfig,
    StepSample,
    StepwiseGRPO,
    broadcast_advantages,
    group_advantages,
    token_logprobs,
)


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def load(path: Path) -> torch.nn.Module:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()


@pytest.fixture(scope="module")
def base(tiny_model_dir: Path) -> torch.nn.Module:
    return load(tiny_model_dir)


@pytest.fixture
def model(base: torch.nn.Module) -> torch.nn.Module:
    return copy.deepcopy(base)


PAD = 2
SHAPES = [(3, 4), (7, 1), (5, 6), (2, 3), (6, 2), (4, 5)]  # (prompt length, completion length) per step sample
TRAJECTORIES = ["a0", "a0", "a1", "b0", "b1", "b1"]  # group a: a0 (2 steps), a1; group b: b0, b1 (2 steps)
REWARDS = {"a0": 1.0, "a1": 0.0, "b0": 0.2, "b1": 0.7}


def pairs(seed: int = 0) -> list[SimpleNamespace]:
    gen = torch.Generator().manual_seed(seed)
    return [
        SimpleNamespace(
            prompt_ids=tuple(torch.randint(100, 5000, (p,), generator=gen).tolist()),
            completion_ids=tuple(torch.randint(100, 5000, (c,), generator=gen).tolist()),
        )
        for p, c in SHAPES
    ]


def on_policy(model: torch.nn.Module, shift: float = 0.0) -> list[StepSample]:
    """The fixed pairs with old log-probs from `model` (+ shift), grouped as TRAJECTORIES."""
    ps = pairs()
    with torch.no_grad():
        old = token_logprobs(model, ps, pad_id=PAD)
    return [
        StepSample(p.prompt_ids, p.completion_ids, tuple((lp + shift).tolist()), t, t[0])
        for p, lp, t in zip(ps, old, TRAJECTORIES, strict=True)
    ]


def params(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.named_parameters()}


# --- advantages ---------------------------------------------------------------------------------------------------


def test_group_advantages_known_values_with_unbiased_std() -> None:
    assert group_advantages([1.0, 2.0, 3.0]) == pytest.approx([-1.0, 0.0, 1.0], abs=1e-5)
    # mean 0.25, std (ddof=1) = sqrt(0.75 / 3) = 0.5
    assert group_advantages([1.0, 0.0, 0.0, 0.0]) == pytest.approx([1.5, -0.5, -0.5, -0.5], abs=1e-5)
    assert group_advantages([1.0, 0.0, 0.0, 0.0], eps=0.5) == pytest.approx([0.75, -0.25, -0.25, -0.25])


def test_degenerate_groups_give_zero_advantage() -> None:
    assert group_advantages([0.1] * 3) == [0.0, 0.0, 0.0]  # mean of 0.1s is not exactly 0.1: no tiny noise
    assert group_advantages([1.0] * 8) == [0.0] * 8
    assert group_advantages([0.7]) == [0.0]
    assert group_advantages([]) == []


def test_advantage_is_broadcast_to_every_step_and_groups_are_separate() -> None:
    samples = [StepSample((1,), (2,), (0.0,), t, t[0]) for t in TRAJECTORIES]
    a = group_advantages([1.0, 0.0])
    b = group_advantages([0.2, 0.7])
    expected = [a[0], a[0], a[1], b[0], b[1], b[1]]
    rewards = {**REWARDS, "c0": 5.0}  # a trajectory without samples is fine
    assert broadcast_advantages(samples, rewards) == pytest.approx(expected)
    assert expected[0] == pytest.approx(1 / math.sqrt(2), abs=1e-5)
    with pytest.raises(ValueError, match="no reward"):
        broadcast_advantages(samples, {"a0": 1.0})
    with pytest.raises(ValueError, match="two groups"):
        broadcast_advantages([*samples, StepSample((1,), (2,), (0.0,), "a0", "b")], REWARDS)


def test_step_sample_validates_lengths() -> None:
    with pytest.raises(ValueError, match="old log-probs"):
        StepSample((1, 2), (3, 4), (0.0,), "t", "g")
    with pytest.raises(ValueError, match="prompt"):
        StepSample((), (3,), (0.0,), "t", "g")


# --- log-probs and masking ----------------------------------------------------------------------------------------


def test_batched_token_logprobs_equal_unbatched(model: torch.nn.Module) -> None:
    ps = pairs()
    with torch.no_grad():
        batched = token_logprobs(model, ps, pad_id=PAD, micro_batch=4)
        other_pad = token_logprobs(model, ps, pad_id=7, micro_batch=6)
        single = []
        for p in ps:  # unbatched, written out: no padding at all
            ids = torch.tensor([list(p.prompt_ids) + list(p.completion_ids)])
            logp = torch.log_softmax(model(ids).logits[0], -1)
            n = len(p.prompt_ids)
            single.append(torch.stack([logp[n - 1 + i, t] for i, t in enumerate(p.completion_ids)]))
    for b, o, s, (_, c) in zip(batched, other_pad, single, SHAPES, strict=True):
        assert b.shape == (c,)
        assert torch.allclose(b, s, atol=1e-5) and torch.allclose(o, s, atol=1e-5)


def test_loss_only_touches_completion_predictions(model: torch.nn.Module) -> None:
    samples = on_policy(model)
    grads: list[torch.Tensor] = []

    def keep_logits_grad(_module: object, _inputs: object, logits: torch.Tensor) -> None:
        if logits.requires_grad:  # the policy pass (the trainer has no reference pass at beta 0)
            logits.register_hook(grads.append)

    model.lm_head.register_forward_hook(keep_logits_grad)
    trainer = StepwiseGRPO(model, GRPOConfig(beta=0.0, micro_batch=len(samples)), pad_id=PAD)
    trainer.update(samples, broadcast_advantages(samples, REWARDS))
    (grad,) = grads
    keep = max(c for _, c in SHAPES) + 1  # logits are only computed for the last positions (left padding)
    assert grad.shape[1] == keep
    used = torch.zeros(grad.shape[:2], dtype=torch.bool)
    for row, (_, c) in enumerate(SHAPES):
        used[row, keep - c - 1 : keep - 1] = True  # the positions that predict completion tokens
    assert grad[~used].abs().max() == 0  # prompt, last token and padding positions: no gradient
    assert grad[used].abs().amax(-1).min() > 0


def test_loss_does_not_depend_on_padding_or_micro_batching(base: torch.nn.Module) -> None:
    samples = on_policy(base)
    adv = broadcast_advantages(samples, REWARDS)
    stats = []
    for micro, pad in ((1, PAD), (len(samples), PAD), (4, 9)):
        trainer = StepwiseGRPO(copy.deepcopy(base), GRPOConfig(beta=0.1, micro_batch=micro, lr=1e-3), pad_id=pad)
        trainer.update(samples, adv)
        stats.append(trainer.update(samples, adv))  # second step: ratio != 1, kl != 0
    for key in ("loss", "policy_loss", "kl", "ratio_mean", "grad_norm"):
        assert stats[1][key] == pytest.approx(stats[0][key], rel=1e-4, abs=1e-7)
        assert stats[2][key] == pytest.approx(stats[0][key], rel=1e-4, abs=1e-7)
    assert stats[0]["tokens"] == sum(c for _, c in SHAPES) and stats[0]["samples"] == len(SHAPES)


def test_zero_advantage_without_kl_gives_no_gradient(model: torch.nn.Module) -> None:
    samples = on_policy(model)
    before = params(model)
    trainer = StepwiseGRPO(model, GRPOConfig(beta=0.0, lr=1e-2), pad_id=PAD)
    stats = trainer.update(samples, [0.0] * len(samples))
    assert stats["grad_norm"] == 0 and stats["loss"] == 0
    assert all(torch.equal(before[k], v) for k, v in params(model).items())


def test_empty_completions_are_skipped_and_counted(model: torch.nn.Module) -> None:
    samples = [*on_policy(model), StepSample((5, 6), (), (), "a1", "a")]
    stats = StepwiseGRPO(model, GRPOConfig(beta=0.0), pad_id=PAD).update(samples, [1.0] * len(samples))
    assert stats["skipped_empty"] == 1 and stats["samples"] == len(SHAPES)
    nothing = StepwiseGRPO(model, GRPOConfig(beta=0.0), pad_id=PAD).update([samples[-1]], [1.0])
    assert nothing["samples"] == 0 and nothing["step"] == 0


# --- clipping and KL ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("shift", "sign"), [(-5.0, 1.0), (5.0, -1.0)])
def test_clipped_ratio_stops_the_policy_gradient(model: torch.nn.Module, shift: float, sign: float) -> None:
    # old far below new with A > 0 (ratio e^5 > 1.2), or far above with A < 0 (ratio e^-5 < 0.8): clipped term.
    samples = on_policy(model, shift=shift)
    stats = StepwiseGRPO(model, GRPOConfig(beta=0.0), pad_id=PAD).update(samples, [sign] * len(samples))
    assert stats["clip_fraction"] == 1.0 and stats["grad_norm"] == 0.0
    assert stats["ratio_mean"] == pytest.approx(math.exp(-shift), rel=1e-4)
    assert stats["policy_loss"] == pytest.approx(-sign * (1 + 0.2 * sign), rel=1e-6)


def test_unclipped_side_keeps_its_gradient(model: torch.nn.Module) -> None:
    samples = on_policy(model, shift=5.0)  # ratio e^-5 with A > 0: min picks the unclipped r*A
    stats = StepwiseGRPO(model, GRPOConfig(beta=0.0), pad_id=PAD).update(samples, [1.0] * len(samples))
    assert stats["clip_fraction"] == 0.0 and stats["grad_norm"] > 0


def test_kl_is_zero_at_the_reference_and_grows_after_updates(base: torch.nn.Module) -> None:
    samples = on_policy(base)
    adv = broadcast_advantages(samples, REWARDS)
    plain = StepwiseGRPO(copy.deepcopy(base), GRPOConfig(beta=0.0, lr=1e-3), pad_id=PAD)
    assert plain.reference is None
    first_plain = plain.update(samples, adv)
    trainer = StepwiseGRPO(copy.deepcopy(base), GRPOConfig(beta=0.1, lr=1e-3), pad_id=PAD)
    first = trainer.update(samples, adv)
    assert first["kl"] == 0.0 and first["loss"] == pytest.approx(first_plain["loss"], abs=1e-7)
    assert first["ratio_mean"] == pytest.approx(1.0) and first["clip_fraction"] == 0.0
    later = [trainer.update(samples, adv) for _ in range(3)][-1]
    assert later["kl"] > 1e-6 and later["loss"] != later["policy_loss"]


# --- determinism, save and resume ---------------------------------------------------------------------------------


def train(model: torch.nn.Module, steps: int, **config: object) -> StepwiseGRPO:
    samples = on_policy(model)
    trainer = StepwiseGRPO(model, GRPOConfig(lr=1e-3, **config), pad_id=PAD)  # type: ignore[arg-type]
    for _ in range(steps):
        trainer.update(samples, broadcast_advantages(samples, REWARDS))
    return trainer


def test_missing_old_logprobs_mean_on_policy(tiny_model_dir: Path) -> None:
    """old_logprobs=None (one update right after sampling) trains exactly like recomputed old log-probs."""
    explicit, implicit = (StepwiseGRPO(load(tiny_model_dir), GRPOConfig(lr=1e-3), pad_id=PAD) for _ in range(2))
    samples = on_policy(explicit.model)
    stats = explicit.update(samples, broadcast_advantages(samples, REWARDS))
    bare = [dataclasses.replace(s, old_logprobs=None) for s in samples]
    bare_stats = implicit.update(bare, broadcast_advantages(bare, REWARDS))
    assert bare_stats["ratio_mean"] == 1.0 and stats["ratio_mean"] == pytest.approx(1.0)
    assert bare_stats["loss"] == pytest.approx(stats["loss"], abs=1e-6)
    for a, b in zip(explicit.model.parameters(), implicit.model.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    assert not torch.allclose(next(implicit.model.parameters()), next(load(tiny_model_dir).parameters()))


def test_same_seed_same_parameters(tiny_model_dir: Path) -> None:
    one, two = train(load(tiny_model_dir), 3).model, train(load(tiny_model_dir), 3).model
    assert all(torch.equal(a, b) for a, b in zip(one.parameters(), two.parameters(), strict=True))
    assert not torch.equal(next(one.parameters()), next(load(tiny_model_dir).parameters()))


def test_save_and_resume_equals_training_straight(tiny_model_dir: Path, tmp_path: Path) -> None:
    straight = train(load(tiny_model_dir), 3)
    first = train(load(tiny_model_dir), 2)
    saved = first.save(tmp_path / "ckpt")
    samples = on_policy(load(tiny_model_dir))  # the old log-probs of the original policy, as in `train`
    resumed = StepwiseGRPO(load(saved), GRPOConfig(lr=1e-3), pad_id=PAD)
    resumed.load_state(saved)
    assert resumed.step == 2
    resumed.update(samples, broadcast_advantages(samples, REWARDS))
    assert resumed.step == 3
    for (name, a), b in zip(straight.model.named_parameters(), resumed.model.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6), name
    for a, b in zip(straight.reference.parameters(), resumed.reference.parameters(), strict=True):
        assert torch.equal(a, b)  # the original reference, not the saved policy


# --- LoRA ---------------------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing.*:FutureWarning")  # peft calling transformers
def test_lora_trains_only_adapters_against_the_disabled_adapter(tiny_model_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("peft")
    model = load(tiny_model_dir)
    samples = on_policy(model)
    adv = broadcast_advantages(samples, REWARDS)
    trainer = StepwiseGRPO(model, GRPOConfig(beta=0.1, lr=1e-2, lora=True), pad_id=PAD)
    trainable = [n for n, p in trainer.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    assert {n.split(".")[-4] for n in trainable} >= {"q_proj", "v_proj", "down_proj"}
    assert trainer.reference is None  # no second copy
    first = trainer.update(samples, adv)
    assert first["kl"] == 0.0 and first["ratio_mean"] == pytest.approx(1.0)
    later = [trainer.update(samples, adv) for _ in range(2)][-1]
    assert later["kl"] > 1e-6
    saved = trainer.save(tmp_path / "merged")
    merged = load(saved)
    assert not any("lora" in n for n, _ in merged.named_parameters())
    with torch.no_grad():
        ours = trainer.policy_logprobs(samples)
        theirs = token_logprobs(merged, samples, pad_id=PAD)
    for a, b in zip(ours, theirs, strict=True):
        assert torch.allclose(torch.tensor(a), b, atol=1e-5)
    base = load(tiny_model_dir)
    with torch.no_grad():
        assert not torch.allclose(token_logprobs(base, samples, pad_id=PAD)[0], theirs[0], atol=1e-4)


@pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing.*:FutureWarning")
def test_lora_resume_from_the_original_base(tiny_model_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("peft")
    straight = train(load(tiny_model_dir), 3, lora=True)
    first = train(load(tiny_model_dir), 2, lora=True)
    saved = first.save(tmp_path / "ckpt")
    samples = on_policy(load(tiny_model_dir))
    resumed = StepwiseGRPO(load(tiny_model_dir), GRPOConfig(lr=1e-3, lora=True), pad_id=PAD)
    resumed.load_state(saved)
    resumed.update(samples, broadcast_advantages(samples, REWARDS))
    for a, b in zip(straight.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)


@pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing.*:FutureWarning")
@pytest.mark.parametrize("lora", [False, True])
def test_policy_weights_are_the_merged_model_and_leave_it_untouched(tiny_model_dir: Path, lora: bool) -> None:
    """What a rollout engine (vLLM) receives after an update: the merged policy under the base model's names."""
    if lora:
        pytest.importorskip("peft")
    trainer = StepwiseGRPO(load(tiny_model_dir), GRPOConfig(beta=0.0, lr=1e-2, lora=lora), pad_id=PAD)
    samples = on_policy(trainer.model)
    for _ in range(2):
        trainer.update(samples, broadcast_advantages(samples, REWARDS))
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    pushed = dict(trainer.policy_weights())
    expected = (copy.deepcopy(trainer.model).merge_and_unload() if lora else trainer.model).state_dict()
    assert set(pushed) == set(expected) == set(load(tiny_model_dir).state_dict())
    for name, tensor in expected.items():
        assert torch.allclose(pushed[name], tensor, atol=1e-6), name
    changed = [n for n, t in pushed.items() if not torch.equal(t, load(tiny_model_dir).state_dict()[n])]
    assert changed  # the update is in what gets pushed
    assert all(torch.equal(v, trainer.model.state_dict()[k]) for k, v in before.items())  # nothing merged in place


# --- learnable signal ---------------------------------------------------------------------------------------------

# Two new tokens, not four: the tiny model ties input and output embeddings, so the advantage given to the later
# (reward-irrelevant) tokens leaks into the first-token distribution as noise. Measured over 8 sampler seeds at
# beta 0: 2 tokens reached the threshold by step 11-32 every time; 4 tokens missed it within 60 steps for some seeds.
GROUP, MAX_NEW, MAX_STEPS, LEARN_LR = 8, 2, 60, 5e-3


@pytest.mark.parametrize("beta", [0.0, 0.1])
def test_reward_rises_on_a_toy_task(tiny_model_dir: Path, beta: float) -> None:
    """Reward 1 when the first sampled token is in a target set holding ~10% of the initial probability."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = load(tiny_model_dir)
    prompt = tuple(tokenizer("Choose a tool:")["input_ids"])
    with torch.no_grad():
        probs = torch.softmax(model(torch.tensor([prompt])).logits[0, -1], -1)
    ranked, order = probs.sort(descending=True)
    k = int((ranked.cumsum(0) < 0.1).sum()) + 1
    target, p0 = set(order[:k].tolist()), float(ranked[:k].sum())
    assert 0.05 <= p0 <= 0.2
    trainer = StepwiseGRPO(model, GRPOConfig(beta=beta, lr=LEARN_LR, micro_batch=GROUP), pad_id=tokenizer.pad_token_id)
    gen = torch.Generator().manual_seed(0)
    curve: list[float] = []
    start = time.perf_counter()
    for step in range(MAX_STEPS):
        ids = torch.tensor([prompt] * GROUP)
        with torch.no_grad():
            for _ in range(MAX_NEW):  # temperature-1 sampling, full forward each token (tiny model)
                probs = torch.softmax(model(ids).logits[:, -1].float(), -1)
                ids = torch.cat([ids, torch.multinomial(probs, 1, generator=gen)], 1)
        completions = [SimpleNamespace(prompt_ids=prompt, completion_ids=tuple(r[len(prompt) :].tolist())) for r in ids]
        old = trainer.policy_logprobs(completions)
        samples = [
            StepSample(prompt, c.completion_ids, lp, f"{step}-{i}", str(step))
            for i, (c, lp) in enumerate(zip(completions, old, strict=True))
        ]
        rewards = {s.trajectory_id: float(s.completion_ids[0] in target) for s in samples}
        trainer.update(samples, broadcast_advantages(samples, rewards))
        curve.append(sum(rewards.values()) / GROUP)
        if len(curve) >= 5 and sum(curve[-5:]) / 5 >= max(0.8, p0 + 0.5):
            break
    print(f"\nbeta={beta} p0={p0:.3f} ({k} tokens) {time.perf_counter() - start:.1f}s reward per step:")
    print(" ".join(f"{r:.2f}" for r in curve))
    last = sum(curve[-5:]) / 5
    assert last >= 0.8 and last >= p0 + 0.5, curve


# --- data parallel ------------------------------------------------------------------------------------------------


def _rank_update(rank: int, world: int, model_dir: str, init: str, out: str) -> None:
    """One rank of a 2-process gloo group: update on its own group of samples, rank 0 saves the result."""
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        model = load(Path(model_dir))
        samples = on_policy(model)
        mine = [s for s in samples if s.group_id == "ab"[rank]]  # whole groups per rank
        trainer = StepwiseGRPO(model, GRPOConfig(lr=1e-3), pad_id=PAD)
        for _ in range(2):
            stats = trainer.update(mine, broadcast_advantages(mine, REWARDS))
        if rank == 0:
            torch.save({"params": params(trainer.model), "stats": stats}, out)
    finally:
        torch.distributed.destroy_process_group()


def test_data_parallel_update_equals_one_process_on_all_samples(tiny_model_dir: Path, tmp_path: Path) -> None:
    import torch.multiprocessing as mp

    out = tmp_path / "rank0.pt"
    mp.spawn(_rank_update, args=(2, str(tiny_model_dir), f"file://{tmp_path / 'rendezvous'}", str(out)), nprocs=2)
    parallel = torch.load(out, weights_only=True)
    single = train(load(tiny_model_dir), 2)
    samples = on_policy(load(tiny_model_dir))
    for name, value in params(single.model).items():
        assert torch.allclose(parallel["params"][name], value, atol=1e-6), name
    assert parallel["stats"]["samples"] == len(samples)
    assert not torch.allclose(parallel["params"]["model.embed_tokens.weight"],
                              load(tiny_model_dir).model.embed_tokens.weight)
