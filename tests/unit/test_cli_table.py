"""Off a terminal the CLI writes its tables itself; the text must be exactly what rich prints."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from prompt_tokens.cli import table as tables
from prompt_tokens.cli.table import Styled, print_rows

HEADERS = [("file", "left"), ("text", "right"), ("note", "left"), ("n", "right")]

# Wide (CJK, emoji), no-break and ideographic spaces, markup-looking, blank and plain cells.
PRINTABLE = [*"abc XYZ/._-[]()=:#@{}", "漢", "字", "😀", "é", "…", "≈", "%", ",", "\xa0", "\u3000"]
cell = st.text(alphabet=st.sampled_from(PRINTABLE), max_size=12) | st.sampled_from(
    ["", " ", "  lead", "trail  ", "[bold]x[/bold]", "[link](a.md)"]
)
rows = st.lists(st.lists(cell, min_size=4, max_size=4), max_size=12)
# What rich has rules of its own for: zero-width joiners, combining marks, format characters.
ZERO_WIDTH = ["\u200d", "\u0301", "\u20dd", "\u200b", "\ufeff", "\U000e0001"]
any_cell = st.text(alphabet=st.sampled_from(PRINTABLE + ZERO_WIDTH), max_size=12)


def _rich(headers: list[tuple[str, str]], body: list[list[str]]) -> str:
    out = io.StringIO()
    tables._print_rich(tables._rich_table(headers, body), out)
    return out.getvalue()


@settings(max_examples=400, deadline=None)
@given(body=rows)
def test_plain_text_is_riches(body: list[list[str]]) -> None:
    lines = tables._plain_lines(HEADERS, body)
    assert lines is not None  # printable text is never handed back to rich
    assert "".join(lines) == _rich(HEADERS, body)


@settings(max_examples=200, deadline=None)
@given(body=rows, special=st.sampled_from(["\t", "\n", "\r", "\x1b[31m", "\x00", "\x85"]))
def test_special_characters_go_through_rich(body: list[list[str]], special: str) -> None:
    body = [*body, ["a" + special + "b", "1", "", "2"]]
    assert tables._plain_lines(HEADERS, body) is None
    out = io.StringIO()
    print_rows(HEADERS, body, out)
    assert out.getvalue() == _rich(HEADERS, body)


@settings(max_examples=300, deadline=None)
@given(body=st.lists(st.lists(any_cell, min_size=4, max_size=4), max_size=8))
def test_any_text_prints_as_rich_does(body: list[list[str]]) -> None:
    out = io.StringIO()
    print_rows(HEADERS, body, out)
    assert out.getvalue() == _rich(HEADERS, body)


def test_styles_are_only_for_terminals() -> None:
    out = io.StringIO()
    print_rows(HEADERS, [["a.md", "1,234", Styled("exceeded", "bold red"), "7"]], out)
    assert out.getvalue() == _rich(HEADERS, [["a.md", "1,234", "exceeded", "7"]])
    assert "\x1b" not in out.getvalue()
