"""The streaming reference scan equals the whole-text scan of the joined pieces, however the
text is cut, and holds only a window of it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prompt_tokens.agents.scanning import DialectScanner
from prompt_tokens.references.blocks import BlockScanner
from prompt_tokens.references.stream_scan import stream_scan
from prompt_tokens.references.window import Options
from tests.unit.prompt_pieces import STATE_PIECES
from tests.unit.test_references_sparse import CODE_PIECES

KINDS = [("file", "url", "variable"), ("file",), ("url",), ("variable",)]

TEMPLATE_PIECES = [
    *STATE_PIECES, "{{> head}}", "{{~> a/b ~}}", '{% include "i.j2" %}', "{%- import 'm.j2' -%}",
    '{% include ["x.j2", "y.j2"] %}', "{% include\n 'z.j2'\n %}", "${file:s.json}", "{{#each xs}}",
    "{{!-- {{> hidden}} --}}", "{# {% include 'no.j2' %} #}", "{% raw %}{{> raw}}{% endraw %}",
    "}", "%", "---\nsample: ${file:f.json}\n---\n", "'", '"',
]  # fmt: skip


def cut_into(text: str, cuts: list[int]) -> list[str]:
    points = sorted({min(c, len(text)) for c in cuts})
    return [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]


@st.composite
def cut_texts(draw: st.DrawFn, pieces: list[str]) -> tuple[str, list[str]]:
    text = "".join(draw(st.lists(st.sampled_from(pieces), max_size=60)))
    cuts = draw(st.lists(st.integers(0, max(0, len(text))), max_size=10))
    return text, cut_into(text, cuts)


@settings(max_examples=2500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=st.one_of(cut_texts(STATE_PIECES), cut_texts(CODE_PIECES)),
    kinds=st.sampled_from(KINDS),
    links=st.booleans(),
    chunk=st.sampled_from([1, 2, 5, 16, 64, 1 << 16]),
)
def test_streamed_scan_equals_the_whole_text_scan(
    case: tuple[str, list[str]], kinds: tuple[str, ...], links: bool, chunk: int
) -> None:
    text, pieces = case
    scanner = BlockScanner(kinds, links)
    assert scanner.scan_pieces(pieces, chunk=chunk) == scanner(text)
    parts = list(stream_scan(pieces, Options.of(kinds, links), chunk=chunk))
    assert "".join(p.text for p in parts) == text  # every character committed once, in order


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=cut_texts(TEMPLATE_PIECES),
    dialect=st.sampled_from(["dotprompt", "jinja", "prompty", "claude-memory", "copilot"]),
    chunk=st.sampled_from([1, 3, 16, 1 << 16]),
)
def test_streamed_dialect_scan_equals_the_whole_text_scan(
    case: tuple[str, list[str]], dialect: str, chunk: int
) -> None:
    """Includes too: partials, Jinja includes, Prompty ``${file:}`` across cuts."""
    text, pieces = case
    scanner = DialectScanner(BlockScanner(markdown_links=True), dialect)  # type: ignore[arg-type]
    assert scanner.scan_pieces(pieces, chunk=chunk) == scanner(text)


def test_the_window_stays_bounded_on_a_long_text() -> None:
    """A long text in small pieces: no committed stretch is much longer than the chunk, so
    the window never held the whole text."""
    para = "Some prose with `code`, a ref @docs/a.md and {{ name }}.\n\n"
    text = para * 4000  # ~240k characters

    def pieces() -> Iterator[str]:
        for i in range(0, len(text), 1000):
            yield text[i : i + 1000]

    options = Options.of(("file", "url", "variable"), False)
    parts = list(stream_scan(pieces(), options, chunk=8192))
    assert max(len(p.text) for p in parts) < 3 * 8192
    found = [o for p in parts for o in p.found]
    assert found == BlockScanner()(text)
    assert len(found) == 8000


def test_an_unclosed_front_matter_is_decided_at_the_end() -> None:
    text = "---\ntitle: x\n@a/b.md\n" + "line\n" * 50
    pieces = [text[i : i + 7] for i in range(0, len(text), 7)]
    assert BlockScanner().scan_pieces(pieces, chunk=16) == BlockScanner()(text)
    closed = "---\ntitle: @x/y.md\n---\n@a/b.md\n"
    pieces = [closed[i : i + 3] for i in range(0, len(closed), 3)]
    assert [o.target for o in BlockScanner().scan_pieces(pieces, chunk=4)] == ["a/b.md"]


def test_the_runtime_scanner_streams(tmp_path: Path) -> None:
    from prompt_tokens.runtime import Runtime
    from prompt_tokens.settings import Settings

    rt = Runtime()
    rt.set_settings(str(tmp_path), Settings())
    text = "---\nname: p\n---\nSee @docs/a.md and `@not.md`.\n\n{{> head}} {{ who }}\n" * 50
    for name in ("CLAUDE.md", "x.prompt", "notes.md"):
        scanner = rt.scanner(str(tmp_path), str(tmp_path / name))
        assert scanner is not None and scanner.scan_pieces is not None
        pieces = [text[i : i + 37] for i in range(0, len(text), 37)]
        assert scanner.scan_pieces(pieces) == scanner.scan(text)


def test_the_include_stream_stays_bounded_while_its_constructs_close() -> None:
    """A Jinja template with closed tags and comments: the include search keeps a window
    of about a chunk, never the whole text."""
    from prompt_tokens.agents.includes import scan_includes
    from prompt_tokens.agents.stream_includes import IncludeStream

    block = '{% include "part.j2" %}\n{# note #}\n{% raw %}{% include "no.j2" %}{% endraw %}\n\n'
    text = block * 3000
    stream = IncludeStream("jinja", chunk=4096)
    held = 0
    options = Options.of(("file",), False)
    for part in stream_scan(pieces_of(text, 500), options, chunk=4096):
        stream.feed(part)
        held = max(held, stream._size)
    assert held < 3 * 4096 < len(text)
    assert stream.finish() == scan_includes(text, "jinja")


def pieces_of(text: str, size: int) -> Iterator[str]:
    for i in range(0, len(text), size):
        yield text[i : i + size]
