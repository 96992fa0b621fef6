"""Placed diagnostics kept between edits (``lsp.placed``) publish exactly what placing every
diagnostic from scratch publishes, after any sequence of real edits (``sync.apply_changes`` on
a ``DocumentState``), for UTF-16 and UTF-32 clients."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from lsprotocol import types
from pygls.protocol import default_converter

from prompt_tokens.document import DocumentState
from prompt_tokens.lsp import diagnostics, sync
from prompt_tokens.lsp.placed import json_of
from prompt_tokens.lsp.state import OpenDocument
from prompt_tokens.results import Diagnostic, DocumentResult, Span, TokenCounts

TOKEN = re.compile(r"@\w+")
LINE_BREAK = re.compile(r"\r\n|\r|\n")
CONVERTER = default_converter()


class _Protocol:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def notify_text(self, method: str, params: str) -> None:
        self.sent.append((method, json.loads(params)))


class _Server:
    def __init__(self) -> None:
        self.protocol = _Protocol()


def units(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def engine_diagnostics(text: str) -> list[Diagnostic]:
    """Diagnostics as the engine gives them for ``text``: one per ``@token`` at its span, a
    budget one on line 0 whose message changes with the text, and fixed ranges that need
    clamping (past a line's end, past the last line)."""
    starts = [0, *(m.end() for m in LINE_BREAK.finditer(text))]
    out = [Diagnostic("budget-exceeded", "warning", f"{len(text)} chars", Span(0, 0, 0, 0))]
    for m in TOKEN.finditer(text):
        line = max(i for i, s in enumerate(starts) if s <= m.start())
        col = units(text[starts[line] : m.start()])
        out.append(
            Diagnostic(
                "reference-not-found",
                "warning",
                f"{m.group()} not found",
                Span(line, col, line, col + units(m.group()), m.start(), m.end()),
            )
        )
    for line in (1, 3, 40):
        out.append(Diagnostic("fixed", "information", "x", Span(line, 2, line, 12, -1, -2)))
    out.append(Diagnostic("fixed", "error", "two lines", Span(1, 5, 2, 3, -1, -2)))
    return out


def result_of(text: str) -> DocumentResult:
    return DocumentResult(
        "/p.md", "cl100k_base", 100, None, TokenCounts(), diagnostics=engine_diagnostics(text)
    )


def published(doc: OpenDocument, text: str, version: int) -> list[Any]:
    ls = _Server()
    result = result_of(text)
    doc.diagnostics_version = None  # publish even if unchanged
    diagnostics.publish(ls, doc, result, version)  # type: ignore[arg-type]
    (method, params), *_ = ls.protocol.sent
    assert method == types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS
    assert params["version"] == version and params["uri"] == doc.uri
    return params["diagnostics"]  # type: ignore[no-any-return]


def scratch(doc: OpenDocument, text: str) -> list[Any]:
    """The same diagnostics placed one by one and written by the protocol's converter."""
    return [
        CONVERTER.unstructure(diagnostics.to_lsp(doc, d), types.Diagnostic)
        for d in engine_diagnostics(text)
    ]


def open_doc(text: str, encoding: str) -> OpenDocument:
    state = DocumentState(text, position_encoding=encoding)  # type: ignore[arg-type]
    return OpenDocument("file:///p.md", "/p.md", "markdown", 1, state, "/")


CHARS = st.sampled_from(list("ab @@_x \r\n\n\té😀"))
TEXTS = st.text(CHARS, max_size=120)
EDITS = st.lists(
    st.tuples(
        st.integers(0, 8),
        st.integers(0, 14),
        st.integers(0, 8),
        st.integers(0, 14),
        st.text(CHARS, max_size=6),
    ),
    max_size=14,
)


@settings(max_examples=300, deadline=None)
@given(TEXTS, EDITS, st.sampled_from(["utf-16", "utf-32"]), st.booleans())
def test_incremental_diagnostics_equal_a_fresh_placement(
    text: str, edits: list[tuple[int, int, int, int, str]], encoding: str, same_line: bool
) -> None:
    doc = open_doc(text, encoding)
    published(doc, doc.state.text(), 1)
    for version, (line, col, end_line, end_col, new) in enumerate(edits, start=2):
        # mostly edits within one line (the cache keeps the other lines' diagnostics)
        rng = (line, col, line if same_line else end_line, end_col)
        sync.apply_changes(doc, [(new, rng)])
        now = doc.state.text()
        got = published(doc, now, version)
        fresh = open_doc(now, encoding)
        assert got == scratch(fresh, now) == published(fresh, now, version)


@given(TEXTS, st.text(CHARS, max_size=60))
@settings(max_examples=50, deadline=None)
def test_whole_document_replacement_forgets_every_placement(text: str, new: str) -> None:
    doc = open_doc(text, "utf-16")
    published(doc, text, 1)
    sync.apply_changes(doc, [(new, None)])
    assert published(doc, new, 2) == scratch(open_doc(new, "utf-16"), new)


def test_deleting_between_a_cr_and_an_lf_renumbers_the_lines() -> None:
    text = "\r@\nx"  # lines "", "@", "x"; deleting "@" joins CR and LF into one break
    doc = open_doc(text, "utf-16")
    published(doc, text, 1)
    sync.apply_changes(doc, [("", (1, 0, 1, 1))])
    now = doc.state.text()
    assert now == "\r\nx"
    assert published(doc, now, 2) == scratch(open_doc(now, "utf-16"), now)


def test_json_of_is_what_the_converter_writes() -> None:
    rng = types.Range(types.Position(1, 2), types.Position(3, 4))
    for d in (
        types.Diagnostic(rng, "m", types.DiagnosticSeverity.Hint, "c", source="s"),
        types.Diagnostic(rng, 'é 😀 "q"', None, None),
    ):
        assert json_of(d) == CONVERTER.unstructure(d, types.Diagnostic)


def test_unchanged_diagnostics_are_not_sent_again() -> None:
    doc = open_doc("a @x\nb\n", "utf-16")
    ls = _Server()
    result = result_of("a @x\nb\n")
    result.diagnostics = result.diagnostics[1:2]  # the @x one, on line 0
    diagnostics.publish(ls, doc, result, 1)  # type: ignore[arg-type]
    before = doc.published_diagnostics[0]
    sync.apply_changes(doc, [("c", (1, 1, 1, 1))])  # line 1 changes: line 0's stays placed
    diagnostics.publish(ls, doc, result, 2)  # type: ignore[arg-type]
    assert [p["version"] for _, p in ls.protocol.sent] == [1]
    assert doc.published_diagnostics[0] is before
    sync.apply_changes(doc, [("d", (0, 0, 0, 0))])  # line 0 changes: placed again
    assert not doc.placed.entries
