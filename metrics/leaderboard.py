"""The leaderboard: one long CSV (a row per metric) and a markdown view rendered from it.

Every row says which run, commit, model, judge and data produced it, so a number can always be traced back.
Publishing a run replaces that run's earlier rows and keeps everyone else's.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

COLUMNS = (
    "benchmark", "split", "agent", "model", "metric", "value", "ci_low", "ci_high", "n",
    "judge", "data_source", "run_id", "commit", "date",
)

# (metric, column title, scale) for the markdown view; rates are shown x100 like the paper.
SUMMARY = (
    ("success_rate", "success %", 100.0),
    ("progress_rate", "progress %", 100.0),
    ("exact_match", "EM %", 100.0),
    ("f1", "F1 %", 100.0),
    ("grounding_accuracy", "grounding %", 100.0),
    ("policy_prompt_tokens", "policy prompt tok/ep", 1.0),
    ("policy_completion_tokens", "policy completion tok/ep", 1.0),
    ("memory_prompt_tokens", "memory prompt tok/ep", 1.0),
    ("memory_completion_tokens", "memory completion tok/ep", 1.0),
    ("total_tokens", "all tok/ep", 1.0),
    ("llm_calls", "LLM calls/ep (all roles)", 1.0),
    ("wall_seconds", "s/ep", 1.0),
)

HONESTY_NOTE = (
    "Scores from the embedded SmolLM2-135M-Instruct (Q4_1) only show that the pipeline runs end to end; "
    "they do not reproduce the paper, which used Qwen2.5-7B-Instruct and Qwen3-4B-Instruct with a Qwen-Max judge."
)


def publish(rows: Iterable[Mapping[str, Any]], directory: Path) -> tuple[Path, Path]:
    """Merge `rows` into `results.csv` (replacing rows of the same runs) and re-render `results.md`."""
    import pandas as pd

    directory.mkdir(parents=True, exist_ok=True)
    csv_path = directory / "results.csv"
    new = pd.DataFrame(list(rows), columns=list(COLUMNS))
    if csv_path.exists():
        old = pd.read_csv(csv_path, dtype={"run_id": str, "commit": str})
        old = old[~old["run_id"].isin(set(new["run_id"]))]
        table = pd.concat([old, new], ignore_index=True) if len(old) else new
    else:
        table = new
    table = table.sort_values(["benchmark", "split", "agent", "model", "run_id", "metric"], kind="stable")
    tmp = csv_path.with_name(f".{csv_path.name}.tmp")
    table.to_csv(tmp, index=False, float_format="%.6g")
    os.replace(tmp, csv_path)
    md_path = directory / "results.md"
    tmp = md_path.with_name(f".{md_path.name}.tmp")
    tmp.write_text(render_markdown(table))
    os.replace(tmp, md_path)
    return csv_path, md_path


def render_markdown(table: Any) -> str:
    """A wide view: one line per (benchmark, split, agent, model, run), the summary metrics as columns."""
    lines = ["# Leaderboard", "", f"> {HONESTY_NOTE}", "",
             "Values: mean over episodes [95% bootstrap CI]; rates x100. Source of truth: `results.csv`.", ""]
    present = [(m, title, scale) for m, title, scale in SUMMARY if m in set(table["metric"])]
    header = ["benchmark", "split", "agent", "model", "n", *[title for _, title, _ in present],
              "judge", "data", "run"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    keys = ["benchmark", "split", "agent", "model", "run_id"]
    for group, frame in table.groupby(keys, sort=True):
        by_metric = {row.metric: row for row in frame.itertuples()}
        first = frame.iloc[0]
        cells = [*map(str, group[:4]), str(int(max(frame["n"])))]
        for metric, _, scale in present:
            row = by_metric.get(metric)
            cells.append("" if row is None else _fmt(row.value, row.ci_low, row.ci_high, scale))
        cells += [str(first["judge"]), str(first["data_source"]), str(group[4])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _fmt(value: float, low: float, high: float, scale: float) -> str:
    digits = 1 if scale == 100.0 or abs(value) >= 10 else 2
    if low == high:
        return f"{value * scale:.{digits}f}"
    return f"{value * scale:.{digits}f} [{low * scale:.{digits}f}, {high * scale:.{digits}f}]"
