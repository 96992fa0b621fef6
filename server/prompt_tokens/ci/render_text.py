"""``--format text``: a table for people reading a terminal or a CI log.

One row per file (with the change against the base when there is one), then the ``total``
budgets, the deleted files, the findings as ``path:line:col: severity: message [code]`` (the
shape editors and CI log viewers link), and a one-line verdict.
"""

from __future__ import annotations

from collections.abc import Sequence

from prompt_tokens.ci.report import CheckReport, FileReport, budget_text, printable


def _row(f: FileReport, with_base: bool) -> list[str]:
    used = f"{round(100 * f.total / f.budget)}%" if f.budget else "-"
    name = printable(f.path)
    if f.delta is not None and f.delta.kind == "renamed" and f.delta.old_path:
        name += f" (was {printable(f.delta.old_path)})"
    budget = (
        f"${f.usd_limit}" if f.usd_limit is not None else (f"{f.budget:,}" if f.budget else "-")
    )
    approx = "" if f.exact else "≈"
    cells = [
        name,
        f"{f.text:,}",
        f"{f.references:,}",
        f"{approx}{f.total:,}",
        budget,
        used,
        f.status,
    ]
    if with_base:
        cells.append(f.delta.describe() if f.delta is not None else "")
    return cells


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    right = set(range(1, 6))  # numbers line up on the right

    def line(cells: Sequence[str]) -> str:
        out = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(out).rstrip()

    return [line(headers), *(line(r) for r in rows)]


def _summary(report: CheckReport) -> str:
    n = len(report.files)
    text = f"{n} file{'s' if n != 1 else ''}, {report.total:,} tokens"
    totals = report.delta_totals
    if totals is not None and report.base_commit is not None:
        text += f"; against {printable(report.base_revision or '')} ({report.base_commit[:12]}): {totals.describe()}"
    failed = len(report.failed_files) + len(report.failed_aggregates)
    return text + (f"; {failed} over budget or limit" if failed else "; all within budget")


def render_text(report: CheckReport) -> str:
    with_base = report.base_commit is not None
    headers = ["file", "text", "refs", "total", "budget", "used", "status"]
    if with_base:
        headers.append("change")
    lines = _table(headers, [_row(f, with_base) for f in report.files]) if report.files else []
    for agg in report.aggregates:
        lines.append(
            f'total of "{printable(agg.budget.label)}" ({len(agg.paths)} files): {budget_text(agg)}  {agg.status}'
        )
    for gone in report.deleted:
        lines.append(f"deleted {printable(gone.path)}: {gone.describe()}")
    for path, d in report.diagnostics():
        lines.append(
            f"{printable(path)}:{d.line}:{d.column}: {d.severity}: {printable(d.message)} [{d.code}]"
        )
    lines.extend(f"warning: {printable(p)}" for p in report.problems)
    lines.append(_summary(report))
    return "\n".join(lines) + "\n"
