"""The whole-text scan that masks only near its triggers equals the one-window full scan."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from prompt_tokens.references.sparse import sparse_scan, sparse_window
from prompt_tokens.references.window import START, Options, scan_window
from prompt_tokens.text.code import code_span_regions, code_spans
from prompt_tokens.text.lines import LINE_BREAK, line_starts
from prompt_tokens.text.markdown import front_matter_end
from tests.unit.prompt_pieces import STATE_PIECES

# Inline code across lines and paragraphs, escapes, fences ending paragraphs, lone CR and CRLF.
CODE_PIECES = [
    "`", "``", "```", "`x`", "`` a ` b ``", "\\`", "\\\\`", "```\n", "\n```\n", "~~~\n",
    "> ```\n", "\n", "\n\n", "\n \n", "\r\n", "\r\n\r\n", "\r", "\r\r", " \t", "x",
    "@a.md", " @b/c.txt ", "#file:d.py", " #fetch:https://e.io/f", "[t](g.md)", "[a\\\r](h.md)",
    "{{ v }}", "{{#each xs}}", "{{/each}}", "${input:w}", "---\n", "@", "](", "{{", "\ufeff",
    "@https:/", "@HTTP://", "@name", "@name`.md`", "/", ".", "...", "),", "\x00",
]  # fmt: skip

KINDS = [("file", "url", "variable"), ("file",), ("url",), ("variable",)]


def full_scan(text: str, options: Options) -> list[tuple[int, object]]:
    fm = front_matter_end(text) if text.startswith(("---", "\ufeff---")) else 0
    res = scan_window(
        text,
        [len(text)],
        carry=START,
        fm_skip=fm,
        more=False,
        absent=lambda _closer: True,
        options=options,
    )
    return res.found


def check(text: str, kinds: tuple[str, ...], links: bool) -> None:
    options = Options.of(kinds, links)
    fm = front_matter_end(text) if text.startswith(("---", "\ufeff---")) else 0
    found = sparse_scan(text, fm, options)
    if found is not None:
        assert found == full_scan(text, options)


@settings(max_examples=3000, deadline=None)
@given(
    text=st.lists(st.sampled_from(CODE_PIECES), max_size=80).map("".join),
    kinds=st.sampled_from(KINDS),
    links=st.booleans(),
)
def test_sparse_scan_equals_the_full_scan_on_code(
    text: str, kinds: tuple[str, ...], links: bool
) -> None:
    check(text, kinds, links)


@settings(max_examples=1500, deadline=None)
@given(
    text=st.lists(st.sampled_from(STATE_PIECES), max_size=60).map("".join),
    kinds=st.sampled_from(KINDS),
    links=st.booleans(),
)
def test_sparse_scan_equals_the_full_scan_on_state_pieces(
    text: str, kinds: tuple[str, ...], links: bool
) -> None:
    check(text, kinds, links)


def test_long_paragraphs_far_from_their_start() -> None:
    """A paragraph start looked for further back than the first step reaches."""
    body = "`open\n" + "word " * 600 + "\n" + "more `close @x/y.md\n\n@z/w.md `q`\n"
    for text in (body, "intro\n\n" + body, "```\ncode\n```\n" + body):
        check(text, ("file",), False)
        assert sparse_scan(text, 0, Options.of(("file",), False)) == full_scan(
            text, Options.of(("file",), False)
        )


def test_template_windows_are_left_to_the_full_window_scan() -> None:
    """A whole text with template comments or tags is scanned sparsely; a window of a
    stream is not (its look-ahead decisions must be recorded)."""
    options = Options.of(("file", "url", "variable"), False)
    for text in ("{# c #} @a.md", "{{! c }} @a.md", "{% set x = 1 %} {{ x }} {{ y }}"):
        assert sparse_scan(text, 0, options) == full_scan(text, options)
        assert sparse_window(text, 0, options, START) is None
    assert sparse_window("{{#each xs}}{{ y }}{{/each}}", 0, options, START) is not None
    assert sparse_scan("no triggers at all, a@b.c", 0, options) == []


@given(st.text(alphabet="ab\r\n ", max_size=40))
def test_line_starts_equal_the_line_break_pattern(text: str) -> None:
    assert line_starts(text) == [0, *(m.end() for m in LINE_BREAK.finditer(text))]


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="```\\ \t\r\n\nab", max_size=60), st.data())
def test_code_span_regions_equal_the_run_by_run_pairing(text: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    assert code_span_regions(text, start, end) == code_spans(text, start, end).spans


def test_code_span_regions_from_just_after_a_backtick() -> None:
    assert code_span_regions("``a`", 1, 4) == code_spans("``a`", 1, 4).spans == [(1, 4)]
