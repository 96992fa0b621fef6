"""``--format github``: workflow commands, so findings appear as annotations on the diff.

Each finding is ``::error file=…,line=…,col=…,title=…::message`` (``warning``, ``notice``), with
values escaped as GitHub's runner decodes them (``@actions/core`` ``escapeData`` /
``escapeProperty``: ``%``, CR and LF in messages; also ``:`` and ``,`` in properties). Escaping
is also what keeps a hostile file name from injecting a command of its own. A Markdown table for
``$GITHUB_STEP_SUMMARY`` is built here too; writing it is the caller's (``formats``) one I/O.
"""

from __future__ import annotations

from prompt_tokens.ci.delta import signed, signed_percent
from prompt_tokens.ci.report import CheckReport, FileReport, budget_text

_COMMANDS = {"error": "error", "warning": "warning", "information": "notice", "hint": "notice"}
_STATUS = {"ok": "✅ ok", "warning": "⚠️ warning", "exceeded": "❌ exceeded"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(report: CheckReport) -> str:
    lines = []
    for path, d in report.diagnostics():
        props = {
            "file": report.repo_prefix + path,
            "line": str(d.line),
            "col": str(d.column),
        }
        if d.end_line is not None and d.end_column is not None and d.end_line >= d.line:
            props["endLine"] = str(d.end_line)
            props["endColumn"] = str(d.end_column)
        props["title"] = f"prompt-tokens {d.code}"
        joined = ",".join(f"{k}={escape_property(v)}" for k, v in props.items())
        lines.append(f"::{_COMMANDS.get(d.severity, 'warning')} {joined}::{escape_data(d.message)}")
    for problem in report.problems:
        lines.append(f"::warning title=prompt-tokens configuration::{escape_data(problem)}")
    return "".join(line + "\n" for line in lines)


def _cell(text: str) -> str:
    """Plain text in a GFM table cell: nothing in it may end the cell or start markup."""
    for ch in "\\`*_[]<>|#~":
        text = text.replace(ch, "\\" + ch)
    return text.replace("\r", " ").replace("\n", " ")


def _change(f: FileReport) -> str:
    d = f.delta
    if d is None:
        return ""
    if d.old is None:
        return f"new ({signed(d.change)})"
    text = f"{d.old:,} → {f.total:,} ({signed(d.change)}"
    text += f", {signed_percent(d.percent)})" if d.percent is not None else ")"
    if d.kind == "renamed" and d.old_path:
        text += f", renamed from {_cell(d.old_path)}"
    return text + (" ❌" if d.exceeded else "")


def summary_markdown(report: CheckReport) -> str:
    with_base = report.base_commit is not None
    head = ["File", "Tokens", "Budget", "Used", "Status"] + (["Change"] if with_base else [])
    align = ["---", "---:", "---:", "---:", "---"] + (["---"] if with_base else [])
    out = [
        "### prompt-tokens check",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join(align) + "|",
    ]
    for f in report.files:
        budget = (
            f"${f.usd_limit}" if f.usd_limit is not None else (f"{f.budget:,}" if f.budget else "–")
        )
        used = f"{round(100 * f.total / f.budget)}%" if f.budget else "–"
        cells = [
            _cell(f.path),
            f"{'' if f.exact else '≈'}{f.total:,}",
            budget,
            used,
            _STATUS[f.status],
        ]
        if with_base:
            cells.append(_change(f))
        out.append("| " + " | ".join(cells) + " |")
    for gone in report.deleted:
        cells = [_cell(gone.path), "–", "–", "–", "deleted"] + (
            [gone.describe()] if with_base else []
        )
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    for agg in report.aggregates:
        out.append(
            f"- Files matching {_cell(agg.budget.label)}: {budget_text(agg)} — {_STATUS[agg.status]}"
        )
    totals = report.delta_totals
    line = f"**{len(report.files)} files, {report.total:,} tokens**"
    if totals is not None:
        line += f" · against {_cell(report.base_revision or '')} ({(report.base_commit or '')[:12]}): {totals.describe()}"
    out += ["", line, ""]
    return "\n".join(out) + "\n"
