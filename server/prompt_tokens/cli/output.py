"""What ``count`` prints: the table (rich), the JSON object, findings, and the progress bar.

Tables go through ``rich`` so columns line up and colours appear only on a terminal (and
respect ``NO_COLOR``); in a pipe or a CI log the output is plain text, one line per row, never
wrapped (a file name is not cut at 80 columns), without trailing blanks. The progress bar goes
to stderr, only when stderr is a terminal, so a script reading stdout never sees it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO

from prompt_tokens.results import (
    DocumentResult,
    ReferenceResult,
    Severity,
    approx,
    budget_percent,
)

if TYPE_CHECKING:  # rich is imported where a table or a bar is drawn: JSON output skips it
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

PROGRESS_MIN_FILES = 4
PROGRESS_MIN_BYTES = 8 << 20
PLAIN_WIDTH = 10_000  # off a terminal: wide enough that rich never wraps a row

STATUS_STYLE = {"ok": "green", "warning": "yellow", "exceeded": "bold red"}
SEVERITY_STYLE = {"error": "red", "warning": "yellow", "information": "cyan", "hint": "dim"}


def console(stream: TextIO) -> Console:
    """A console on ``stream``: the terminal's width and colours there, plain and unwrapped
    elsewhere."""
    from rich.console import Console

    terminal = stream.isatty()
    return Console(
        file=stream,
        width=None if terminal else PLAIN_WIDTH,
        highlight=False,
        markup=False,  # file names and references are text: "[house style](…)" is no markup
        emoji=False,
        soft_wrap=not terminal,
    )


def print_table(table: Table, stream: TextIO) -> None:
    """Print ``table`` with rich; off a terminal, lines lose the padding rich puts at their end."""
    con = console(stream)
    if con.is_terminal:
        con.print(table)
        return
    with con.capture() as captured:
        con.print(table)
    stream.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))


def plain_table(headers: Sequence[tuple[str, str]]) -> Table:
    """A borderless table (``headers``: name and justification), columns two spaces apart."""
    from rich.table import Table

    table = Table(box=None, show_edge=False, pad_edge=False, padding=(0, 2, 0, 0))
    for name, justify in headers:
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    return table


def reference_severity(result: DocumentResult, ref: ReferenceResult) -> Severity:
    """How the editor shows a reference's problem: the severity of its diagnostic (an
    undefined ``${input:…}`` is information: VS Code asks for it when the prompt runs)."""
    for d in result.diagnostics:
        if d.code == ref.code and d.span == ref.span:
            return d.severity
    return "warning"  # nested references have no diagnostic; the engine's default severity


def _reference_row(result: DocumentResult, ref: ReferenceResult) -> list[Text | str]:
    from rich.text import Text

    name = "    " * (1 + ref.depth) + f"{ref.kind} {ref.raw or ref.target}"
    if ref.status == "error":
        severity = reference_severity(result, ref)
        detail = Text(f"{severity}: {ref.error}", style=SEVERITY_STYLE.get(severity, ""))
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
    from rich.text import Text

    table = plain_table(COUNT_HEADERS)
    for r in results:
        used = f"{budget_percent(r.tokens.total, r.budget)}%" if r.budget else "-"
        mark = approx(r.exact)  # an estimate (Claude, Gemini …) is marked on every number
        table.add_row(
            r.path,
            f"{mark}{r.tokens.text:,}",
            f"{mark}{r.tokens.references:,}",
            f"{mark}{r.tokens.total:,}",
            f"{r.budget:,}",
            used,
            Text(r.status, style=STATUS_STYLE.get(r.status, "")),
        )
        for ref in r.references:
            table.add_row(*_reference_row(r, ref))
    print_table(table, stream)
    if len(results) > 1:
        total = sum(r.tokens.total for r in results)
        stream.write(f"{len(results)} files, {total:,} tokens in total\n")


def print_json(doc: Any, stream: TextIO | None = None) -> None:
    """One write of the whole text (``json.dump`` writes each piece: thousands of calls)."""
    (stream or sys.stdout).write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


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
