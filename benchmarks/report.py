"""The benchmark's figures, judged against issue 17's targets: the table and ``--json``.

No load here (``benchmarks/run`` measures): given each scenario's ``Result`` and the
ceiling's, ``judge`` decides every target, ``render`` writes the Markdown tables printed by
the run and kept in ``benchmarks/README.md``, ``figures`` the JSON of ``--json PATH``::

    {"ceiling": {"rps": 7727.0, "p50_ms": 4.0, "p99_ms": 30.4, "ratio": 1.0, "non_2xx": 0, ...},
     "visitor_offer_search": {"rps": 4100.2, ..., "ratio": 0.53, "target": "≥ 50 %", "met": true},
     "small_visitor_offer_search": {..., "growth": 0.65, "target": "≤ 1.3×", "met": true}, ...}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import scenarios


@dataclass
class Result:
    """What wrk measured for one scenario."""

    key: str
    rps: float
    p50_ms: float
    p99_ms: float
    statuses: dict[str, int] = field(default_factory=dict)
    socket_errors: int = 0
    # CPU milliseconds per request of each part and in all (benchmarks/cpu_account.py).
    cpu_ms: dict[str, float] = field(default_factory=dict)

    @property
    def non_2xx(self) -> int:
        return sum(count for status, count in self.statuses.items() if not status.startswith("2"))

    def ratio(self, ceiling: Result) -> float:
        return self.rps / ceiling.rps if ceiling.rps else 0.0


@dataclass
class Verdict:
    """One scenario against its target."""

    target: str
    met: bool
    reason: str = ""  # why it is missed, when not the ratio alone


def share(ratio: float) -> str:
    """0.43 → "43 %", 0.049 → "4.9 %", 15.2 → "15.2×" (multiples of the ceiling read better
    as such)."""
    if ratio >= 1.5:
        return f"{ratio:.1f}×"
    return f"{ratio * 100:.1f} %" if ratio < 0.095 else f"{ratio * 100:.0f} %"


def judge(
    scenario: scenarios.Scenario, result: Result, ceiling: Result, integrity: list[str]
) -> Verdict | None:
    """The scenario's verdict, or None when it has no target."""
    if scenario.min_ratio is None:
        return None
    ratio = result.ratio(ceiling)
    minimum = scenario.min_ratio
    target = f"≥ {minimum:g}× ceiling" if minimum >= 1.5 else f"≥ {minimum * 100:g} %"
    met = ratio >= scenario.min_ratio
    reasons = []
    if scenario.max_p99_multiple is not None:
        limit = scenario.max_p99_multiple * ceiling.p99_ms
        target += f", p99 ≤ {scenario.max_p99_multiple:g}× ceiling ({limit:.1f} ms)"
        if result.p99_ms > limit:
            met = False
            reasons.append(f"p99 {result.p99_ms:.1f} ms")
    if scenario.integrity:
        target += ", limits intact"
        if integrity:
            met = False
            reasons.append("; ".join(integrity))
    return Verdict(target, met, ", ".join(reasons))


def cpu_needed(scenario: scenarios.Scenario, result: Result, ceiling: Result) -> float | None:
    """The CPU milliseconds per request, in all, that would meet the scenario's throughput
    target: the machine's cores are the bound, so req/s goes as 1 / CPU per request."""
    total = result.cpu_ms.get("total")
    ratio = result.ratio(ceiling)
    if not total or scenario.min_ratio is None or not ratio:
        return None
    return total * ratio / scenario.min_ratio


CPU_PARTS = (("app", "app"), ("postgres", "PostgreSQL"), ("redis", "Redis"), ("wrk", "wrk"))


def cpu_rows(results: dict[str, Result], ceiling: Result) -> list[str]:
    """Where each scenario's CPU goes, and for a missed target what would meet it."""
    rows = [
        "",
        "| CPU ms per request | "
        + " | ".join(label for _key, label in CPU_PARTS)
        + " | in all | what would meet the target |",
        "|---|" + "---:|" * (len(CPU_PARTS) + 1) + "---|",
    ]
    entries = [(scenarios.CEILING_LABEL, ceiling, None)]
    entries += [(s.label, results[s.key], s) for s in scenarios.SCENARIOS if s.key in results]
    for label, result, scenario in entries:
        if not result.cpu_ms:
            continue
        need = ""
        if scenario is not None and result.ratio(ceiling) < (scenario.min_ratio or 0):
            needed = cpu_needed(scenario, result, ceiling)
            if needed is not None:
                need = f"≤ {needed:.2f} ms in all (now {result.cpu_ms['total']:.2f})"
        parts = " | ".join(f"{result.cpu_ms.get(key, 0.0):.2f}" for key, _label in CPU_PARTS)
        rows.append(f"| {label} | {parts} | {result.cpu_ms['total']:.2f} | {need} |")
    return rows if len(rows) > 3 else []


def growth(key: str, results: dict[str, Result], small: dict[str, Result]) -> float | None:
    """p50 at the target size over p50 at the small size, when both were measured."""
    if key not in results or key not in small or not small[key].p50_ms:
        return None
    return results[key].p50_ms / small[key].p50_ms


def figures(
    results: dict[str, Result],
    ceiling: Result,
    small: dict[str, Result],
    integrity: list[str],
) -> dict[str, dict[str, Any]]:
    """Every scenario's figures and verdict, keyed by scenario (``--json``)."""

    def entry(result: Result) -> dict[str, Any]:
        return {
            "rps": round(result.rps, 1),
            "p50_ms": round(result.p50_ms, 2),
            "p99_ms": round(result.p99_ms, 2),
            "ratio": round(result.ratio(ceiling), 4),
            "non_2xx": result.non_2xx,
            "socket_errors": result.socket_errors,
            "statuses": dict(sorted(result.statuses.items())),
            "cpu_ms": result.cpu_ms,
        }

    data = {"ceiling": {**entry(ceiling), "label": scenarios.CEILING_LABEL}}
    for scenario in scenarios.SCENARIOS:
        if scenario.key not in results:
            continue
        item = {**entry(results[scenario.key]), "label": scenario.label}
        verdict = judge(scenario, results[scenario.key], ceiling, integrity)
        if verdict is not None:
            item.update(target=verdict.target, met=verdict.met)
            needed = cpu_needed(scenario, results[scenario.key], ceiling)
            if not verdict.met and needed is not None:
                item.update(cpu_ms_needed=round(needed, 3))
        data[scenario.key] = item
    for key, (limit, label) in scenarios.GROWTH_TARGETS.items():
        if key in small:
            item = {**entry(small[key]), "label": f"{scenarios.BY_KEY[key].label} (small size)"}
            ratio = growth(key, results, small)
            if ratio is not None:
                item.update(
                    growth=round(ratio, 3),
                    target=f"≤ {limit:g}× ({label})",
                    met=ratio <= limit,
                )
            data[f"small_{key}"] = item
    return data


def write_json(path: Path, data: dict[str, dict[str, Any]]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def render(
    results: dict[str, Result],
    ceiling: Result,
    small: dict[str, Result],
    integrity: list[str],
    *,
    nginx_run: bool = True,
) -> str:
    """The scenario table, issue 17's Targets table (met / missed) and the growth table."""
    rows = [
        "| scenario | req/s | p50 ms | p99 ms | share of ceiling | non-2xx | target | result |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]

    def non_2xx(result: Result) -> str:
        bad = {k: v for k, v in result.statuses.items() if not k.startswith("2")}
        text = ", ".join(f"{v}×{k}" for k, v in sorted(bad.items())) or "0"
        return text + (f", {result.socket_errors} socket errors" if result.socket_errors else "")

    rows.append(
        f"| {scenarios.CEILING_LABEL} | {ceiling.rps:.0f} | {ceiling.p50_ms:.1f} | "
        f"{ceiling.p99_ms:.1f} | 100 % | {non_2xx(ceiling)} | | |"
    )
    verdicts: dict[str, Verdict | None] = {}
    for scenario in scenarios.SCENARIOS:
        result = results.get(scenario.key)
        if result is None:
            continue
        verdict = verdicts[scenario.key] = judge(scenario, result, ceiling, integrity)
        rows.append(
            f"| {scenario.label} | {result.rps:.0f} | {result.p50_ms:.1f} | "
            f"{result.p99_ms:.1f} | {share(result.ratio(ceiling))} | {non_2xx(result)} | "
            f"{verdict.target if verdict else ''} | "
            f"{('met' if verdict.met else '**missed**') if verdict else ''} |"
        )

    targets = ["", "| target (issue 17) | measured | result |", "|---|---|---|"]
    for label, keys in scenarios.TARGET_ROWS:
        measured = [key for key in keys if key in results]
        if not measured:
            why = "not run (`--nginx`)" if scenarios.BY_KEY[keys[0]].nginx and not nginx_run else ""
            targets.append(f"| {label} | {why or 'not run'} | not measured |")
            continue
        parts, met = [], len(measured) == len(keys)
        for key in measured:
            result, verdict = results[key], verdicts[key]
            text = share(result.ratio(ceiling))
            if scenarios.BY_KEY[key].max_p99_multiple is not None:
                text += f", p99 {result.p99_ms:.1f} ms"
            if scenarios.BY_KEY[key].integrity:
                text += f", {'; '.join(integrity)}" if integrity else ", limits intact"
            parts.append(text if len(keys) == 1 else f"{scenarios.BY_KEY[key].label}: {text}")
            met = met and bool(verdict and verdict.met)
        targets.append(f"| {label} | {'; '.join(parts)} | {'met' if met else '**missed**'} |")
    for key, (limit, label) in scenarios.GROWTH_TARGETS.items():
        ratio = growth(key, results, small)
        if ratio is None:
            targets.append(f"| growth: {label} ≤ {limit:g}× | not run | not measured |")
        else:
            verdict = "met" if ratio <= limit else "**missed**"
            targets.append(f"| growth: {label} ≤ {limit:g}× | {ratio:.2f}× | {verdict} |")

    growth_rows = [
        "",
        "| growth | target size p50 ms | small size p50 ms | ratio | target | result |",
        "|---|---:|---:|---:|---|---|",
    ]
    for key, (limit, label) in scenarios.GROWTH_TARGETS.items():
        ratio = growth(key, results, small)
        if ratio is not None:
            growth_rows.append(
                f"| {label} | {results[key].p50_ms:.1f} | {small[key].p50_ms:.1f} | "
                f"{ratio:.2f} | ≤ {limit:g} | {'met' if ratio <= limit else '**missed**'} |"
            )
    return "\n".join(rows + targets + growth_rows + cpu_rows(results, ceiling))
