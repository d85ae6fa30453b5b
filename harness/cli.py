"""`agemem-bench`: a deliberately small CLI. Settings beyond these flags go in a TOML config file."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.errors import SuiteError

TRAIN_DEFAULTS = Path(__file__).with_name("train.toml")  # the CPU-sized defaults of `agemem-bench train`

FULL_SETS_HINT = (
    "Full evaluation sets: agemem-bench run --preset full --data-dir <data> "
    "(or set AGEMEM_DATA); real models: --model vllm/<hf-id> on a GPU, or openai/<model>@<base_url>."
)


def _csv(kind: type) -> Any:
    def parse(text: str) -> tuple:
        try:
            return tuple(kind(part.strip()) for part in text.split(",") if part.strip())
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {kind.__name__}") from exc

    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agemem-bench", description="Benchmark suite for memory-managing LLM agents.")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run benchmarks x agents and publish the leaderboard (no flags: the main job)")
    run.add_argument("--preset", default="default", help="a built-in preset (see `agemem-bench list`)")
    run.add_argument("--config", help="a TOML file; its settings override the preset's")
    run.add_argument("-b", "--benchmarks", type=_csv(str), help="comma-separated benchmark names")
    run.add_argument("-a", "--agents", type=_csv(str), help="comma-separated agent names")
    run.add_argument("-m", "--model", help="policy model spec: transformers/<id|path>, vllm/<id>, openai/<model>@<url>")
    run.add_argument("--split", help="task split (default: each benchmark's evaluation split)")
    run.add_argument("--limit", type=int, help="first N tasks per benchmark")
    run.add_argument("--seeds", type=_csv(int), help="comma-separated seeds")
    run.add_argument("--max-steps", type=int, help="step cap per episode (default: the benchmark's)")
    run.add_argument("--concurrency", type=int, help="episodes played at once")
    run.add_argument("--threads", type=int, help="torch threads for in-process models")
    run.add_argument("--executor", choices=["local", "ray"], help="where episodes run: threads here (default) or "
                                                                  "Ray actors (pip install 'agemem-bench[ray]')")
    run.add_argument("--workers", type=int, help="Ray actors, each playing --concurrency episodes at a time")
    run.add_argument("--ray-address", help="a Ray cluster to join ('auto' = this node's); default: a local Ray")
    run.add_argument("--data-dir", help="data directory (default: $AGEMEM_DATA)")
    run.add_argument("--source", dest="data_source", choices=["auto", "data_dir", "hub", "fixture"])
    run.add_argument("--name", help="run name (prefix of the run id)")
    run.add_argument("--out", dest="out_dir", help="where run directories go (default: runs)")
    run.add_argument("--leaderboard-dir", help="where the leaderboard is published (default: leaderboards)")
    run.add_argument("--no-progress", dest="progress", action="store_false", default=None)

    train = sub.add_parser("train", help="step-wise GRPO training of AgeMem on HotpotQA's train split")
    train.add_argument("--config", help="a TOML file overriding harness/train.toml (see TrainConfig)")
    train.add_argument("-m", "--model", help="transformers/<id|path> to train")
    train.add_argument("--steps", type=int, help="GRPO steps")
    train.add_argument("--group-size", type=int, help="rollouts per question (the paper: 8)")
    train.add_argument("--data-dir", help="data directory (default: $AGEMEM_DATA)")
    train.add_argument("--out", dest="out_dir", help="output directory (default: runs/train); rerun to resume")
    train.add_argument("--eval", type=int, default=0, metavar="N",
                       help="then evaluate the checkpoint (agemem) vs the base model (agemem-norl) on N dev questions")

    serve = sub.add_parser("serve", help="serve a model spec as an OpenAI-compatible chat endpoint (what the memory "
                                         "baselines talk to; runs start their own per episode)")
    serve.add_argument("-m", "--model", default=None, help="model spec (default: the embedded SmolLM2)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--threads", type=int, default=1, help="torch threads for in-process models")

    score = sub.add_parser("score", help="re-score a finished run with another judge from its records (no episode "
                                         "is replayed) and publish that judge's rows")
    score.add_argument("run_dir", help="a run directory (runs/<run-id>)")
    score.add_argument("--judge", required=True, help="'lexical' or a model spec, e.g. openai/<model>@<base_url>")
    score.add_argument("--leaderboard-dir", type=Path, help="where to publish (default: the run's leaderboard_dir)")
    score.add_argument("--concurrency", type=int, default=4, help="judge calls at once")
    score.add_argument("--threads", type=int, default=1, help="torch threads for an in-process judge model")
    score.add_argument("--no-progress", dest="progress", action="store_false", default=True)

    board = sub.add_parser("leaderboard", help="check a leaderboard against a baseline (CI), or re-render its views")
    actions = board.add_subparsers(dest="action", required=True)
    check = actions.add_parser("check", help="exit 1 when a metric got worse beyond max(tolerance, baseline CI "
                                             "half-width) or a baseline row is missing (metrics/regression.py)")
    check.add_argument("--baseline", required=True, help="the reference CSV (e.g. leaderboards/ci-baseline.csv)")
    check.add_argument("--current", required=True, help="the CSV to check (a run's <leaderboard-dir>/results.csv)")
    check.add_argument("--tolerance", type=float, default=0.05, help="absolute, for rates in [0,1] (default 0.05)")
    check.add_argument("--relative-tolerance", type=float, default=0.10,
                       help="relative, for tokens, calls and counts (default 0.10)")
    check.add_argument("--metrics", type=_csv(str), help="comma-separated metrics to check (default: all with a "
                                                         "direction)")
    render = actions.add_parser("render", help="re-render schema.csv, results.md, results.html and plots/ from "
                                               "results.csv")
    render.add_argument("--dir", default="leaderboards", help="the leaderboard directory (default: leaderboards)")

    sub.add_parser("list", help="list benchmarks, agents, presets and model spec forms")
    return parser


def _train(args: argparse.Namespace) -> int:
    from agents.agemem.train.trainer import TrainConfig, train
    from harness.config import build_config, load_file
    from harness.runner import run

    layers = [load_file(TRAIN_DEFAULTS), load_file(args.config) if args.config else {}]
    flags = {"model": args.model, "steps": args.steps, "group_size": args.group_size, "data_dir": args.data_dir,
             "out_dir": args.out_dir}
    settings: dict[str, Any] = {}
    for layer in [*layers, flags]:
        settings.update({k: v for k, v in layer.items() if v is not None})
    config = TrainConfig.from_dict(settings)
    result = train(config)
    print(f"checkpoint: {result.checkpoint}")
    print(f"metrics: {result.metrics_csv} (curve: {result.out_dir / 'reward_curve.png'})")
    if args.eval and os.environ.get("RANK", "0") == "0":  # under torchrun only rank 0 evaluates
        evaluation = build_config({
            "name": "train-eval", "benchmarks": ["hotpotqa"], "agents": ["agemem", "agemem-norl"],
            "model": config.model, "model_options": config.model_options, "threads": config.threads,
            "split": config.eval_split, "limit": args.eval, "data_dir": config.data_dir,
            "data_source": config.data_source, "benchmark_options": {"hotpotqa": config.benchmark_options},
            "agent_options": {"agemem": {**config.agent_options, "checkpoint": f"transformers/{result.checkpoint}"},
                              "agemem-norl": config.agent_options},
            "out_dir": str(result.out_dir / "eval"), "leaderboard_dir": str(result.out_dir / "eval"),
        })
        outcome = run(evaluation)
        print(f"evaluation (agemem vs agemem-norl): {outcome.leaderboard_md}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from harness.config import build_config, load_file, load_preset
    from harness.runner import run

    flags = {k: v for k, v in vars(args).items() if k not in {"command", "preset", "config"}}
    layers = [load_preset(args.preset)]
    if args.config:
        layers.append(load_file(args.config))
    config = build_config(*layers, flags)
    result = run(config)
    print(f"episodes: {result.episodes} ({result.new_episodes} new, {result.errors} failed)")
    print(f"run records: {result.run_dir}")
    print(f"leaderboard: {result.leaderboard_csv} (table: {result.leaderboard_md})")
    print(FULL_SETS_HINT)
    return 1 if result.errors else 0


def _serve(args: argparse.Namespace) -> int:
    from agents.llm.batching import BatchingModel
    from agents.llm.serve import serve_forever
    from agents.llm.spec import EMBEDDED_MODEL_SPEC, load_model

    if not 0 <= args.port <= 65535:
        raise SuiteError(f"serve: --port must be 0-65535, got {args.port}")
    model = BatchingModel(load_model(args.model or EMBEDDED_MODEL_SPEC, threads=args.threads), max_batch=8)
    try:
        serve_forever(model, args.host, args.port)
    except OSError as exc:
        raise SuiteError(f"serve: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    return 0


def _score(args: argparse.Namespace) -> int:
    from harness.runner import rescore

    result = rescore(Path(args.run_dir), args.judge, leaderboard_dir=args.leaderboard_dir,
                     concurrency=args.concurrency, threads=args.threads, progress=args.progress)
    print(f"judge {result.judge}: {result.judged} of {result.episodes} episodes judged "
          f"({result.calls_made} judgments made, {result.cached} cached, {result.missing} missing)")
    if result.errors:
        print(f"{result.errors} judge calls failed (first: {result.first_error}); rerun to retry them",
              file=sys.stderr)
    print(f"leaderboard: {result.leaderboard_csv} (table: {result.leaderboard_md})")
    return 1 if result.errors else 0


def _leaderboard(args: argparse.Namespace) -> int:
    if args.action == "check":
        from metrics.regression import check

        return check(Path(args.baseline), Path(args.current), tolerance=args.tolerance,
                     relative_tolerance=args.relative_tolerance, metrics=args.metrics)
    from metrics.leaderboard import render_views

    written = render_views(Path(args.dir))
    print("rendered:", ", ".join(str(p) for p in written.values()), f"and {Path(args.dir) / 'plots'}/")
    return 0


def _list(_args: argparse.Namespace) -> int:
    from agents.builtin import AGENTS
    from benchmarks.builtin import BENCHMARKS
    from harness.config import presets

    print("benchmarks:", ", ".join(BENCHMARKS.names()))
    print("agents:    ", ", ".join(AGENTS.names()), "(or a plug-in: package.module:Factory)")
    print("presets:   ", ", ".join(presets()))
    print("models:     transformers/smollm2-135m-instruct-q4_1 (embedded, default), transformers/<hf-id|path>, "
          "vllm/<hf-id|path>, openai/<model>@<base_url>[,<base_url>...]")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = _parser().parse_args(argv)
    try:
        return {"run": _run, "train": _train, "serve": _serve, "score": _score, "leaderboard": _leaderboard,
                "list": _list}[args.command](args)
    except SuiteError as exc:
        print(f"agemem-bench: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("agemem-bench: interrupted; finished episodes are saved, rerun the same command to resume",
              file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(130)  # don't wait for episodes in flight: their records were never written


if __name__ == "__main__":
    raise SystemExit(main())
