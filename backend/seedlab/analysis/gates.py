"""CI gates: parse expressions such as `val_auc.std<=0.002`, evaluate them over a job report.

A gate holds, fails, or is inconclusive (the job's seeds cannot decide it; the result says how
many seeds would). Pure: the inputs are the report and comparison dicts the API returns.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Outcome = Literal["held", "failed", "inconclusive"]

VERDICTS = ("bitwise", "within_tolerance", "nondeterministic", "not_checked")
STATS = ("mean", "std", "min", "max", "range", "n", "ci95_halfwidth")
OPERATORS = ("<=", ">=", "==", "!=", "<", ">", "=")

REPORT_RULE = (
    "a gate is `verdict=NAME`, `verdict in NAME,NAME` (NAME one of "
    f"{', '.join(VERDICTS)}) or `METRIC.STAT OP NUMBER` (STAT one of {', '.join(STATS)}; "
    "OP one of <=, >=, <, >, =, !=), e.g. `val_auc.std<=0.002`"
)
COMPARE_RULE = (
    "a compare gate is `not_worse:MARGIN` (MARGIN a number >= 0: the 95% CI of B - A stays "
    "above -MARGIN) or `better` (the 95% CI of B - A lies above 0)"
)

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_NAME = r"[A-Za-z_][A-Za-z0-9_./-]*"
_VERDICT_EQ = re.compile(r"^verdict\s*(==|=)\s*(\w+)$")
_VERDICT_IN = re.compile(r"^verdict\s+in\s+(.+)$")
_METRIC = re.compile(rf"^({_NAME})\.(\w+)\s*(<=|>=|==|!=|<|>|=)\s*({_NUMBER})$")
_NOT_WORSE = re.compile(rf"^not_worse\s*:\s*({_NUMBER})$")


class GateSyntaxError(ValueError):
    """A gate expression that does not follow the rule (the message quotes the rule)."""


class UnknownMetric(ValueError):
    """A gate names a metric the job did not report (the message lists the known ones)."""


@dataclass(frozen=True)
class VerdictGate:
    """The job's verdict must be one of `allowed`."""

    text: str
    allowed: tuple[str, ...]


@dataclass(frozen=True)
class MetricGate:
    """A statistic of a final metric's spread compared with a threshold."""

    text: str
    metric: str
    stat: str
    op: str
    threshold: float


@dataclass(frozen=True)
class CompareGate:
    """B against A on one metric: non-inferior within `margin`, or better."""

    text: str
    kind: Literal["not_worse", "better"]
    margin: float


ReportGate = VerdictGate | MetricGate


@dataclass(frozen=True)
class GateResult:
    """One gate's outcome, what was measured, and (inconclusive) how many seeds would decide."""

    gate: str
    outcome: Outcome
    measured: float | str | None
    detail: str
    seeds_needed: int | None = None

    def line(self) -> str:
        """E.g. `FAIL  val_auc.std<=0.002: measured 0.0031 (...)`."""
        word = {"held": "PASS", "failed": "FAIL", "inconclusive": "INCONCLUSIVE"}[self.outcome]
        return f"{word} {self.gate}: measured {show(self.measured)}; {self.detail}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "gate": self.gate,
            "outcome": self.outcome,
            "measured": self.measured,
            "detail": self.detail,
            "seeds_needed": self.seeds_needed,
        }


def show(value: float | str | None) -> str:
    """A measured value: numbers with their full precision (a gate compares exact values)."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def parse_report_gate(text: str) -> ReportGate:
    """A verdict or metric gate, or GateSyntaxError quoting the rule."""
    expr = text.strip()
    if found := _VERDICT_EQ.match(expr):
        return VerdictGate(text=expr, allowed=(_verdict(found.group(2), expr),))
    if found := _VERDICT_IN.match(expr):
        names = [name.strip() for name in found.group(1).split(",")]
        if any(not name for name in names):
            raise GateSyntaxError(f"gate {text!r}: an empty verdict name; {REPORT_RULE}")
        return VerdictGate(text=expr, allowed=tuple(_verdict(name, expr) for name in names))
    if found := _METRIC.match(expr):
        metric, stat, op, number = found.groups()
        if metric == "verdict":
            raise GateSyntaxError(f"gate {text!r}: the verdict is not a number; {REPORT_RULE}")
        if stat not in STATS:
            raise GateSyntaxError(f"gate {text!r}: unknown statistic {stat!r}; {REPORT_RULE}")
        return MetricGate(
            text=expr, metric=metric, stat=stat, op="==" if op == "=" else op,
            threshold=float(number),
        )
    raise GateSyntaxError(f"gate {text!r} is malformed; {REPORT_RULE}")


def _verdict(name: str, expr: str) -> str:
    if name not in VERDICTS:
        raise GateSyntaxError(f"gate {expr!r}: unknown verdict {name!r}; {REPORT_RULE}")
    return name


def parse_compare_gate(text: str) -> CompareGate:
    """A `not_worse:MARGIN` or `better` gate, or GateSyntaxError quoting the rule."""
    expr = text.strip()
    if expr == "better":
        return CompareGate(text=expr, kind="better", margin=0.0)
    if found := _NOT_WORSE.match(expr):
        margin = float(found.group(1))
        if margin < 0 or not math.isfinite(margin):
            raise GateSyntaxError(f"gate {text!r}: the margin must be >= 0; {COMPARE_RULE}")
        return CompareGate(text=expr, kind="not_worse", margin=margin)
    raise GateSyntaxError(f"gate {text!r} is malformed; {COMPARE_RULE}")


def metric_names(gates: Iterable[ReportGate]) -> list[str]:
    """The metrics the gates name, in order, once each."""
    return list(dict.fromkeys(g.metric for g in gates if isinstance(g, MetricGate)))


def check_metrics(gates: Iterable[ReportGate], known: Sequence[str]) -> None:
    """UnknownMetric when a gate names a metric outside `known`."""
    unknown = [name for name in metric_names(gates) if name not in known]
    if unknown:
        listed = ", ".join(sorted(known)) or "none"
        raise UnknownMetric(
            f"unknown metric(s) {', '.join(unknown)} in --gate; the job reports: {listed}"
        )


def _compare(value: float, op: str, threshold: float) -> bool:
    return {
        "<=": value <= threshold,
        ">=": value >= threshold,
        "<": value < threshold,
        ">": value > threshold,
        "==": value == threshold,
        "!=": value != threshold,
    }[op]


def evaluate_verdict(gate: VerdictGate, report: Mapping[str, Any]) -> GateResult:
    """Held when the verdict is allowed; inconclusive when no seed ran twice (not_checked)."""
    verdict = str(report["verdict"])
    allowed = ", ".join(gate.allowed)
    if verdict in gate.allowed:
        return GateResult(gate.text, "held", verdict, f"allowed: {allowed}")
    if verdict == "not_checked":
        return GateResult(
            gate.text, "inconclusive", verdict,
            "no seed ran twice, so bit-identity was not checked: repeat each seed at least "
            "twice (a seed plan such as 42:1x2)",
            seeds_needed=1,
        )
    return GateResult(gate.text, "failed", verdict, f"allowed: {allowed}")


def evaluate_metric(gate: MetricGate, report: Mapping[str, Any]) -> GateResult:
    """The statistic against the threshold; inconclusive where the seeds cannot decide it."""
    metrics = report.get("metrics") or {}
    if gate.metric not in metrics:
        check_metrics([gate], list(metrics))
    spread = metrics[gate.metric]
    n = int(spread.get("n") or 0)
    rule = f"{gate.metric}.{gate.stat} {gate.op} {gate.threshold!r} over {n} seed(s)"
    if gate.stat == "n":
        value: float | None = float(n)
    elif gate.stat == "ci95_halfwidth":
        ci = spread.get("ci95")
        value = None if ci is None else (ci[1] - ci[0]) / 2
    else:
        value = spread.get(gate.stat)
    if value is None:
        if n == 0:
            return GateResult(gate.text, "failed", None, f"no succeeded run reported {gate.metric}")
        # std and the CI need two seeds; n is at least 1 here.
        return GateResult(
            gate.text, "inconclusive", None,
            f"{gate.stat} needs at least 2 seeds, the job has {n}; 2 seeds would decide",
            seeds_needed=2,
        )
    if _compare(value, gate.op, gate.threshold):
        return GateResult(gate.text, "held", value, rule)
    std = spread.get("std")
    if gate.stat == "ci95_halfwidth" and gate.op in ("<=", "<") and std:
        # More seeds narrow the interval: the gate is undecided, not failed.
        # Imported here: scipy.stats takes seconds to import, and `seedlab submit` imports gates.
        from seedlab.analysis.significance import seeds_for_halfwidth

        needed = seeds_for_halfwidth(float(std), gate.threshold)
        return GateResult(
            gate.text, "inconclusive", value,
            f"{rule}: the interval is wider than asked; about {needed} seeds would narrow it "
            "enough at the measured std",
            seeds_needed=needed,
        )
    return GateResult(gate.text, "failed", value, rule)


def evaluate_report(gates: Sequence[ReportGate], report: Mapping[str, Any]) -> list[GateResult]:
    """Every gate over a job report (UnknownMetric before any is evaluated)."""
    check_metrics(gates, list((report.get("metrics") or {}).keys()))
    return [
        evaluate_verdict(g, report) if isinstance(g, VerdictGate) else evaluate_metric(g, report)
        for g in gates
    ]


def evaluate_compare(
    gate: CompareGate, comparison: Mapping[str, Any], *, n_a: int, n_b: int
) -> GateResult:
    """B against A: held, failed (the observed difference is on the wrong side), or undecided.

    The difference is oriented so that positive is better (a lower-is-better metric flips it).
    Failed when even the observed difference misses the bound; inconclusive when the observed
    difference clears it but the 95% CI does not, with the seeds per job that would decide it.
    """
    threshold = -gate.margin
    if min(n_a, n_b) < 2 or comparison.get("ci95") is None or comparison.get("diff") is None:
        return GateResult(
            gate.text, "inconclusive", None,
            f"a 95% CI of B - A needs at least 2 seeds per job, have {n_a} (A) and {n_b} (B); "
            "2 seeds each would decide",
            seeds_needed=2,
        )
    sign = 1.0 if comparison["higher_is_better"] else -1.0
    diff = sign * float(comparison["diff"])
    lo = min(sign * float(x) for x in comparison["ci95"])
    what = (
        f"B - A = {comparison['diff']!r}, 95% CI [{comparison['ci95'][0]!r}, "
        f"{comparison['ci95'][1]!r}]"
    )
    if gate.kind == "better":
        wanted = "the CI lies above 0" if sign > 0 else "the CI lies below 0 (lower is better)"
    else:
        bound = f"{-gate.margin!r}" if sign > 0 else f"{gate.margin!r}"
        side = "above" if sign > 0 else "below"
        wanted = f"the CI stays {side} {bound}"
    if lo > threshold:
        return GateResult(gate.text, "held", lo * sign, f"{what}: {wanted}")
    if diff <= threshold:
        return GateResult(gate.text, "failed", lo * sign, f"{what}: not {wanted}")
    pooled = math.sqrt(
        ((float(comparison["std_a"] or 0.0)) ** 2 + (float(comparison["std_b"] or 0.0)) ** 2) / 2
    )
    from seedlab.analysis.significance import seeds_for_power

    needed = seeds_for_power((diff - threshold) / pooled) if pooled > 0 else None
    more = f"about {needed} seeds per job would decide" if needed else "more seeds would decide"
    return GateResult(
        gate.text, "inconclusive", lo * sign,
        f"{what}: the observed difference clears the bound but its CI does not; {more}",
        seeds_needed=needed,
    )


def exit_code(results: Iterable[GateResult]) -> int:
    """0 every gate holds, 1 one fails, 3 none fails but one is inconclusive."""
    outcomes = {r.outcome for r in results}
    if "failed" in outcomes:
        return 1
    if "inconclusive" in outcomes:
        return 3
    return 0
