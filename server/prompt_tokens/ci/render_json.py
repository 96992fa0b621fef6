"""``--format json``: the ``count --json`` object, plus what ``check`` decided.

Each file keeps its ``count --json`` keys (so a script written for ``count`` reads ``check``
output unchanged); ``budget`` and ``status`` are the ones ``[[budgets]]`` set. With ``--base``
each file gets ``"base": {"total", "path"}`` (``null`` for a new file) and ``"delta"`` (tokens,
signed), and the top level gets the base, the summed delta and the deleted files.
"""

from __future__ import annotations

import json
from typing import Any

from prompt_tokens.ci.budgets import AggregateVerdict
from prompt_tokens.ci.report import CheckReport, FileReport


def _money(value: object) -> str | None:
    return None if value is None else f"${value}"


def _file(f: FileReport, with_base: bool) -> dict[str, Any]:
    out: dict[str, Any] = dict(f.count_json)
    out.update(
        path=f.path,
        encoding=f.encoding,
        budget=f.budget,
        status=f.status,
        tokens={"text": f.text, "references": f.references, "total": f.total},
    )
    out.setdefault("references", [])
    out["budget_glob"] = f.budget_glob
    if f.usd_limit is not None:
        out["budget_usd"] = _money(f.usd_limit)
    out.setdefault("cost_usd", f.cost_usd)  # the count's own figure wins when it has one
    out["diagnostics"] = [
        {
            "line": d.line,
            "column": d.column,
            "code": d.code,
            "severity": d.severity,
            "message": d.message,
        }
        for d in f.diagnostics
    ]
    if with_base and f.delta is not None:
        d = f.delta
        out["base"] = None if d.old is None else {"total": d.old, "path": d.old_path}
        out["delta"] = d.change
        out["delta_kind"] = d.kind
        out["max_increase_exceeded"] = d.exceeded
    return out


def _aggregate(a: AggregateVerdict) -> dict[str, Any]:
    return {
        "glob": a.budget.label,
        "files": list(a.paths),
        "tokens": a.tokens,
        "budget": a.limit,
        "budget_usd": _money(a.usd_limit),
        "cost_usd": a.cost_usd,
        "status": a.status,
    }


def to_json(report: CheckReport) -> dict[str, Any]:
    with_base = report.base_commit is not None
    doc: dict[str, Any] = {
        "files": [_file(f, with_base) for f in report.files],
        "total": report.total,
        "budgets": [_aggregate(a) for a in report.aggregates],
        "exit_code": report.exit_code,
    }
    totals = report.delta_totals
    if with_base and totals is not None:
        doc["base"] = {
            "revision": report.base_revision,
            "commit": report.base_commit,
            "total": totals.old,
        }
        doc["delta"] = totals.change
        doc["deleted"] = [
            {"path": d.path, "base": {"total": d.old, "path": d.path}, "delta": d.change}
            for d in report.deleted
        ]
        doc["max_increase"] = report.max_increase.raw if report.max_increase else None
    if report.problems:
        doc["problems"] = list(report.problems)
    return doc


def render_json(report: CheckReport) -> str:
    return json.dumps(to_json(report), indent=2, ensure_ascii=False) + "\n"
