"""Moving a window's occurrences to document positions (``references.window``): the
comprehension that moves them all changes the span and keeps every other field."""

from __future__ import annotations

import attrs
from hypothesis import given
from hypothesis import strategies as st

from prompt_tokens.references.window import shift_all
from prompt_tokens.results import Occurrence, Span

_text = st.text(max_size=8)
_occurrence = st.builds(
    Occurrence,
    kind=st.sampled_from(["file", "url", "variable"]),
    target=_text,
    syntax=st.sampled_from(["at", "file", "mustache", "input"]),
    span=st.builds(
        Span,
        st.integers(0, 99),
        st.integers(0, 99),
        st.integers(0, 99),
        st.integers(0, 99),
        st.integers(0, 9999),
        st.integers(0, 9999),
    ),
    placeholder=st.none() | _text,
    untrimmed=st.none() | _text,
    raw=_text,
)


@given(st.lists(_occurrence, max_size=6), st.integers(0, 50), st.integers(0, 5000))
def test_shift_all_moves_only_the_span(found: list[Occurrence], dline: int, doffset: int) -> None:
    def moved(s: Span) -> Span:  # by field name: an argument out of place fails the test
        return attrs.evolve(
            s,
            line=s.line + dline,
            end_line=s.end_line + dline,
            offset=s.offset + doffset,
            end_offset=s.end_offset + doffset,
        )

    expected = [attrs.evolve(o, span=moved(o.span)) for o in found]
    assert shift_all(found, dline, doffset) == expected


def test_occurrence_has_the_fields_shift_all_spells_out() -> None:
    """``shift_all`` constructs positionally: a field added to ``Occurrence`` must be added
    there too, or it would be dropped."""
    assert [(f.name, f.init, f.kw_only) for f in attrs.fields(Occurrence)] == [
        (name, True, False)
        for name in ("kind", "target", "syntax", "span", "placeholder", "untrimmed", "raw")
    ]


def test_shift_all_moves_every_field_it_should_and_keeps_the_others() -> None:
    o = Occurrence("file", "a.md", "at", Span(1, 2, 3, 4, 5, 6), "p", "a.md,", "@a.md,")
    (moved,) = shift_all([o], 10, 100)
    assert moved == Occurrence(
        "file", "a.md", "at", Span(11, 2, 13, 4, 105, 106), "p", "a.md,", "@a.md,"
    )
