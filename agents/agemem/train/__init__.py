"""Training of the AgeMem policy: step-wise GRPO on per-step samples of grouped rollouts."""
