"""What a CI pipeline reads: gate lines, JUnit XML, the GitHub step summary, `::error` lines."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from seedlab.analysis.gates import (
    GateResult,
    GateSyntaxError,
    ReportGate,
    parse_report_gate,
    show,
)
from seedlab.cli.output import fail, num

GateOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--gate",
        help="with --wait: a gate such as verdict=bitwise, 'verdict in bitwise,within_tolerance',"
        " val_auc.std<=0.002, val_auc.mean>=0.98, val_auc.ci95_halfwidth<=0.003; repeatable. "
        "Exit 0 all hold, 1 one fails, 2 error, 3 inconclusive, 4 timeout",
    ),
]
JunitOpt = Annotated[
    Path | None, typer.Option("--junit", help="write JUnit XML: one case per gate and seed pair")
]
FormatOpt = Annotated[
    Literal["text", "github"],
    typer.Option("--format", help="github: also print ::error annotations for failed gates"),
]


@dataclass(frozen=True)
class PairCheck:
    """Two runs of one seed: are their weights and final metrics bit-for-bit the same?"""

    seed: int
    run_a: dict[str, Any]
    run_b: dict[str, Any]

    @property
    def name(self) -> str:
        """The test case name."""
        return f"seed {self.seed}: run {self.run_a['id']} vs run {self.run_b['id']}"

    @property
    def identical(self) -> bool:
        """Same weights checksum (present) and exactly the same final metrics."""
        a, b = self.run_a, self.run_b
        return (
            a.get("weights_checksum") is not None
            and a.get("weights_checksum") == b.get("weights_checksum")
            and a.get("final_metrics") == b.get("final_metrics")
        )

    def message(self) -> str:
        """The measured values: checksums, and each final metric that differs."""
        a, b = self.run_a, self.run_b
        parts = [f"weights {a.get('weights_checksum')} vs {b.get('weights_checksum')}"]
        finals_a, finals_b = a.get("final_metrics") or {}, b.get("final_metrics") or {}
        for key in sorted(set(finals_a) | set(finals_b)):
            if finals_a.get(key) != finals_b.get(key):
                parts.append(f"{key} {show(finals_a.get(key))} vs {show(finals_b.get(key))}")
        return "; ".join(parts)


def parse_gates(texts: Sequence[str]) -> list[ReportGate]:
    """The parsed gates, or exit 2 quoting the rule (before anything is submitted)."""
    try:
        return [parse_report_gate(text) for text in texts]
    except GateSyntaxError as exc:
        raise fail(str(exc)) from None


def seed_pairs(report: dict[str, Any]) -> list[PairCheck]:
    """Each seed's first succeeded run against each later one (the bit-identity check)."""
    by_seed: dict[int, list[dict[str, Any]]] = {}
    for run in sorted(report["runs"], key=lambda r: (r["seed"], r["repeat"], r["id"])):
        if run["status"] == "succeeded" and not run.get("variant"):
            by_seed.setdefault(run["seed"], []).append(run)
    return [
        PairCheck(seed, runs[0], other)
        for seed, runs in by_seed.items()
        for other in runs[1:]
    ]


def job_url(server: str, job_id: int) -> str:
    """The job's page."""
    return f"{server.rstrip('/')}/jobs/{job_id}"


def write_junit(
    path: Path,
    *,
    suite: str,
    results: Sequence[GateResult],
    pairs: Sequence[PairCheck] = (),
    error: str | None = None,
) -> None:
    """JUnit XML: a test case per gate and per seed pair; failures carry the measured values."""
    root = ET.Element("testsuites")
    cases: list[ET.Element] = []
    failures = skipped = errors = 0
    if error:
        errors += 1
        case = ET.Element("testcase", classname=f"{suite}.job", name="job")
        ET.SubElement(case, "error", message=error)
        cases.append(case)
    for result in results:
        case = ET.Element("testcase", classname=f"{suite}.gates", name=result.gate)
        if result.outcome == "failed":
            failures += 1
            ET.SubElement(case, "failure", message=result.line()).text = result.detail
        elif result.outcome == "inconclusive":
            skipped += 1
            ET.SubElement(case, "skipped", message=result.line())
        cases.append(case)
    for pair in pairs:
        case = ET.Element("testcase", classname=f"{suite}.bit_identity", name=pair.name)
        if not pair.identical:
            failures += 1
            ET.SubElement(case, "failure", message=pair.message())
        cases.append(case)
    testsuite = ET.SubElement(
        root, "testsuite", name=suite, tests=str(len(cases)), failures=str(failures),
        errors=str(errors), skipped=str(skipped),
    )
    testsuite.extend(cases)
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


_MARK = {"held": "✅ pass", "failed": "❌ fail", "inconclusive": "⚠️ inconclusive"}


def gates_table(results: Sequence[GateResult]) -> list[str]:
    """Markdown rows: gate, outcome, measured value, detail."""
    if not results:
        return []
    rows = ["| gate | outcome | measured | detail |", "| --- | --- | --- | --- |"]
    rows += [
        f"| `{r.gate}` | {_MARK[r.outcome]} | {show(r.measured)} | {r.detail} |" for r in results
    ]
    return rows


def job_summary(report: dict[str, Any], results: Sequence[GateResult], url: str) -> str:
    """Markdown for $GITHUB_STEP_SUMMARY: verdict, spread table, gates, link to the job page."""
    lines = [
        f"### seedlab job {report['id']}: {report['experiment']} — verdict "
        f"`{report['verdict']}`",
        "",
        f"Status {report['status']}, seeds `{report['seed_plan']}`, profile "
        f"`{report['profile_name']}`. {report['verdict_evidence'].get('summary', '')}",
        "",
    ]
    if report["metrics"]:
        lines += ["| metric | n | mean | std | min | max | 95% CI |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for name, s in sorted(report["metrics"].items()):
            ci = s.get("ci95")
            ci_text = f"[{ci[0]:.6g}, {ci[1]:.6g}]" if ci else "n/a"
            lines.append(
                f"| {name} | {s['n']} | {num(s.get('mean'))} | {num(s.get('std'))} | "
                f"{num(s.get('min'))} | {num(s.get('max'))} | {ci_text} |"
            )
        lines.append("")
    if results:
        lines += [*gates_table(results), ""]
    lines += [f"[Job page]({url})", ""]
    return "\n".join(lines)


def compare_summary(
    job_a: int,
    job_b: int,
    metric: str,
    result: dict[str, Any] | None,
    results: Sequence[GateResult],
    url: str,
) -> str:
    """Markdown for $GITHUB_STEP_SUMMARY: the comparison sentence, the gates, the page link."""
    lines = [f"### seedlab compare: job {job_b} against baseline job {job_a} on {metric}", ""]
    if result is not None:
        ci = result.get("ci95")
        ci_text = f"[{ci[0]:.6g}, {ci[1]:.6g}]" if ci else "n/a"
        lines += [
            result["sentence"],
            "",
            "| job | n | mean | std |",
            "| --- | --- | --- | --- |",
            f"| A {job_a} | {result['n_a']} | {num(result['mean_a'])} | {num(result['std_a'])} |",
            f"| B {job_b} | {result['n_b']} | {num(result['mean_b'])} | {num(result['std_b'])} |",
            "",
            f"B - A = {num(result['diff'])}, 95% CI {ci_text}",
            "",
        ]
    lines += [*gates_table(results), "", f"[Comparison page]({url})", ""]
    return "\n".join(lines)


def append_step_summary(markdown: str) -> None:
    """Append to the file GitHub Actions names in GITHUB_STEP_SUMMARY, when it is set."""
    # GitHub's variable, not a seedlab setting: the runner sets it for each step.
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(markdown + "\n")


def _escape(text: str) -> str:
    """GitHub workflow-command escaping of a message."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def report_outcomes(
    results: Sequence[GateResult], *, fmt: str, err: bool = False, title: str = "seedlab gate"
) -> None:
    """One line per gate (stderr under --json); with --format github, ::error lines too."""
    for result in results:
        typer.echo(result.line(), err=err)
    if fmt == "github":
        for result in results:
            if result.outcome == "failed":
                typer.echo(f"::error title={title}::{_escape(result.line())}", err=err)
            elif result.outcome == "inconclusive":
                typer.echo(f"::warning title={title}::{_escape(result.line())}", err=err)
