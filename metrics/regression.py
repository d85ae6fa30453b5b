"""`agemem-bench leaderboard check`: compare a current leaderboard CSV with a baseline, for CI regression checks.

Rows are matched on (benchmark, split, agent, model, metric) and the judge label (a run scored by two judges has
a row of each; "none (EM/F1 only)" of older runs reads as "none"). For a metric with a direction (metrics/schema.py),
the change in the worse direction is

    worse = baseline - current   (higher is better)        worse = current - baseline   (lower is better)

and the row regresses when worse > allowed + 1e-9 (the CSV keeps 6 significant digits), where

    allowed = max(tolerance, half_ci)                        for rates (fractions in [0, 1]; tolerance absolute)
    allowed = max(relative_tolerance * |baseline|, half_ci)  for counts and seconds (tokens, calls, errors)
    half_ci = (baseline ci_high - baseline ci_low) / 2       the baseline's own 95% bootstrap CI half-width

so a change inside the baseline's noise or the stated tolerance passes, and improvements always pass.
A baseline row missing from the current CSV fails (a changed judge shows up this way), and so does a row whose
data source changed (the numbers would not be comparable). Metrics without a direction (wall_seconds, steps,
unknown names) are not checked. Exit codes: 0 pass, 1 regressions, 2 unusable input (one-line error).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.errors import SuiteError
from metrics.schema import RATE, metric

KEY = ("benchmark", "split", "agent", "model", "metric")
REQUIRED = (*KEY, "value", "ci_low", "ci_high")
EPSILON = 1e-9


@dataclass(frozen=True)
class Row:
    key: tuple[str, ...]  # KEY's columns, then the judge label ("" where the CSV has no judge column)
    value: float
    ci_low: float
    ci_high: float
    data_source: str  # must match for two numbers to be comparable


@dataclass(frozen=True)
class Finding:
    kind: str  # "REGRESSION", "MISSING", "DATA"
    key: tuple[str, ...]
    message: str

    def line(self) -> str:
        judge = f" [judge {self.key[5]}]" if self.key[5] else ""
        return f"{self.kind} {'/'.join(self.key[:4])} {self.key[4]}{judge}: {self.message}"


@dataclass(frozen=True)
class Report:
    findings: list[Finding]
    compared: int
    unchecked: int  # baseline rows of metrics without a direction, or not selected
    new: int  # current rows the baseline does not have

    @property
    def ok(self) -> bool:
        return not self.findings

    def summary(self) -> str:
        verdict = "PASS" if self.ok else "FAIL"
        return (f"leaderboard check: {verdict}: {len(self.findings)} failure(s) in {self.compared} compared row(s) "
                f"({self.unchecked} not checked: no direction or not selected; {self.new} new in current)")


def read_rows(path: Path) -> dict[tuple[str, ...], Row]:
    """A leaderboard CSV (results.csv layout; '#' comment lines allowed) keyed by KEY; unusable -> SuiteError."""
    if not path.is_file():
        raise SuiteError(f"leaderboard check: no such file: {path}")
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            lines = [line for line in handle if not line.startswith("#")]
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"leaderboard check: cannot read {path}: {exc}") from exc
    reader = csv.DictReader(lines)
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise SuiteError(f"leaderboard check: {path} is not a leaderboard CSV (missing columns: {', '.join(missing)})")
    rows: dict[tuple[str, ...], Row] = {}
    for number, record in enumerate(reader, start=2):
        if None in record or any(v is None for v in record.values()):
            raise SuiteError(f"leaderboard check: {path} line {number}: wrong number of fields")
        key = (*(record[c].strip() for c in KEY), _judge(record.get("judge")))
        try:
            value, low, high = (float(record[c]) for c in ("value", "ci_low", "ci_high"))
        except ValueError:
            raise SuiteError(f"leaderboard check: {path} line {number}: value/ci_low/ci_high must be numbers") from None
        if not all(map(math.isfinite, (value, low, high))):
            raise SuiteError(f"leaderboard check: {path} line {number}: value/ci_low/ci_high must be finite")
        if key in rows:
            raise SuiteError(f"leaderboard check: {path} has two rows for {'/'.join(key[:5])} (judge {key[5]!r}; "
                             "several runs?): compare one run per key")
        rows[key] = Row(key, value, low, high, (record.get("data_source") or "").strip())
    if not rows:
        raise SuiteError(f"leaderboard check: {path} has no rows")
    return rows


def _judge(label: str | None) -> str:
    text = (label or "").strip()
    return "none" if text.startswith("none ") else text


def allowed_change(name: str, base: Row, tolerance: float, relative_tolerance: float) -> float:
    """How far `name` may move in the worse direction from `base` before it counts as a regression."""
    half_ci = max(0.0, (base.ci_high - base.ci_low) / 2.0)
    if metric(name).kind == RATE:
        return max(tolerance, half_ci)
    return max(relative_tolerance * abs(base.value), half_ci)


def compare(baseline: dict[tuple[str, ...], Row], current: dict[tuple[str, ...], Row], *, tolerance: float = 0.05,
            relative_tolerance: float = 0.10, metrics: Iterable[str] | None = None) -> Report:
    if tolerance < 0 or relative_tolerance < 0:
        raise SuiteError("leaderboard check: tolerances must be >= 0")
    selected = set(metrics) if metrics else None
    findings: list[Finding] = []
    compared = unchecked = 0
    for key in sorted(baseline):
        name = key[4]
        spec = metric(name)
        if spec.higher_is_better is None or (selected is not None and name not in selected):
            unchecked += 1
            continue
        compared += 1
        base = baseline[key]
        now = current.get(key)
        if now is None:
            others = sorted({k[5] for k in current if k[:5] == key[:5]})
            hint = f" (current has it under judge {', '.join(map(repr, others))})" if others else ""
            findings.append(Finding("MISSING", key, f"in the baseline, not in the current leaderboard{hint}"))
            continue
        if now.data_source != base.data_source:
            findings.append(Finding("DATA", key, f"data source changed: {base.data_source} -> {now.data_source}"))
            continue
        worse = base.value - now.value if spec.higher_is_better else now.value - base.value
        allowed = allowed_change(name, base, tolerance, relative_tolerance)
        if worse > allowed + EPSILON:
            findings.append(Finding("REGRESSION", key, f"{base.value:.6g} -> {now.value:.6g} "
                                                       f"({spec.direction} is better; worse by {worse:.6g}, "
                                                       f"allowed {allowed:.6g})"))
    if selected is not None:
        unknown = selected - {k[4] for k in baseline}
        if unknown:
            raise SuiteError(f"leaderboard check: --metrics names not in the baseline: {', '.join(sorted(unknown))}")
    new = len(set(current) - set(baseline))
    return Report(findings, compared, unchecked, new)


def check(baseline: Path, current: Path, *, tolerance: float = 0.05, relative_tolerance: float = 0.10,
          metrics: Sequence[str] | None = None, out: Callable[[str], None] = print) -> int:
    """Print one line per failure and a summary; 0 when nothing regressed, 1 otherwise."""
    report = compare(read_rows(baseline), read_rows(current), tolerance=tolerance,
                     relative_tolerance=relative_tolerance, metrics=metrics)
    for finding in report.findings:
        out(finding.line())
    out(report.summary())
    return 0 if report.ok else 1
