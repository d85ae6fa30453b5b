"""What do Ray workers cost and buy? The same run on threads and on Ray actors, side by side, records compared.

The model is the soak's deterministic policy (perf/soak_kill.py SoakModel) served over HTTP with a fixed latency
per call (`--latency`, as a remote vLLM server would have), so the figures measure the harness and its executor, not
a model. Each configuration runs the same episodes (nomem on the PDDL and HotpotQA fixtures, `--seeds` seeds) into
its own folder; the script prints wall time, episodes per second, the ratio to the first configuration, and
whether every record equals the first configuration's (timing fields and `worker` left out). Ray start-up (local
cluster, actors loading the benchmarks) is timed separately from the episodes.

    python perf/executor_throughput.py [--seeds 4] [--latency 0.05] [--configs local:8,ray:1x8,ray:2x4,ray:2x8]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

import soak_kill as soak  # noqa: E402

from harness.config import build_config  # noqa: E402
from harness.runner import run  # noqa: E402


class FixedLatencyModel(soak.SoakModel):
    """The soak's replies, each after exactly `latency` seconds (no randomness in the timing)."""

    def __init__(self, latency: float) -> None:
        super().__init__(max_sleep_s=0.0)
        self.latency = latency

    def generate(self, requests: Any) -> list[Any]:
        time.sleep(self.latency)
        return super().generate(requests)


def parse(config: str) -> tuple[str, int, int]:
    """"local:8" -> ("local", 1, 8); "ray:2x4" -> ("ray", 2, 4)."""
    kind, _, shape = config.partition(":")
    workers, _, concurrency = shape.rpartition("x")
    return kind, int(workers or 1), int(concurrency)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4, help="16 fixture episodes per seed")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per model call")
    parser.add_argument("--configs", default="local:8,ray:1x8,ray:2x4,ray:2x8")
    args = parser.parse_args()

    import ray

    from agents.llm.serve import OpenAIServer

    server = OpenAIServer(FixedLatencyModel(args.latency), model_name="soak").start()
    ray.init(num_cpus=8, include_dashboard=False, logging_level="ERROR")
    rows, first = [], None
    try:
        with tempfile.TemporaryDirectory(prefix="executor-throughput-") as tmp:
            for i, spec in enumerate(args.configs.split(",")):
                kind, workers, concurrency = parse(spec)
                out = Path(tmp) / str(i)
                layer = soak.config_layer(out, args.seeds, max_steps=8, concurrency=concurrency)
                layer.update(model=f"openai/soak@{server.base_url}", executor=kind, workers=workers,
                             model_options={"concurrency": concurrency})  # the client never caps the slots
                started = time.perf_counter()
                lines: list[float] = []
                result = run(build_config(layer), log=lambda _: lines.append(time.perf_counter()))
                total = time.perf_counter() - started
                episodes_s = total - (lines[0] - started)  # from the first episode's start to the leaderboard
                records = soak.strict_jsonl(result.run_dir / "episodes.jsonl")
                same = None
                if first is None:
                    first = {r["key"]: soak._untimed(r) for r in records}
                else:
                    same = all(first.get(r["key"]) == soak._untimed(r) for r in records) and len(records) == len(first)
                rows.append((spec, len(records), lines[0] - started, episodes_s, len(records) / episodes_s, same))
    finally:
        ray.shutdown()
        server.close()
    base = rows[0][4]
    print(f"{'config':>10} {'episodes':>9} {'start s':>8} {'run s':>7} {'ep/s':>6} {'vs first':>9} same records")
    for spec, n, start_s, run_s, rate, same in rows:
        print(f"{spec:>10} {n:>9} {start_s:>8.1f} {run_s:>7.1f} {rate:>6.2f} {rate / base:>8.2f}x "
              f"{'-' if same is None else same}")
    return 0 if all(same in (None, True) for *_, same in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
