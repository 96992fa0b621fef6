"""The reference scanner: every SPEC syntax, exclusions, trimming and exact UTF-16 spans."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prompt_tokens.references.syntax import (
    LineIndex,
    front_matter_end,
    markdown_links_enabled,
    scan,
    trim_trailing,
)
from prompt_tokens.results import Occurrence
from tests.unit import reference_scanner
from tests.unit.prompt_pieces import STATE_PIECES


def targets(text: str, **kw: object) -> list[tuple[str, str]]:
    return [(o.kind, o.target) for o in scan(text, **kw)]  # type: ignore[arg-type]


def slice_of(text: str, occ: Occurrence) -> str:
    return text[occ.span.offset : occ.span.end_offset]


# ---- files --------------------------------------------------------------------------------


def test_at_paths_need_slash_or_dot() -> None:
    text = "@docs/spec.md and @./notes.txt but not @legacy-team or @john\n@README"
    assert targets(text) == [("file", "docs/spec.md"), ("file", "./notes.txt")]


def test_at_only_at_line_start_or_after_whitespace() -> None:
    text = "x@a.md (@b.md) \t@c.md\n@d.md"
    assert targets(text) == [("file", "c.md"), ("file", "d.md")]


def test_email_addresses_are_not_references() -> None:
    text = "Mail jane@example.com or support@acme.example, and bob.smith@x.org."
    assert scan(text) == []


def test_hash_file_syntax() -> None:
    text = "Compare #file:src/app.py with #file:Makefile.\nnot a#file:x.md"
    assert targets(text) == [("file", "src/app.py"), ("file", "Makefile")]


def test_trailing_punctuation_recorded_both_ways() -> None:
    text = "see @a.md, then @docs/b.md. and (@c.md) or @d.md) or @e(1).md"
    occ = scan(text)
    assert [(o.target, o.untrimmed) for o in occ] == [
        ("a.md", "a.md,"),
        ("docs/b.md", "docs/b.md."),
        ("d.md", "d.md)"),
        ("e(1).md", None),
    ]
    assert [slice_of(text, o) for o in occ] == ["@a.md", "@docs/b.md", "@d.md", "@e(1).md"]
    assert [o.raw for o in occ] == ["@a.md", "@docs/b.md", "@d.md", "@e(1).md"]


@pytest.mark.parametrize(
    ("token", "trimmed"),
    [
        ("a.md", "a.md"),
        ("a.md.", "a.md"),
        ("a.md...", "a.md"),
        ("a.md,", "a.md"),
        ('a.md"', "a.md"),
        ("a.md');", "a.md"),
        ("wiki/Foo_(bar)", "wiki/Foo_(bar)"),
        ("wiki/Foo_(bar))", "wiki/Foo_(bar)"),
        ("x/[1]", "x/[1]"),
        ("x}", "x"),
        ("...", ""),
    ],
)
def test_trim_trailing(token: str, trimmed: str) -> None:
    assert trim_trailing(token) == trimmed


# ---- URLs ---------------------------------------------------------------------------------


def test_url_references_and_bare_urls() -> None:
    text = (
        "Use @https://api.example.com/v1/items. Also #fetch:http://x.org/a_(b) and "
        "#fetch:https://y.org/z?q=1&r=2\nbut https://bare.example.com and <https://auto.link> "
        "and [a link](https://linked.example) are text, as is #fetch:ftp://nope and @https://"
    )
    assert targets(text, markdown_links=True) == [
        ("url", "https://api.example.com/v1/items"),
        ("url", "http://x.org/a_(b)"),
        ("url", "https://y.org/z?q=1&r=2"),
    ]
    occ = scan(text)
    assert occ[0].untrimmed == "https://api.example.com/v1/items."
    assert [o.syntax for o in occ] == ["at", "fetch", "fetch"]
    assert slice_of(text, occ[1]) == "#fetch:http://x.org/a_(b)"


# ---- Markdown links -----------------------------------------------------------------------


def test_markdown_links_only_when_enabled() -> None:
    text = "Read [Form](../docs/Form.md) first."
    assert scan(text) == []
    (occ,) = scan(text, markdown_links=True)
    assert (occ.kind, occ.target, occ.syntax) == ("file", "../docs/Form.md", "link")
    assert slice_of(text, occ) == "[Form](../docs/Form.md)"


def test_markdown_link_forms() -> None:
    text = (
        '[a](docs/a.md#part "Title") [b](<my docs/b.md>) [c](c%20d.md) '
        "![img](pic.png) [web](https://x.org) [m](mailto:a@b.c) [top](#anchor) "
        "[nested [x] text](n.md) [win](C:/w.md) [q](q.md?plain=1)"
    )
    assert [o.target for o in scan(text, markdown_links=True)] == [
        "docs/a.md",
        "my docs/b.md",
        "c d.md",
        "n.md",
        "C:/w.md",
        "q.md",
    ]


@pytest.mark.parametrize(
    ("setting", "path", "on"),
    [
        ("auto", "/w/review.prompt.md", True),
        ("auto", "/w/a.instructions.md", True),
        ("auto", "/w/x.chatmode.md", True),
        ("auto", "/w/x.agent.md", True),
        ("auto", "/w/README.md", False),
        ("auto", "", False),
        (True, "/w/README.md", True),
        (False, "/w/review.prompt.md", False),
    ],
)
def test_markdown_links_auto_rule(setting: str | bool, path: str, on: bool) -> None:
    assert markdown_links_enabled(setting, path) is on


# ---- variables ----------------------------------------------------------------------------


def test_mustache_variables() -> None:
    text = (
        "{{ user_name }} {{name}} {{ user.name }} {{{ raw }}} {{& amp }} {{- trimmed -}} "
        '{{ shout | upper }} {{ 5 }} {{ this }} {{ @index }} {{ ../up }} {{role "system"}} '
        "{{else}} {{> partial}} {{! comment @c.md }} {{!-- long {{ hidden }} --}} {# j {{ hid }} #}"
    )
    assert targets(text) == [
        ("variable", "user_name"),
        ("variable", "name"),
        ("variable", "user.name"),
        ("variable", "raw"),
        ("variable", "amp"),
        ("variable", "trimmed"),
        ("variable", "shout"),
    ]
    occ = scan(text)
    assert [o.raw for o in occ[:4]] == [
        "{{ user_name }}",
        "{{name}}",
        "{{ user.name }}",
        "{{{ raw }}}",
    ]


def test_block_scopes_are_skipped() -> None:
    text = (
        "{{#if show}}{{ a }}{{/if}}"
        "{{#each items}}{{ name }}{{/each}}"
        "{{#with person}}{{ first }}{{/with}}"
        "{% for x, y in pairs %}{{ x }}{{ y.z }}{{ loop.index }}{{ b }}{% endfor %}"
        "{% set c = 1 %}{{ c }}{% raw %}{{ d }}{% endraw %}{{ e }}"
    )
    assert [o.target for o in scan(text)] == ["a", "b", "e"]


def test_input_variables() -> None:
    text = "Review ${input:file:path to the changed file} and ${input:topic}."
    occ = scan(text)
    assert [(o.target, o.placeholder, o.syntax) for o in occ] == [
        ("file", "path to the changed file", "input"),
        ("topic", None, "input"),
    ]
    assert slice_of(text, occ[0]) == "${input:file:path to the changed file}"


def test_kinds_filter() -> None:
    text = "@a.md @https://x.org/y {{ v }}"
    assert targets(text, kinds=("variable",)) == [("variable", "v")]
    assert targets(text, kinds=("url",)) == [("url", "https://x.org/y")]
    assert targets(text, kinds=("file",)) == [("file", "a.md")]
    assert targets(text, kinds=()) == []


# ---- exclusions ---------------------------------------------------------------------------


def test_fenced_code_blocks() -> None:
    text = (
        "@in1.md\n"
        "```python title=x\n@deco.rator {{ v1 }}\n```\n"
        "@in2.md\n"
        "   ~~~~\n@x.md\n~~~\nstill code @y.md\n   ~~~~~\n"
        "> ```\n> @quoted.md\n> ```\n"
        "- item\n    ```\n    @listed.md\n    ```\n"
        "```` \n``` not a close\n@z.md\n````\n"
        "@in3.md\n"
        "```\n@unclosed.md"
    )
    assert [o.target for o in scan(text)] == ["in1.md", "in2.md", "in3.md"]


def test_inline_code_spans() -> None:
    text = (
        "`@a.md` and ``@b.md `x` {{ v }}`` and ```@c.md``` but @real.md and \\`@esc.md` "
        "unmatched ` @open.md\n`multi\nline @m.md`\n\n` new paragraph @p.md"
    )
    assert [o.target for o in scan(text)] == ["real.md", "open.md", "p.md"]


def test_code_span_does_not_cross_blank_line() -> None:
    text = "a ` b\n\n@x.md `"
    assert [o.target for o in scan(text)] == ["x.md"]


def test_front_matter_is_not_scanned() -> None:
    text = "---\nmodel: gpt-4o\nnote: '@a.md {{ x }}'\n---\n@b.md {{ y }}\n"
    assert targets(text) == [("file", "b.md"), ("variable", "y")]
    assert front_matter_end(text) == text.index("@b.md")


def test_front_matter_bounds_edge_cases() -> None:
    assert front_matter_end("---\r\na: 1\r\n---\r\nbody") == len("---\r\na: 1\r\n---\r\n")
    assert front_matter_end("\ufeff---\na: 1\n...\nbody") == len("\ufeff---\na: 1\n...\n")
    assert front_matter_end("---\na: 1\n---") == len("---\na: 1\n---")
    assert front_matter_end("---\na: 1\nno close") == 0
    assert front_matter_end("text\n---\na: 1\n---\n") == 0
    assert front_matter_end("---") == 0


# ---- positions ----------------------------------------------------------------------------


def test_spans_are_utf16_with_astral_characters() -> None:
    text = "😀 é @a.md\r\n𝄞𝄞 {{ v }}\rline3 @b/c.md"
    a, v, b = scan(text)
    assert (a.span.line, a.span.start, a.span.end_line, a.span.end) == (0, 5, 0, 10)
    assert (v.span.line, v.span.start, v.span.end) == (1, 5, 12)
    assert (b.span.line, b.span.start, b.span.end) == (2, 6, 13)
    for o in (a, v, b):
        assert slice_of(text, o) == o.raw


def test_line_index_only_lsp_line_breaks() -> None:
    text = "a\x0bb\x0cc\u2028d\x85e\nf"
    idx = LineIndex(text)
    assert idx.position(text.index("e")) == (0, 8)
    assert idx.position(text.index("f")) == (1, 0)


@given(st.text(alphabet="ab @./`{}\n\r😀é#:-_[]()!\\~>*", max_size=80))
def test_scan_never_fails_and_spans_match(text: str) -> None:
    idx = LineIndex(text)
    for occ in scan(text, markdown_links=True):
        assert text[occ.span.offset : occ.span.end_offset] == occ.raw
        assert (occ.span.line, occ.span.start) == idx.position(occ.span.offset)
        assert (occ.span.end_line, occ.span.end) == idx.position(occ.span.end_offset)


def test_comment_after_block_helper_still_masked() -> None:
    text = "{{#each xs}}{{ name }}{{/each}} {# @c.md {{ hid }} #} {{ shown }} @d.md"
    assert targets(text) == [("variable", "shown"), ("file", "d.md")]


def test_fence_with_crlf_and_lone_cr() -> None:
    text = "@a.md\r\n```\r\n@in.md\r\n```\r\n@b.md\r```\r@in2.md\r```\r@c.md"
    assert [o.target for o in scan(text)] == ["a.md", "b.md", "c.md"]


# ---- against the whole-text model --------------------------------------------------------------


@settings(max_examples=3000, deadline=None)
@given(
    text=st.lists(st.sampled_from(STATE_PIECES), max_size=60).map("".join),
    kinds=st.sampled_from([("file", "url", "variable"), ("file",), ("url",), ("variable",)]),
    links=st.booleans(),
)
def test_scan_equals_the_whole_text_model(text: str, kinds: tuple[str, ...], links: bool) -> None:
    """The scanner (one window of the incremental one) finds exactly what the pass-per-rule
    model finds, on text made of every construct that carries state across lines."""

    def key(occ: list[Occurrence]) -> list[tuple[object, ...]]:
        return [
            (o.kind, o.target, o.syntax, o.span, o.untrimmed, o.placeholder, o.raw) for o in occ
        ]

    assert key(scan(text, kinds=kinds, markdown_links=links)) == key(
        reference_scanner.scan(text, kinds=kinds, markdown_links=links)
    )
