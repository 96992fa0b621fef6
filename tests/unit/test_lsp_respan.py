"""``counting.respan`` (reference results moved to where the same references are after
edits) and ``counting.reference_key`` against their plain definitions, through real edits of a
``DocumentState`` and whole-text scans."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from prompt_tokens.document import DocumentState
from prompt_tokens.lsp import counting
from prompt_tokens.lsp.state import RefMemo
from prompt_tokens.references.syntax import scan
from prompt_tokens.results import Occurrence, ReferenceResult, widen


def plain_respan(memo: RefMemo, occ: list[Occurrence]) -> list[ReferenceResult]:
    """The definition: each result with its occurrence's new span, widened as before."""
    out = []
    for i, res in enumerate(memo.results):
        if i < len(memo.occurrences) and res.span is not None:
            old, new = memo.occurrences[i].span, occ[i].span
            extra = (res.span.end_offset - res.span.offset) - (old.end_offset - old.offset)
            out.append(attrs.evolve(res, span=widen(new, extra)))
        else:
            out.append(res)
    return out


def plain_key(cfg: Any, occ: list[Occurrence]) -> tuple[object, ...]:
    return (
        cfg.encoding,
        tuple(sorted(cfg.variables.items())),
        tuple((o.kind, o.target, o.untrimmed, o.syntax, o.placeholder) for o in occ),
    )


def results_for(occ: list[Occurrence], widths: list[int]) -> list[ReferenceResult]:
    out = [
        ReferenceResult(o.kind, o.target, tokens=i, span=widen(o.span, widths[i % len(widths)]))
        for i, o in enumerate(occ)
    ]
    out.append(ReferenceResult("file", "/nested.md", span=None, depth=1))  # nested: no span
    return out


PIECES = st.sampled_from(
    ["@a.md", "@b.txt.", " ", "x", "\n", "\r\n", "{{ v }}", "é", "😀", "#file:c.md"]
)
TEXTS = st.lists(PIECES, max_size=40).map("".join)
EDITS = st.lists(
    st.tuples(st.integers(0, 6), st.integers(0, 10), st.sampled_from(["", "y", "zz ", "\n", "é"])),
    min_size=1,
    max_size=10,
)


@settings(max_examples=300, deadline=None)
@given(TEXTS, EDITS, st.lists(st.integers(0, 2), min_size=1, max_size=4))
def test_respan_and_key_equal_their_definitions(
    text: str, edits: list[tuple[int, int, str]], widths: list[int]
) -> None:
    cfg: Any = SimpleNamespace(encoding="cl100k_base", variables={"v": "1", "a": "2"})
    state = DocumentState(text)
    occ = scan(state.text())
    memo = RefMemo(counting.reference_key(cfg, occ), occ, results_for(occ, widths), 0.0)
    for line, col, new in edits:
        state.apply_change(new, (line, col, line, col + (1 if not new else 0)))
        now = scan(state.text())
        key = counting.reference_key(cfg, now)
        assert key == plain_key(cfg, now)
        if key != memo.key:
            memo = RefMemo(key, now, results_for(now, widths), 0.0)
            continue
        assert counting.respan(memo, now) == plain_respan(memo, now)
