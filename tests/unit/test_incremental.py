"""The incremental reference scan against whole-text scans and plain tiktoken.

Random edit sequences on adversarial text (edits that open and close fences and front matter,
add ``{% raw %}``, Jinja tags and comments across lines, backticks, ``@``, ``{{``,
``#file:``, CRLF and lone CR), with scans on snapshots adopted or dropped in between: after
every edit the occurrences equal a fresh whole-text scan (the product's and the old
independent scanner's), the sections equal the engine's, and the counts equal plain
``encode_ordinary`` on the whole text. Then every file of the real corpus, with edits.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prompt_tokens.document import DocumentState
from prompt_tokens.engine import PromptEngine
from prompt_tokens.references.blocks import BlockScanner
from prompt_tokens.references.syntax import scan
from prompt_tokens.results import Occurrence, Span
from prompt_tokens.settings import Settings
from tests.conftest import plain_count
from tests.unit import reference_scanner
from tests.unit.prompt_pieces import STATE_PIECES
from tests.unit.shared_corpus import corpus_dir
from tests.unit.test_document import ref_offset, ref_position

KINDS = [("file", "url", "variable"), ("file",), ("variable",), ("url", "variable")]


def occ_key(occ: list[Occurrence]) -> list[tuple[object, ...]]:
    return [(o.kind, o.target, o.syntax, o.span, o.untrimmed, o.placeholder, o.raw) for o in occ]


def engine_sections(text: str, encoding: str) -> list[tuple[str, int, int]]:
    engine = PromptEngine(Settings(), resolver=None)  # type: ignore[arg-type]
    return [(s.title, s.tokens, s.end_col) for s in engine.sections(text, encoding)]


def check(doc: DocumentState, text: str, scanner: BlockScanner, enc: str) -> None:
    """Everything the document reports equals what the whole text gives."""
    assert doc.text() == text
    got = occ_key(doc.occurrences(scanner, scanner.key))
    assert got == occ_key(scan(text, kinds=scanner.kinds, markdown_links=scanner.markdown_links))
    assert got == occ_key(
        reference_scanner.scan(text, kinds=scanner.kinds, markdown_links=scanner.markdown_links)
    )
    doc.count_pending()
    assert doc.text_tokens == plain_count(enc, text)
    secs = doc.sections()
    assert secs is not None
    assert [(s.title, s.tokens, s.end_col) for s in secs] == engine_sections(text, enc)


@st.composite
def scripts(draw: st.DrawFn) -> tuple[str, list[tuple[float, float, str, str]]]:
    text = "".join(draw(st.lists(st.sampled_from(STATE_PIECES), max_size=80)))
    edits = draw(
        st.lists(
            st.tuples(
                st.one_of(st.just(1.0), st.floats(0, 1, allow_nan=False)),  # 1.0: append
                st.floats(0, 0.2, allow_nan=False),
                st.lists(st.sampled_from(STATE_PIECES), max_size=4).map("".join),
                st.sampled_from(["plain", "lsp", "snapshot", "adopt"]),
            ),
            max_size=10,
        )
    )
    return text, edits


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    script=scripts(),
    block_chars=st.sampled_from([1, 8, 64, 4096]),
    enc=st.sampled_from(["cl100k_base", "o200k_base"]),
    kinds=st.sampled_from(KINDS),
    links=st.booleans(),
)
def test_random_edits_match_fresh_scans_and_plain_tiktoken(
    script: tuple[str, list[tuple[float, float, str, str]]],
    block_chars: int,
    enc: str,
    kinds: tuple[str, ...],
    links: bool,
) -> None:
    text, edits = script
    scanner = BlockScanner(kinds, links)
    doc = DocumentState(text, encoding=enc, block_chars=block_chars)
    check(doc, text, scanner, enc)
    for where, width, new, how in edits:
        a = int(where * len(text))
        b = min(len(text), a + int(width * len(text)))
        if how in ("snapshot", "adopt"):
            # a worker scans a snapshot; the edit lands before (or after) its result is taken
            snap = doc.snapshot()
            snap.count_pending()
            snap.occurrences(scanner, scanner.key)
            if how == "adopt":
                doc.adopt(snap)
        if how == "lsp":
            (l1, c1), (l2, c2) = ref_position(text, a, "utf-16"), ref_position(text, b, "utf-16")
            a, b = ref_offset(text, l1, c1, "utf-16"), ref_offset(text, l2, c2, "utf-16")
            doc.apply_change(new, (l1, c1, l2, c2))
            text = text[:a] + new + text[max(a, b) :]
        else:
            doc.replace(a, b, new)
            text = text[:a] + new + text[b:]
        check(doc, text, scanner, enc)


def test_settings_change_rescans_and_plain_scanners_see_the_whole_text() -> None:
    text = "see @a.md and {{ x }}\n" * 50
    doc = DocumentState(text, block_chars=64)
    files = BlockScanner(("file",))
    assert [o.target for o in doc.occurrences(files, files.key)] == ["a.md"] * 50
    both = BlockScanner(("file", "variable"))
    assert len(doc.occurrences(both, both.key)) == 100
    seen: list[str] = []

    def plain(t: str) -> list[Occurrence]:
        seen.append(t)
        return scan(t)

    assert len(doc.occurrences(plain, "plain")) == 100
    assert seen == [text]


def test_a_lone_opener_depends_on_no_closer_after_it() -> None:
    """``{%`` (or ``{#``) with no closer anywhere after it is plain text; a closer typed far
    below turns everything between into one tag, and deleting it turns it back."""
    body = "".join(f"line {i} {{{{ v{i} }}}} @f{i}.md\n" for i in range(300))
    text = "{% set v1 = 1\n" + body
    doc = DocumentState(text, block_chars=128)
    scanner = BlockScanner()
    check(doc, text, scanner, "cl100k_base")
    assert "v1" in [o.target for o in doc.occurrences(scanner, scanner.key)]
    end = len(text)
    doc.replace(end, end, "%}\n")
    text += "%}\n"
    check(doc, text, scanner, "cl100k_base")
    assert "v1" not in [o.target for o in doc.occurrences(scanner, scanner.key)]
    doc.replace(end, end + 3, "")
    check(doc, text[:end], scanner, "cl100k_base")


def test_where_a_closer_last_appears_is_carried_across_keystrokes() -> None:
    """Keystrokes next to an unclosed ``{#`` and a backtick reuse the last scan's answer to
    "is the closer anywhere after this?": typed in the opener's block, with a closer typed
    far below (a new block holds it), typed again (the old block still holds it), and with
    the block holding it rewritten (the answer is looked up in the text again)."""
    body = "".join(f"line {i} {{{{ v{i} }}}} @f{i}.md\n" for i in range(300))
    head = "intro {# note ` tick\n"
    text = head + body
    doc = DocumentState(text, block_chars=128)
    scanner = BlockScanner()
    check(doc, text, scanner, "cl100k_base")

    def edit(start: int, end: int, new: str) -> None:
        nonlocal text
        doc.replace(start, end, new)
        text = text[:start] + new + text[end:]
        check(doc, text, scanner, "cl100k_base")

    for k in range(3):
        edit(3 + k, 3 + k, "x")  # in the opener's block: its unit is scanned again
    far = len(text) - 40
    edit(far, far, " #} ` ")
    assert "v1" not in [o.target for o in doc.occurrences(scanner, scanner.key)]
    edit(4, 4, "y")
    edit(far - 60, far - 60, "z")  # a block before the closer's
    edit(4, 4, "y")
    edit(far - 5, far + 20, "")  # the closer's block rewritten, the closer gone
    assert "v1" in [o.target for o in doc.occurrences(scanner, scanner.key)]
    edit(4, 4, "y")
    mid = len(text) // 2
    edit(mid, mid, " #} ")
    edit(far, far, " #} ")
    edit(far - 1, far + 8, "")  # the last closer's block rewritten: the earlier one remains
    edit(4, 4, "y")
    assert "v1" not in [o.target for o in doc.occurrences(scanner, scanner.key)]


def test_text_added_after_an_unclosed_run_rescans_the_last_unit() -> None:
    """At the end of the document an unmatched backtick run is literal; text added after it
    may close it, so the last unit is scanned again (not taken as it was)."""
    scanner = BlockScanner()
    text = "{# c ```\n"
    doc = DocumentState(text, block_chars=8)
    check(doc, text, scanner, "cl100k_base")
    doc.replace(len(text), len(text), "#file:c.py ```\n@https://x.io/v1 ")
    text += "#file:c.py ```\n@https://x.io/v1 "
    check(doc, text, scanner, "cl100k_base")
    assert [o.target for o in doc.occurrences(scanner, scanner.key)] == ["https://x.io/v1"]


def _corpus_files() -> list[Path]:
    return sorted(p for p in corpus_dir().rglob("*") if p.is_file())


@pytest.mark.parametrize("enc", ["cl100k_base", "o200k_base"])
def test_every_corpus_file_scans_and_counts_as_the_whole_text(enc: str) -> None:
    """Every real prompt file, as a document of small blocks, then after edits that open a
    fence, a code span and a Jinja tag near its middle (and undo them)."""
    scanner = BlockScanner(markdown_links=True)
    files = _corpus_files()
    assert len(files) > 400
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        doc = DocumentState(text, encoding=enc, block_chars=256)
        check(doc, text, scanner, enc)
        mid = text.find("\n", len(text) // 2) + 1
        for piece in ("```\n", "`", "{% raw %}", "{# "):
            doc.replace(mid, mid, piece)
            check(doc, text[:mid] + piece + text[mid:], scanner, enc)
            doc.replace(mid, mid + len(piece), "")
            check(doc, text, scanner, enc)


def test_spans_of_units_after_the_first_are_absolute() -> None:
    doc = DocumentState("intro\n" * 40 + "ref @x/y.md\n", block_chars=16)
    scanner = BlockScanner()
    (o,) = doc.occurrences(scanner, scanner.key)
    assert o.span == Span(40, 4, 40, 11, 40 * 6 + 4, 40 * 6 + 11)
