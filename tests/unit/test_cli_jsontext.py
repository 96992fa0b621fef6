"""The CLI's JSON writer gives exactly ``json.dumps(value, indent=2, ensure_ascii=False)``."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prompt_tokens.cli.jsontext import dumps_indented
from prompt_tokens.cli.output import print_json

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and ±Infinity included: json.dumps writes them too
    | st.text()  # any text: control characters, quotes, lone surrogates, non-ASCII
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(), inner, max_size=5)
    ),
    max_leaves=40,
)


@settings(max_examples=800, deadline=None)
@given(value=values)
def test_the_text_is_the_standard_librarys(value: object) -> None:
    assert dumps_indented(value) == json.dumps(value, indent=2, ensure_ascii=False)


@pytest.mark.parametrize("odd", [{1: "int key"}, {"set": {1, 2}}, [b"bytes"]])
def test_anything_else_is_refused(odd: object) -> None:
    with pytest.raises(TypeError):
        dumps_indented(odd)


def test_print_json_falls_back_to_the_standard_library() -> None:
    odd = {1: "int key", "n": [1.5, None]}  # json.dumps writes int keys as strings
    out = io.StringIO()
    print_json(odd, out)
    assert out.getvalue() == json.dumps(odd, indent=2, ensure_ascii=False) + "\n"
