"""Views rendered from the long leaderboard CSV: the paper-style wide table, the all-metrics table, markdown, HTML.

Rendering is deterministic (fixed row and column order, fixed number formats): the same CSV always gives the
same bytes, so the views can be golden-tested and diffed in review. All text in the HTML page is escaped.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metrics.schema import BENCHMARK_TITLES, HEADLINE, METRIC_ABBREVIATIONS, PAPER_BENCHMARKS, metric

HONESTY_NOTE = (
    "Scores from the embedded SmolLM2-135M-Instruct (Q4_1) only show that the pipeline runs end to end; "
    "they do not reproduce the paper, which used Qwen2.5-7B-Instruct and Qwen3-4B-Instruct with a Qwen-Max judge."
)
PAPER_AGENT_ORDER = ("nomem", "langmem", "amem", "mem0", "mem0g", "agemem-norl", "agemem")
PAPER_JUDGE = "Qwen-Max"
PAPER_CSV = Path(__file__).resolve().parent.parent / "leaderboards" / "paper_table2.csv"
# The all-metrics table; role token columns are inserted before total_tokens (policy, memory, then other roles).
DETAIL_METRICS = ("success_rate", "progress_rate", "judge_score", "exact_match", "f1", "grounding_accuracy",
                  "memory_quality", "memory_coverage", "memory_precision")
DETAIL_TAIL = ("total_tokens", "llm_calls", "wall_seconds", "errors")
PLOTS = (("score_vs_tokens.png", "Headline score vs tokens per episode, per agent (bars: 95% CI)"),
         ("benchmark_bars.png", "Headline score per benchmark and agent, with 95% bootstrap CIs"))
MISSING = "–"


@dataclass(frozen=True)
class Headline:
    """One benchmark's headline number for one (agent, model): the row of the long CSV it comes from."""

    benchmark: str
    metric: str
    value: float
    ci_low: float
    ci_high: float
    n: int
    judge: str
    data_source: str
    run_id: str


@dataclass(frozen=True)
class WideRow:
    agent: str
    model: str
    source: str  # "ours" or "paper (<model>)"
    cells: dict[str, str]  # benchmark -> formatted cell
    average: str
    judge: str
    data: str
    run: str


def load_table(csv_path: Path) -> Any:
    import pandas as pd

    return pd.read_csv(csv_path, dtype={"run_id": str, "commit": str, "judge": str, "data_source": str})


def load_paper(path: Path = PAPER_CSV) -> Any:
    """The paper's reference numbers (leaderboards/paper_table2.csv); None when the file is not there."""
    import pandas as pd

    if not path.is_file():
        return None
    return pd.read_csv(path, comment="#")


LEXICAL_JUDGE = "lexical"  # the offline proxy judge (metrics/judges.py); an LLM judge's score is preferred


def benchmark_columns(table: Any) -> list[str]:
    """The paper's five in Table 2's order, then any other benchmark present, sorted."""
    extra = sorted({str(b) for b in table["benchmark"]} - set(PAPER_BENCHMARKS))
    return [*PAPER_BENCHMARKS, *extra]


def headlines(table: Any) -> dict[tuple[str, str], dict[str, Headline]]:
    """(agent, model) -> benchmark -> its headline row, by a fixed rule so views are stable: the benchmark's
    preferred metric first (HotpotQA: judge score, then F1), an LLM judge before the lexical one, then the row
    with the most episodes, the newest date, the largest run id (several splits or runs of one key)."""
    out: dict[tuple[str, str], dict[str, Headline]] = {}
    frame = table.assign(column=table["benchmark"].astype(str))
    for (agent, model, column), rows in frame.groupby(["agent", "model", "column"], sort=True):
        preference = HEADLINE.get(column, ("success_rate",))
        rows = rows[rows["metric"].isin(preference)]
        if not len(rows):
            continue
        rows = rows.assign(rank=[preference.index(m) for m in rows["metric"]],
                           lexical=[str(j) == LEXICAL_JUDGE for j in rows["judge"]])
        row = rows.sort_values(["rank", "lexical", "n", "date", "run_id"],
                               ascending=[True, True, False, False, False], kind="stable").iloc[0]
        out.setdefault((str(agent), str(model)), {})[str(column)] = Headline(
            str(column), str(row["metric"]), float(row["value"]), float(row["ci_low"]), float(row["ci_high"]),
            int(row["n"]), str(row["judge"]), str(row["data_source"]), str(row["run_id"]))
    return out


def _agent_key(agent: str) -> tuple[int, str]:
    return (PAPER_AGENT_ORDER.index(agent) if agent in PAPER_AGENT_ORDER else len(PAPER_AGENT_ORDER), agent)


def _join(values: list[str]) -> str:
    return "; ".join(dict.fromkeys(values))  # unique, in benchmark column order


def wide_rows(table: Any, paper: Any = None) -> tuple[list[str], list[WideRow]]:
    """Benchmark columns and rows of the paper-style table: ours per (agent, model), each agent followed by the
    paper's rows for the same method."""
    columns = benchmark_columns(table)
    ours = headlines(table)
    rows: list[WideRow] = []
    agents = sorted({agent for agent, _ in ours}, key=_agent_key)
    for agent in agents:
        for model in sorted(m for a, m in ours if a == agent):
            heads = ours[(agent, model)]
            cells = {b: _our_cell(heads[b]) if b in heads else MISSING for b in columns}
            present = [heads[b] for b in columns if b in heads]
            mean = sum(h.value for h in present) / len(present) * 100.0
            average = f"{mean:.2f}" if len(present) == len(PAPER_BENCHMARKS) else (
                f"{mean:.2f} (over {len(present)} benchmark{'s' if len(present) > 1 else ''})")
            rows.append(WideRow(agent, model, "ours", cells, average, _join([h.judge for h in present]),
                                _join([f"{h.benchmark}: {h.data_source}" for h in present]),
                                _join([h.run_id for h in present])))
        rows.extend(_paper_rows(paper, agent, columns))
    return columns, rows


def _our_cell(head: Headline) -> str:
    """Value x100 and n; a fallback metric or the lexical proxy judge is named in the cell."""
    notes = []
    if head.metric not in HEADLINE.get(head.benchmark, ("success_rate",))[:1]:
        notes.append(METRIC_ABBREVIATIONS.get(head.metric, head.metric))
    elif head.judge == LEXICAL_JUDGE:
        notes.append("lexical judge")
    return f"{head.value * 100.0:.2f} ({', '.join([*notes, f'n={head.n}'])})"


def _paper_rows(paper: Any, agent: str, columns: list[str]) -> list[WideRow]:
    if paper is None:
        return []
    rows = []
    mine = paper[(paper["agent"] == agent) & (paper["source"] == "Table 2")]
    for model in sorted(set(mine["model"])):
        frame = mine[mine["model"] == model]
        values = {str(r.benchmark): float(r.value) for r in frame.itertuples()}
        cells = {b: f"{values[b] * 100.0:.2f}" if b in values else MISSING for b in columns}
        average = f"{values['average'] * 100.0:.2f}" if "average" in values else MISSING
        rows.append(WideRow(agent, model, f"paper ({model})", cells, average, PAPER_JUDGE,
                            "paper: AgentBoard task sets + HotpotQA", "arXiv 2601.01885 Table 2"))
    return rows


def column_title(benchmark: str) -> str:
    """The benchmark and its headline metric; a fallback metric is marked in the cell itself (e.g. "F1")."""
    first = HEADLINE.get(benchmark, ("success_rate",))[0]
    return f"{BENCHMARK_TITLES.get(benchmark, benchmark)} {METRIC_ABBREVIATIONS.get(first, first)}"


def detail_metrics(table: Any) -> list[str]:
    present = set(table["metric"])
    roles = sorted({m.rsplit("_", 2)[0] for m in present if m.endswith(("_prompt_tokens", "_completion_tokens"))},
                   key=lambda r: ({"policy": 0, "memory": 1}.get(r, 2), r))
    tokens = [f"{r}_{part}_tokens" for r in roles for part in ("prompt", "completion")]
    return [m for m in (*DETAIL_METRICS, *tokens, *DETAIL_TAIL) if m in present]


def format_ci(name: str, value: float, low: float, high: float) -> str:
    spec = metric(name)
    if low == high:
        return spec.format(value)
    return f"{spec.format(value)} [{spec.format(low)}, {spec.format(high)}]"


def _is_independent(judge: str) -> bool:
    return judge in ("none", "nan", "") or judge.startswith("none ")


def detail_rows(table: Any) -> tuple[list[str], list[list[str]]]:
    """The all-metrics view: a line per (benchmark, split, agent, model, run), schema-formatted values with their
    CI. A run scored by several judges gets a line per judge: the first (an LLM judge before the lexical one)
    also carries the judge-independent metrics, the others only their judge's metrics."""
    names = detail_metrics(table)
    header = ["benchmark", "split", "agent", "model", "n", *[metric(m).title for m in names], "judge", "data", "run"]
    lines = []
    keyed = table.assign(judge=table["judge"].astype(str))
    for group, frame in keyed.groupby(["benchmark", "split", "agent", "model", "run_id"], sort=True):
        independent = frame[[_is_independent(j) for j in frame["judge"]]]
        judges = sorted(set(frame["judge"]) - set(independent["judge"]), key=lambda j: (j == LEXICAL_JUDGE, j))
        parts = [(judges[0] if judges else str(independent.iloc[0]["judge"]),
                  frame[[_is_independent(j) or (bool(judges) and j == judges[0]) for j in frame["judge"]]])]
        parts += [(judge, frame[frame["judge"] == judge]) for judge in judges[1:]]
        for judge, rows in parts:
            by_metric = {row.metric: row for row in rows.itertuples()}
            cells = [*map(str, group[:4]), str(int(max(rows["n"])))]
            for name in names:
                row = by_metric.get(name)
                cells.append("" if row is None else format_ci(name, row.value, row.ci_low, row.ci_high))
            cells += [judge, str(rows.iloc[0]["data_source"]), str(group[4])]
            lines.append(cells)
    return header, lines


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(map(_md_cell, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in rows]
    return lines


def wide_table(table: Any, paper: Any = None) -> tuple[list[str], list[list[str]]]:
    columns, rows = wide_rows(table, paper)
    header = ["agent", "model", "source", *[column_title(b) for b in columns], "Avg", "judge", "data", "run"]
    return header, [[r.agent, r.model, r.source, *[r.cells[b] for b in columns], r.average, r.judge, r.data, r.run]
                    for r in rows]


WIDE_NOTE = (
    "Headline metric per benchmark as in the paper's Table 2, x100: success rate (ALFWorld, SciWorld, BabyAI), "
    "progress rate (PDDL), LLM-judge score (HotpotQA; where no LLM judge scored the run: the offline lexical "
    "judge's proxy score, marked \"lexical judge\", else F1, marked F1). "
    "Avg = plain mean over the benchmarks present; \"over N benchmarks\" when fewer than the paper's five. "
    "Ours: n = episodes. Paper rows (single runs, no CI) are from leaderboards/paper_table2.csv."
)
DETAIL_NOTE = ("Values: mean over episodes [95% bootstrap CI]; rates x100. judge = the judge of that line's "
               "judge-dependent metrics (judge %, MQ); a run scored by several judges has a line per judge. "
               "Source of truth: `results.csv`; metric definitions: `schema.csv`; every metric, including those not "
               "shown here, is in the CSV.")


def render_markdown(table: Any, paper: Any = None, plots: tuple[str, ...] | None = None) -> str:
    """results.md: honesty note, the paper-style table, the all-metrics table and links to the plots."""
    lines = ["# Leaderboard", "", f"> {HONESTY_NOTE}", "", "## Paper-style table (Table 2 layout)", "", WIDE_NOTE, ""]
    lines += _md_table(*wide_table(table, paper))
    lines += ["", "## All runs", "", DETAIL_NOTE, ""]
    lines += _md_table(*detail_rows(table))
    lines += ["", "## Plots", ""]
    if plots is None:
        lines.append("Plots not rendered.")
    else:
        lines += [f"![{title}](plots/{name})" for name, title in PLOTS if name in plots]
    return "\n".join(lines) + "\n"


def _html_table(header: list[str], rows: list[list[str]], css: str, sources: list[str] | None = None) -> list[str]:
    out = [f'<table class="{css}">', "<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header)
           + "</tr></thead>", "<tbody>"]
    for index, row in enumerate(rows):
        kind = "" if sources is None else f' class="{"paper" if sources[index] != "ours" else "ours"}"'
        out.append(f"<tr{kind}>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
    return [*out, "</tbody>", "</table>"]


STYLE = """body{font-family:sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}
th,td{border:1px solid #bbb;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#eee}tr.paper td{color:#555;background:#f7f7fb;font-style:italic}
.note{max-width:60em}img{max-width:100%;border:1px solid #ddd}"""


def render_html(table: Any, paper: Any = None, plots: tuple[str, ...] | None = None) -> str:
    """results.html: a static page, no JavaScript; plots are PNG files next to it (plots/*.png)."""
    header, rows = wide_table(table, paper)
    sources = [row[2] for row in rows]
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             "<title>agemem-bench leaderboard</title>", f"<style>{STYLE}</style>", "</head>", "<body>",
             "<h1>Leaderboard</h1>", f'<p class="note"><strong>{html.escape(HONESTY_NOTE)}</strong></p>',
             "<h2>Paper-style table (Table 2 layout)</h2>", f'<p class="note">{html.escape(WIDE_NOTE)}</p>']
    parts += _html_table(header, rows, "wide", sources)
    parts += ["<h2>All runs</h2>", f'<p class="note">{html.escape(DETAIL_NOTE.replace("`", ""))}</p>']
    parts += _html_table(*detail_rows(table), "detail")
    parts.append("<h2>Plots</h2>")
    if plots is None:
        parts.append('<p class="note">Plots not rendered.</p>')
    else:
        for name, title in PLOTS:
            if name in plots:
                parts.append(f'<figure><img src="plots/{html.escape(name)}" alt="{html.escape(title)}">'
                             f"<figcaption>{html.escape(title)}</figcaption></figure>")
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"
