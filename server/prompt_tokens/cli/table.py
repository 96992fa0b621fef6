"""The CLI's tables: rich on a terminal, a plain writer of the same text everywhere else.

On a terminal rich lines columns up in the terminal's width with colours. In a pipe or a CI
log the table is plain text, one line per row, never wrapped, without trailing blanks. Rich
renders that too, but at ~0.2 ms a row it was a fifth of a cold ``count`` over 2,000 files,
so off a terminal the rows are padded here, with rich's own cell widths, to the same text
(``tests/unit/test_cli_table.py`` compares the two). A cell rich would treat specially (a
control character, a tab, a line break) or a row wider than rich's plain width goes through
rich, so the output never differs.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

import attrs

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

PLAIN_WIDTH = 10_000  # off a terminal: wide enough that rich never wraps a row
_SPECIAL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
"""What rich does not print as it is (control codes are stripped, tabs expanded, breaks split)."""


@attrs.frozen
class Styled:
    """A cell with a rich style (``"bold red"``), shown only on a terminal."""

    text: str
    style: str


Cell = str | Styled
Headers = Sequence[tuple[str, str]]  # (name, "left" | "right")


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


def print_rows(headers: Headers, rows: Sequence[Sequence[Cell]], stream: TextIO) -> None:
    """A borderless table, columns two spaces apart, with a header line."""
    if not stream.isatty():
        texts = [[c.text if isinstance(c, Styled) else c for c in row] for row in rows]
        lines = _plain_lines(headers, texts)
        if lines is not None:
            stream.write("".join(lines))
            return
    _print_rich(_rich_table(headers, rows), stream)


def _plain_lines(headers: Headers, rows: list[list[str]]) -> list[str] | None:
    """Rich's plain rendering of the table, or None where only rich knows it."""
    from rich.cells import cell_len

    table = [[name for name, _ in headers], *rows]
    if not all(_plain_cell(cell) for row in table for cell in row):
        return None
    widths = [0] * len(headers)
    lens = [[cell_len(cell) for cell in row] for row in table]
    for row_lens in lens:
        for i, n in enumerate(row_lens):
            widths[i] = max(widths[i], n)
    if sum(widths) + 2 * (len(widths) - 1) > PLAIN_WIDTH:
        return None
    right = [justify == "right" for _, justify in headers]
    out: list[str] = []
    for row, row_lens in zip(table, lens, strict=True):
        parts: list[str] = []
        for i, cell in enumerate(row):
            if right[i]:  # rich drops a right-justified cell's trailing blanks, then aligns it
                cell = cell.rstrip()
                parts.append(" " * (widths[i] - cell_len(cell)) + cell)
            else:
                parts.append(cell + " " * (widths[i] - row_lens[i]))
        out.append("  ".join(parts).rstrip() + "\n")
    return out


def _plain_cell(cell: str) -> bool:
    """Whether every character is one rich prints as it is, one or two columns wide: no control
    codes, and outside ASCII only letters, digits, punctuation, symbols and spaces (rich has
    rules of its own for zero-width joiners, combining marks and format characters)."""
    if _SPECIAL.search(cell):
        return False
    if cell.isascii():
        return True
    from rich.cells import get_character_cell_size

    def printable(ch: str) -> bool:
        category = unicodedata.category(ch)
        return (category[0] in "LNPS" or category == "Zs") and get_character_cell_size(ch) > 0

    return all(ch.isascii() or printable(ch) for ch in cell)


def _rich_table(headers: Headers, rows: Sequence[Sequence[Cell]]) -> Table:
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, show_edge=False, pad_edge=False, padding=(0, 2, 0, 0))
    for name, justify in headers:
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*(Text(c.text, style=c.style) if isinstance(c, Styled) else c for c in row))
    return table


def _print_rich(table: Table, stream: TextIO) -> None:
    """Print ``table`` with rich; off a terminal, lines lose the padding rich puts at their end."""
    con = console(stream)
    if con.is_terminal:
        con.print(table)
        return
    with con.capture() as captured:
        con.print(table)
    stream.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))
