"""PNG plots of the leaderboard (matplotlib, Agg): score vs tokens per agent, and per-benchmark bars with CIs.

Figures are built with matplotlib's object API (no pyplot global state, safe beside running episodes) and saved
without the version stamp in the PNG metadata, so the same CSV gives the same bytes with the same matplotlib.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from metrics.render import PLOTS, Headline, benchmark_columns, headlines
from metrics.schema import BENCHMARK_TITLES, METRIC_ABBREVIATIONS

COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
          "#17becf")


def _label(agent: str, model: str, several_models: bool) -> str:
    return f"{agent} ({model.rsplit('/', 1)[-1]})" if several_models else agent


def _tokens(table: Any, heads: dict[tuple[str, str], dict[str, Headline]]) -> dict[tuple[str, str, str], float]:
    """(agent, model, benchmark) -> total tokens per episode, from the run that gave the headline number."""
    rows = table[table["metric"] == "total_tokens"]
    out: dict[tuple[str, str, str], float] = {}
    for (agent, model), by_benchmark in heads.items():
        for benchmark, head in by_benchmark.items():
            match = rows[(rows["agent"] == agent) & (rows["model"] == model) & (rows["run_id"] == head.run_id)
                         & (rows["benchmark"].astype(str) == benchmark)]
            if len(match):
                out[(agent, model, benchmark)] = float(match.sort_values("n", ascending=False).iloc[0]["value"])
    return out


def render_plots(table: Any, directory: Path) -> tuple[str, ...]:
    """Write plots/*.png under `directory`; returns the file names written."""
    from matplotlib.figure import Figure

    heads = headlines(table)
    benchmarks = [b for b in benchmark_columns(table) if any(b in h for h in heads.values())]
    if not benchmarks:
        return ()
    keys = sorted(heads)
    several = len({model for _, model in keys}) > 1
    colors = {key: COLORS[i % len(COLORS)] for i, key in enumerate(keys)}
    tokens = _tokens(table, heads)
    out = directory / "plots"
    out.mkdir(parents=True, exist_ok=True)
    width = 4.2 * len(benchmarks)

    scatter = Figure(figsize=(max(5.0, width), 3.8), dpi=100)
    bars = Figure(figsize=(max(5.0, width), 3.8), dpi=100)
    axes_s = scatter.subplots(1, len(benchmarks), squeeze=False)[0]
    axes_b = bars.subplots(1, len(benchmarks), squeeze=False)[0]
    for ax_s, ax_b, benchmark in zip(axes_s, axes_b, benchmarks, strict=True):
        present = [k for k in keys if benchmark in heads[k]]
        metric_names = sorted({heads[k][benchmark].metric for k in present})
        ylabel = "/".join(METRIC_ABBREVIATIONS.get(m, m) for m in metric_names) + " x100"
        title = BENCHMARK_TITLES.get(benchmark, benchmark)
        for index, key in enumerate(present):
            head = heads[key][benchmark]
            value, low, high = head.value * 100, head.ci_low * 100, head.ci_high * 100
            error = [[max(0.0, value - low)], [max(0.0, high - value)]]
            label = _label(*key, several)
            ax_b.bar(index, value, color=colors[key], yerr=error, capsize=4, label=label)
            if (*key, benchmark) in tokens:
                ax_s.errorbar([tokens[(*key, benchmark)]], [value], yerr=error, fmt="o", color=colors[key],
                              capsize=3, label=label)
        ax_b.set_xticks(range(len(present)), [_label(*k, several) for k in present], rotation=30, ha="right",
                        fontsize=8)
        for ax in (ax_s, ax_b):
            ax.set_title(title)
            ax.set_ylabel(ylabel)
            ax.set_ylim(0, max(5.0, ax.get_ylim()[1]))  # all-zero scores still get a readable axis
        ax_s.set_xlabel("total tokens per episode (all roles)")
        ax_s.ticklabel_format(axis="x", style="plain", useOffset=False)
        if ax_s.get_legend_handles_labels()[0]:
            ax_s.legend(fontsize=7, loc="best")
    for figure, (name, _title) in zip((scatter, bars), PLOTS, strict=True):
        figure.tight_layout()
        figure.savefig(out / name, format="png", metadata={"Software": None})
    return tuple(name for name, _ in PLOTS)
