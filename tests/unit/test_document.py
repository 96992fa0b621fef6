"""DocumentState against plain references: text, lines, positions and EXACT token counts after
random edit sequences (CRLF, lone CR, emoji, headings, fences, edits that join or split
``\\r\\n``), checked with plain tiktoken on the whole text after every edit."""

from __future__ import annotations

import gc
import re
import weakref

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prompt_tokens.document import DocumentState, split_text
from prompt_tokens.references import blocks as blocks_module
from prompt_tokens.references.blocks import BlockScanner
from prompt_tokens.results import Occurrence, Span
from prompt_tokens.text.lines import count_breaks, index_of_units, units_of
from tests.conftest import plain_count
from tests.unit import reference_scanner
from tests.unit.prompt_pieces import PIECES, REF_PIECES

_BREAK = re.compile(r"\r\n|\r|\n")

# ---- independent reference model -----------------------------------------------------------


def line_starts(text: str) -> list[int]:
    return [0] + [m.end() for m in _BREAK.finditer(text)]


def ref_position(text: str, offset: int, enc: str) -> tuple[int, int]:
    starts = line_starts(text)
    line = max(i for i, s in enumerate(starts) if s <= offset)
    # an offset between \r and \n belongs to the line the \r\n ends
    prefix = text[starts[line] : offset]
    return line, ref_units(prefix, enc)


def ref_units(s: str, enc: str) -> int:
    if enc == "utf-16":
        return len(s.encode("utf-16-le", "surrogatepass")) // 2
    if enc == "utf-8":
        return len(s.encode("utf-8", "surrogatepass"))
    return len(s)


def ref_offset(text: str, line: int, col: int, enc: str) -> int:
    starts = line_starts(text)
    if line >= len(starts):
        return len(text)
    start = starts[line]
    m = _BREAK.search(text, start)
    end = m.start() if m else len(text)
    content = text[start:end]
    for i in range(len(content) + 1):
        if ref_units(content[:i], enc) >= col:
            return start + i
    return end


def check(doc: DocumentState, text: str, enc: str = "cl100k_base") -> None:
    assert doc.text() == text
    assert "".join(b.text for b in doc.blocks) == text
    assert all(b.text for b in doc.blocks) or text == ""
    assert all(b.text.endswith("\n") for b in doc.blocks[:-1])
    assert len(doc) == len(text)
    assert doc.line_count == len(line_starts(text))
    doc.count_pending()
    assert doc.text_tokens == plain_count(enc, text)
    assert sum(b.tokens or 0 for b in doc.blocks) == plain_count(enc, text)


# ---- unit checks -----------------------------------------------------------------------------


def test_count_breaks() -> None:
    assert count_breaks("a\r\nb\rc\nd") == 3
    assert count_breaks("\r\r\n\n") == 3
    assert count_breaks("x\u2028y\x0bz\x85") == 0  # not LSP line ends


@pytest.mark.parametrize("enc", ["utf-8", "utf-16", "utf-32"])
def test_units_roundtrip(enc: str) -> None:
    s = "a😀b中e\u0301👩‍👩‍👧z"
    for i in range(len(s) + 1):
        u = units_of(s[:i], enc)  # type: ignore[arg-type]
        assert u == ref_units(s[:i], enc)
        assert index_of_units(s, u, enc) == i  # type: ignore[arg-type]
    assert index_of_units(s, 10_000, enc) == len(s)  # type: ignore[arg-type]


def test_utf16_inside_surrogate_pair_rounds_up() -> None:
    assert index_of_units("😀x", 1, "utf-16") == 1
    assert index_of_units("😀x", 2, "utf-16") == 1
    assert index_of_units("😀x", 3, "utf-16") == 2


def test_split_text_cuts_before_headings(encoding_name: str) -> None:
    text = "intro\n# One\nbody\n## Two\nmore\n"
    pieces = split_text(text, encoding_name, target=10_000)
    assert pieces == ["intro\n", "# One\nbody\n", "## Two\nmore\n"]
    assert split_text("", encoding_name) == [""]


def test_positions_and_lines() -> None:
    text = "ab\r\ncd\re😀f\ng"
    doc = DocumentState(text, block_chars=4)
    assert doc.line_count == 4
    assert doc.line_text(0) == "ab"
    assert doc.line_text(2) == "e😀f"
    assert doc.line_end(2) == 4  # utf-16: the emoji is 2 units
    assert doc.offset_at(2, 3) == text.index("f")
    assert doc.offset_at(0, 99) == 2  # clamps before \r\n
    assert doc.offset_at(99, 0) == len(text)
    assert doc.position_at(text.index("f")) == (2, 3)
    assert doc.position_at(len(text)) == (3, 1)
    doc32 = DocumentState(text, position_encoding="utf-32")
    assert doc32.line_end(2) == 3
    assert doc32.offset_at(2, 2) == text.index("f")


def test_incremental_edit_keeps_untouched_blocks() -> None:
    text = "".join(f"line {i} with some words\n" for i in range(2000))
    doc = DocumentState(text, block_chars=1024)
    doc.count_pending()
    before = list(doc.blocks)
    mid = len(doc.blocks) // 2
    line = doc._index()[1][mid] + 3
    doc.apply_change("X", (line, 2, line, 2))
    after = doc.blocks
    same = sum(1 for b in after if any(b is o for o in before))
    assert same >= len(before) - 3
    assert len(doc.pending_blocks()) <= 3
    text = text.replace(f"line {line} ", f"liXne {line} ", 1)
    check(doc, text)


def test_full_replacement_and_encoding_switch() -> None:
    doc = DocumentState("hello\nworld\n")
    doc.apply_change("new text\n// comment\n")
    check(doc, "new text\n// comment\n")
    assert doc.set_encoding("o200k_base")
    check(doc, "new text\n// comment\n", "o200k_base")
    assert not doc.set_encoding("o200k_base")


def test_empty_document_edits() -> None:
    doc = DocumentState("")
    check(doc, "")
    doc.apply_change("abc\n", (0, 0, 0, 0))
    check(doc, "abc\n")
    doc.apply_change("", (0, 0, 1, 0))
    check(doc, "")
    assert len(doc.blocks) == 1


def test_crlf_join_and_split() -> None:
    doc = DocumentState("a\rb\n", block_chars=2)
    doc.apply_change("\nx", (1, 0, 1, 0))  # "a\r" + "\nx" + "b\n": the \r\n joins
    check(doc, "a\r\nxb\n")
    assert doc.line_count == 3
    doc.replace(2, 2, "y")  # between \r and \n: splits them again
    check(doc, "a\ry\nxb\n")
    assert doc.line_count == 4


def test_sections_sum_blocks(encoding_name: str) -> None:
    text = "intro\n# One\nbody text\n```\n# not a heading\n```\n## Two ##\nmore\r\n# Three\n"
    doc = DocumentState(text, encoding=encoding_name, block_chars=8)
    doc.count_pending()
    secs = doc.sections()
    assert secs is not None
    assert [(s.line, s.title) for s in secs] == [(1, "One"), (6, "Two"), (8, "Three")]
    one = text[text.index("# One") : text.index("## Two")]
    two = text[text.index("## Two") : text.index("# Three")]
    assert [s.tokens for s in secs] == [
        plain_count(encoding_name, one),
        plain_count(encoding_name, two),
        plain_count(encoding_name, "# Three\n"),
    ]
    assert secs[1].end_col == len("## Two ##")


def test_section_titles_of_crlf_lines() -> None:
    doc = DocumentState("# One\r\nbody\r\n## Two ##\r\n")
    doc.count_pending()
    secs = doc.sections()
    assert secs is not None
    assert [(s.title, s.end_col) for s in secs] == [("One", 5), ("Two", len("## Two ##"))]


_scanner = BlockScanner(markdown_links=True)
"""Incremental when given to ``DocumentState.occurrences``."""


def _reference(text: str) -> list[Occurrence]:
    """The whole-text scanner the incremental one must agree with."""
    return reference_scanner.scan(text, markdown_links=True)


def _key(occ: list[Occurrence]) -> list[tuple[str, str, Span]]:
    return [(o.kind, o.target, o.span) for o in occ]


def test_occurrences_incremental_with_fences() -> None:
    text = "see @a.md\n```\n@b.md\n" + "x\n" * 20 + "```\n@c.md here\n"
    doc = DocumentState(text, block_chars=8)
    assert _key(doc.occurrences(_scanner)) == _key(_reference(text))
    assert [o.target for o in doc.occurrences(_scanner)] == ["a.md", "c.md"]
    # close the fence early: the fence state of every later block flips
    doc.apply_change("```\n", (2, 0, 2, 0))
    text = doc.text()
    assert _key(doc.occurrences(_scanner)) == _key(_reference(text))
    assert [o.target for o in doc.occurrences(_scanner)] == ["a.md", "b.md"]


def test_edit_that_repeats_a_block_text_keeps_the_fence() -> None:
    # re-splitting gives two "~~~\n" pieces: each must be its own block, or the fence
    # analysis (blocks told apart by identity) loses the pair and scans inside the fence
    doc = DocumentState("~~~\n@a.md ~~~\n", block_chars=1)
    doc.occurrences(_scanner)
    doc.replace(len("~~~\n@a.md "), len("~~~\n@a.md "), "## Title\n")
    assert len({id(b) for b in doc.blocks}) == len(doc.blocks)
    assert doc.occurrences(_scanner) == []
    doc.replace(len("~~~\n@a.md #"), len("~~~\n@a.md ## "), "")  # an edit inside the fence
    assert doc.text() == "~~~\n@a.md #Title\n~~~\n"
    assert _key(doc.occurrences(_scanner)) == _key(_reference(doc.text())) == []


def test_occurrences_rescan_only_touched_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "".join(f"para {i} @f{i}.md and {{{{ v{i} }}}}\n" for i in range(500))
    doc = DocumentState(text, block_chars=256)
    scanned: list[int] = []
    real = blocks_module.scan_window

    def counting(window: str, *args: object, **kw: object) -> object:
        scanned.append(len(window))
        return real(window, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(blocks_module, "scan_window", counting)
    assert len(doc.occurrences(_scanner)) == 1000
    assert sum(scanned) == len(text)  # every block once: nothing carries state across
    scanned.clear()
    doc.apply_change("X", (250, 0, 250, 0))
    occ = doc.occurrences(_scanner)
    assert _key(occ) == _key(_reference(doc.text()))
    assert 0 < sum(scanned) <= 3 * 256  # only the touched block(s) were scanned again
    scanned.clear()
    doc.occurrences(_scanner)
    assert scanned == []


def test_a_fence_opened_and_closed_again_rescans_only_to_where_state_agrees(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = "".join(f"line {i} @f{i}.md\n" for i in range(400))
    text = body + "```\n@in.md\n```\n" + body
    doc = DocumentState(text, block_chars=128)
    doc.occurrences(_scanner)
    scanned: list[int] = []
    real = blocks_module.scan_window
    monkeypatch.setattr(
        blocks_module,
        "scan_window",
        lambda w, *a, **k: scanned.append(len(w)) or real(w, *a, **k),  # type: ignore[misc]
    )
    doc.replace(100, 100, "```\n")  # opens a fence: every later block's state flips
    assert _key(doc.occurrences(_scanner)) == _key(_reference(doc.text()))
    assert sum(scanned) >= len(text) // 2
    scanned.clear()
    doc.replace(100, 104, "")  # closes it again: back to the old states after a block or two
    assert _key(doc.occurrences(_scanner)) == _key(_reference(doc.text()))
    assert sum(scanned) <= 4 * 128


def test_occurrences_stateful_constructs() -> None:
    text = "{% set v1 = 'x' %}\n" + "".join(f"line @f{i}.md {{{{ v{i} }}}}\n" for i in range(50))
    doc = DocumentState(text, block_chars=16)
    assert _key(doc.occurrences(_scanner)) == _key(_reference(text))
    assert "v1" not in [o.target for o in doc.occurrences(_scanner)]
    text = "---\nmodel: gpt-4o\n@nope.md\n---\n" + text
    doc = DocumentState(text, block_chars=4)
    assert _key(doc.occurrences(_scanner)) == _key(_reference(text))
    # a horizontal rule pair in the middle is not front matter
    text = "intro @a.md\n---\n@b.md\n---\n@c.md\n"
    doc = DocumentState(text, block_chars=4)
    assert _key(doc.occurrences(_scanner)) == _key(_reference(text))
    assert len(doc.occurrences(_scanner)) == 3


# ---- properties ------------------------------------------------------------------------------


@st.composite
def texts(draw: st.DrawFn, max_pieces: int = 40) -> str:
    return "".join(draw(st.lists(st.sampled_from(PIECES), max_size=max_pieces)))


@st.composite
def edit_scripts(draw: st.DrawFn) -> tuple[str, list[tuple[float, float, str]]]:
    text = draw(texts(60))
    edits = draw(
        st.lists(
            st.tuples(
                st.floats(0, 1, allow_nan=False),
                st.floats(0, 0.3, allow_nan=False),
                texts(6),
            ),
            max_size=12,
        )
    )
    return text, edits


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    script=edit_scripts(),
    block_chars=st.sampled_from([1, 8, 32, 4096]),
    enc=st.sampled_from(["cl100k_base", "o200k_base"]),
    pos_enc=st.sampled_from(["utf-16", "utf-32", "utf-8"]),
)
def test_random_lsp_edits_stay_exact(
    script: tuple[str, list[tuple[float, float, str]]], block_chars: int, enc: str, pos_enc: str
) -> None:
    text, edits = script
    doc = DocumentState(text, encoding=enc, block_chars=block_chars, position_encoding=pos_enc)  # type: ignore[arg-type]
    check(doc, text, enc)
    for where, width, new in edits:
        a = int(where * len(text))
        b = min(len(text), a + int(width * len(text)))
        (l1, c1), (l2, c2) = ref_position(text, a, pos_enc), ref_position(text, b, pos_enc)
        # what the client means by those positions (an offset inside \r\n is not expressible)
        ra, rb = ref_offset(text, l1, c1, pos_enc), ref_offset(text, l2, c2, pos_enc)
        assert doc.offset_at(l1, c1) == ra
        assert doc.position_at(ra) == ref_position(text, ra, pos_enc)
        doc.apply_change(new, (l1, c1, l2, c2))
        text = text[:ra] + new + text[max(ra, rb) :]
        check(doc, text, enc)
        lines = _BREAK.split(text)
        for k in {0, l1, len(lines) - 1, len(lines)}:
            content = lines[k] if k < len(lines) else ""
            assert doc.line_text(k) == content
            assert doc.line_end(k) == ref_units(content, pos_enc)
        secs = doc.sections()
        assert secs is not None
        total_in_sections = sum(s.tokens for s in secs)
        assert total_in_sections <= (doc.text_tokens or 0)


@settings(max_examples=200, deadline=None)
@given(
    script=edit_scripts(),
    block_chars=st.sampled_from([1, 16]),
    enc=st.sampled_from(["cl100k_base", "o200k_base"]),
)
def test_random_raw_replacements_stay_exact(
    script: tuple[str, list[tuple[float, float, str]]], block_chars: int, enc: str
) -> None:
    """Offsets anywhere, including between ``\\r`` and ``\\n``."""
    text, edits = script
    doc = DocumentState(text, encoding=enc, block_chars=block_chars)
    for where, width, new in edits:
        a = int(where * len(text))
        b = min(len(text), a + int(width * len(text)))
        doc.replace(a, b, new)
        text = text[:a] + new + text[b:]
        check(doc, text, enc)


@st.composite
def ref_scripts(draw: st.DrawFn) -> tuple[str, list[tuple[float, float, str]]]:
    text = "".join(draw(st.lists(st.sampled_from(REF_PIECES), max_size=80)))
    edits = draw(
        st.lists(
            st.tuples(
                st.floats(0, 1, allow_nan=False),
                st.floats(0, 0.2, allow_nan=False),
                st.lists(st.sampled_from(REF_PIECES), max_size=4).map("".join),
            ),
            max_size=10,
        )
    )
    return text, edits


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=ref_scripts(), block_chars=st.sampled_from([1, 8, 64]))
def test_random_edits_occurrences_match_whole_text_scan(
    script: tuple[str, list[tuple[float, float, str]]], block_chars: int
) -> None:
    text, edits = script
    doc = DocumentState(text, block_chars=block_chars)
    assert _key(doc.occurrences(_scanner)) == _key(_reference(text))
    for where, width, new in edits:
        a = int(where * len(text))
        b = min(len(text), a + int(width * len(text)))
        doc.replace(a, b, new)
        text = text[:a] + new + text[b:]
        assert _key(doc.occurrences(_scanner)) == _key(_reference(text))


def _engine_sections(text: str, encoding: str) -> list[tuple[int, str, int, int]]:
    from prompt_tokens.engine import PromptEngine
    from prompt_tokens.settings import Settings

    engine = PromptEngine(Settings(), resolver=None)  # type: ignore[arg-type]
    return [(s.line, s.title, s.tokens, s.end_col) for s in engine.sections(text, encoding)]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    script=ref_scripts(),
    block_chars=st.sampled_from([1, 16, 4096]),
    enc=st.sampled_from(["cl100k_base", "o200k_base"]),
)
def test_sections_match_the_engine(
    script: tuple[str, list[tuple[float, float, str]]], block_chars: int, enc: str
) -> None:
    text, edits = script
    doc = DocumentState(text, encoding=enc, block_chars=block_chars)
    for where, width, new in [*edits, (0.0, 0.0, "")]:
        a = int(where * len(text))
        b = min(len(text), a + int(width * len(text)))
        doc.replace(a, b, new)
        text = text[:a] + new + text[b:]
        doc.count_pending()
        secs = doc.sections()
        assert secs is not None
        ours = [(s.line, s.title, s.tokens, s.end_col) for s in secs]
        theirs = _engine_sections(text, enc)
        # the engine numbers lines by "\n" only; LSP (and we) also break at a lone "\r"
        assert [x[1:] for x in ours] == [x[1:] for x in theirs]
        assert all(doc.line_text(x.line).startswith("#") for x in secs)
        if "\r" not in text.replace("\r\n", ""):
            assert [x[0] for x in ours] == [x[0] for x in theirs]


def test_parallel_count_of_a_large_text() -> None:
    line = "Prose with words, numbers 123 and émojis 😀 — counted on two threads.\n"
    text = line * (1_500_000 // len(line))
    doc = DocumentState(text)
    progress: list[tuple[int, int]] = []
    assert doc.count_pending(progress=lambda d, t: progress.append((d, t)))
    assert doc.text_tokens == plain_count("cl100k_base", text)
    assert progress and progress[-1][1] == len(text)


def test_snapshot_is_isolated_and_adopted() -> None:
    doc = DocumentState("one\ntwo\nthree\n" * 500, block_chars=64)
    snap = doc.snapshot()
    doc.apply_change("X", (10, 0, 10, 0))
    assert snap.text() != doc.text()
    assert snap.count_pending()
    doc.adopt(snap)  # edited meanwhile: nothing adopted, still exact
    doc.count_pending()
    assert doc.text_tokens == plain_count("cl100k_base", doc.text())
    snap = doc.snapshot()
    doc.adopt(snap)
    assert doc.text_tokens == plain_count("cl100k_base", doc.text())


def test_a_replaced_block_is_freed_at_once_not_by_the_cyclic_collector() -> None:
    """A block and its reference-scan unit point at each other; the server freezes what a
    keystroke keeps instead of collecting it, so an edit must break that cycle itself."""
    doc = DocumentState("Intro @a.md here.\n\nSecond paragraph {{ name }}.\n\n" * 50)
    scanner = BlockScanner()
    doc.occurrences(scanner, scanner.key)
    gc.disable()
    try:
        edited = doc.blocks[len(doc.blocks) // 2]
        assert edited.unit is not None  # the premise: the scan left its unit on it
        probe = weakref.ref(edited)
        line = doc.position_at(doc.text().index(edited.text))[0]
        del edited
        doc.apply_change("x", (line, 0, line, 0))
        doc.occurrences(scanner, scanner.key)
        assert probe() is None
    finally:
        gc.enable()
