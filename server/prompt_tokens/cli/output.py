"""What ``count`` prints: the table, the JSON object, findings, and the progress bar.

Tables (``cli/table.py``) have colours only on a terminal (and respect ``NO_COLOR``); in a pipe
or a CI log they are plain text, one line per row, never wrapped (a file name is not cut at 80
columns), without trailing blanks. The progress bar goes to stderr, only when stderr is a
terminal, so a script reading stdout never sees it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

from prompt_tokens.cli.jsontext import dumps_indented
from prompt_tokens.cli.table import Cell, Styled, print_rows
from prompt_tokens.results import (
    DocumentResult,
    ReferenceResult,
    Severity,
    approx,
    budget_percent,
)

PROGRESS_MIN_FILES = 4
PROGRESS_MIN_BYTES = 8 << 20

STATUS_STYLE = {"ok": "green", "warning": "yellow", "exceeded": "bold red"}
SEVERITY_STYLE = {"error": "red", "warning": "yellow", "information": "cyan", "hint": "dim"}


def reference_severity(result: DocumentResult, ref: ReferenceResult) -> Severity:
    """How the editor shows a reference's problem: the severity of its diagnostic (an
    undefined ``${input:…}`` is information: VS Code asks for it when the prompt runs)."""
    for d in result.diagnostics:
        if d.code == ref.code and d.span == ref.span:
            return d.severity
    return "warning"  # nested references have no diagnostic; the engine's default severity


def _reference_row(result: DocumentResult, ref: ReferenceResult) -> list[Cell]:
    name = "    " * (1 + ref.depth) + f"{ref.kind} {ref.raw or ref.target}"
    if ref.status == "error":
        severity = reference_severity(result, ref)
        detail = Styled(f"{severity}: {ref.error}", SEVERITY_STYLE.get(severity, ""))
        return [name, "", "", "", "", "", detail]
    if ref.duplicate:
        return [name, "", "counted above", "", "", "", ""]
    return [name, "", f"{approx(result.exact)}+{ref.tokens:,}", "", "", "", ""]


COUNT_HEADERS = (
    ("file", "left"), ("text", "right"), ("refs", "right"), ("total", "right"),
    ("budget", "right"), ("used", "right"), ("status", "left"),
)  # fmt: skip


def render_table(results: Sequence[DocumentResult], stream: TextIO) -> None:
    """One row per file, its references indented below it, then the sum of several files."""
    rows: list[list[Cell]] = []
    for r in results:
        used = f"{budget_percent(r.tokens.total, r.budget)}%" if r.budget else "-"
        mark = approx(r.exact)  # an estimate (Claude, Gemini …) is marked on every number
        rows.append(
            [
                r.path,
                f"{mark}{r.tokens.text:,}",
                f"{mark}{r.tokens.references:,}",
                f"{mark}{r.tokens.total:,}",
                f"{r.budget:,}",
                used,
                Styled(r.status, STATUS_STYLE.get(r.status, "")),
            ]
        )
        rows.extend(_reference_row(r, ref) for ref in r.references)
    print_rows(COUNT_HEADERS, rows, stream)
    if len(results) > 1:
        total = sum(r.tokens.total for r in results)
        stream.write(f"{len(results)} files, {total:,} tokens in total\n")


def print_json(doc: Any, stream: TextIO | None = None) -> None:
    """One write of the whole text (``json.dump`` writes each piece: thousands of calls)."""
    try:
        text = dumps_indented(doc)
    except TypeError:  # something only the standard library writes
        text = json.dumps(doc, indent=2, ensure_ascii=False)
    (stream or sys.stdout).write(text + "\n")


def count_json(results: Sequence[DocumentResult]) -> dict[str, Any]:
    """SPEC's ``count --json`` object."""
    return {
        "files": [r.to_json() for r in results],
        "total": sum(r.tokens.total for r in results),
    }


def print_findings(results: Sequence[DocumentResult], stream: TextIO | None = None) -> None:
    """Every diagnostic but the budget ones (the table shows those) as ``path:line:col``."""
    stream = stream or sys.stderr
    for r in results:
        for d in r.diagnostics:
            if d.code.startswith("budget-"):
                continue
            stream.write(
                f"{r.path}:{d.span.line + 1}:{d.span.start + 1}: {d.severity}: {d.message} "
                f"[{d.code}]\n"
            )


def warn(message: str) -> None:
    print(f"prompt-tokens: warning: {message}", file=sys.stderr)


def error(message: str) -> None:
    print(f"prompt-tokens: {message}", file=sys.stderr)


@contextmanager
def progress_bar(total: int, total_bytes: int) -> Iterator[Callable[[str], None]]:
    """``step(label)`` after each file; a bar on stderr only when it is a terminal and the
    batch is big enough for a bar to be worth drawing."""
    stream = sys.stderr
    wanted = total >= PROGRESS_MIN_FILES or total_bytes >= PROGRESS_MIN_BYTES
    if not (wanted and stream.isatty()):
        yield lambda _label: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    bar = Progress(
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=Console(file=stream),
        transient=True,
    )
    task = bar.add_task("", total=total)

    def step(label: str) -> None:
        name = label if len(label) <= 40 else "…" + label[-39:]
        bar.update(task, advance=1, description=name)

    with bar:
        yield step
