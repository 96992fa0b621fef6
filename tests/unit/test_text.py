"""Text structure (``prompt_tokens.text``): front matter, fences and code spans scanned whole
and in pieces with the carried state, against independent models."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from prompt_tokens.text.code import BEYOND, code_spans, fence_at, fence_scan, fenced_regions
from prompt_tokens.text.lines import LINE_BREAK, first_line, line_end, line_start
from prompt_tokens.text.markdown import (
    front_matter_bounds,
    front_matter_close,
    front_matter_open,
    heading_title,
    leading_heading,
    section_fence_lines,
    section_heads,
)
from tests.unit import reference_scanner
from tests.unit.prompt_pieces import STATE_PIECES

FM_PIECES = ["---", "...", "\n", "\r\n", "\r", " ", "\t", "a: 1", "\ufeff", "-- -", "x"]

texts = st.lists(st.sampled_from(STATE_PIECES), max_size=60).map("".join)


def line_starts(text: str) -> list[int]:
    return [0, *(m.end() for m in LINE_BREAK.finditer(text))]


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.sampled_from(FM_PIECES), max_size=14).map("".join))
def test_front_matter_bounds_match_the_line_by_line_model(text: str) -> None:
    assert front_matter_bounds(text) == reference_scanner.front_matter_bounds(text)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(FM_PIECES), max_size=14).map("".join), st.integers(0, 30))
def test_front_matter_found_line_by_line_equals_the_whole(text: str, cut: int) -> None:
    """Opening line in the first piece, closing line in a later one (pieces cut at line
    starts), as the document model searches it."""
    starts = line_starts(text)
    cut = starts[min(cut, len(starts) - 1)]
    head, tail = text[:cut], text[cut:]
    whole = front_matter_bounds(text)
    opened = front_matter_open(head, more=bool(tail)) if head else None
    if opened is None or whole is None:
        assert whole is None or (opened is None and not head)
        return
    close = front_matter_close(head, opened) if opened < len(head) else None
    if close is None:
        close = front_matter_close(tail)
        close = None if close is None else (close[0] + cut, close[1] + cut)
    assert close == whole[1:]


@settings(max_examples=1500, deadline=None)
@given(texts, st.integers(0, 100))
def test_fences_scanned_in_two_pieces_with_the_carried_state(text: str, k: int) -> None:
    whole = fence_scan(text)
    assert whole.regions == fenced_regions(text)
    starts = line_starts(text)
    cut = starts[min(k, len(starts) - 1)]
    state = fence_at(whole, cut, None)
    first, second = fence_scan(text[:cut]), fence_scan(text[cut:], 0, state)
    assert first.end == state
    assert second.end == whole.end
    pieces = [*first.regions, *((a + cut, b + cut) for a, b in second.regions)]
    assert covered(pieces) == covered(whole.regions)


def covered(regions: list[tuple[int, int]]) -> set[int]:
    return {i for a, b in regions for i in range(a, b)}


@settings(max_examples=1500, deadline=None)
@given(texts, st.integers(0, 100))
def test_code_spans_cut_where_no_decision_crosses(text: str, k: int) -> None:
    """Scanning ``[0, cut)`` (paragraph open at the cut) and ``[cut, end)`` apart gives the
    whole text's spans exactly when no decision of the first piece reaches past the cut."""
    whole = code_spans(text, 0, len(text))
    starts = line_starts(text)
    cut = starts[min(k, len(starts) - 1)]
    first = code_spans(text, 0, cut, open_end=cut < len(text))
    crossed = any(p < cut < q or q == BEYOND for p, q in first.decisions)
    if crossed:
        return
    second = code_spans(text, cut, len(text))
    assert first.spans + second.spans == whole.spans
    assert all(q != BEYOND for _, q in whole.decisions)


def test_code_span_rules() -> None:
    assert code_spans("a `b` c", 0, 7).spans == [(2, 5)]
    assert code_spans("``a`b``", 0, 7).spans == [(0, 7)]
    assert code_spans("\\`a` b`", 0, 7).spans == [(3, 7)]  # the escaped run is literal
    assert code_spans("`a\n\nb`", 0, 6).spans == []  # not across a blank line
    open_run = code_spans("`a\nb", 0, 4, open_end=True)
    assert open_run.spans == [] and open_run.decisions == [(0, BEYOND)]


def test_headings_and_sections() -> None:
    assert heading_title("## Two ##") == "Two"
    assert heading_title("#no space") is None
    assert leading_heading("# T😀\nbody") == ("T😀", 5)
    assert section_fence_lines("```\n  ~~~\n    ```\nx ```\n") == 2
    text = "# A\n```\n# in\n```\r\n## B\r# after lone CR\n"
    assert [(o, ln, t) for o, ln, t, _ in section_heads(text)] == [(0, 0, "A"), (18, 4, "B")]


def test_line_helpers() -> None:
    text = "ab\r\ncd\re"
    assert first_line(text) == "ab"
    assert line_start(text, 5) == 4
    assert line_end(text, 4) == 6
    assert line_start(text, 7) == 7
