"""PromptEngine: configuration from settings + front matter, sections, budget diagnostics."""

from __future__ import annotations

from pathlib import Path

import pytest

from prompt_tokens.cache.tiered import TieredCache
from prompt_tokens.document import DocumentState
from prompt_tokens.engine import PromptEngine
from prompt_tokens.references.resolver import ReferenceResolver
from prompt_tokens.settings import parse_settings
from tests.conftest import plain_count


def make_engine(raw: dict | None = None, root: Path | None = None) -> PromptEngine:
    settings, problems = parse_settings({"cache": {"path": None}, **(raw or {})})
    assert problems == []
    cache = TieredCache(None)
    return PromptEngine(settings, ReferenceResolver(settings, cache, roots=[root] if root else []))


@pytest.mark.parametrize("nl", ["\n", "\r\n", "\r"])
def test_sections_follow_lsp_lines(nl: str) -> None:
    text = nl.join(
        ["Intro", "# One", "body one", "```", "# not a heading", "```", "## Two ##", "body two", ""]
    )
    secs = make_engine().sections(text, "cl100k_base")
    if nl == "\r":  # after a lone \r no cut is safe: no section starts there (as in the server)
        assert secs == []
        return
    assert [(s.line, s.title) for s in secs] == [(1, "One"), (6, "Two")]
    lines = text.split(nl)
    one = nl.join(lines[1:6]) + nl
    two = nl.join(lines[6:])
    assert [s.tokens for s in secs] == [
        plain_count("cl100k_base", one),
        plain_count("cl100k_base", two),
    ]
    assert secs[1].end_col == len("## Two ##")
    if nl == "\n":  # after a \n a heading is a safe cut: sections add up exactly
        assert sum(s.tokens for s in secs) == plain_count("cl100k_base", text[len("Intro\n") :])


async def test_budget_diagnostic_on_line_zero_with_numbers(workspace: Path) -> None:
    engine = make_engine({"budget": 10}, workspace)
    text = "😀 first line\r\nsecond line " * 4
    result = await engine.count_document(str(workspace / "p.md"), text)
    n = plain_count("cl100k_base", text)
    assert result.tokens.text == n and result.status == "exceeded"
    (d,) = result.diagnostics
    assert d.code == "budget-exceeded" and d.severity == "error"
    assert d.message == f"Prompt uses {n:,} of 10 tokens ({round(100 * n / 10)}%)"
    assert (d.span.line, d.span.start, d.span.end) == (0, 0, len("😀 first line") + 1)  # UTF-16


async def test_lone_surrogate_does_not_break_line_zero(workspace: Path) -> None:
    result = await make_engine({"budget": 1}, workspace).count_document("p.md", "a\ud800b\nc")
    assert result.diagnostics[0].span.end == 3


@pytest.mark.parametrize(
    ("front", "encoding", "budget", "codes"),
    [
        ("model: gpt-4o", "o200k_base", 128_000, []),
        ("model: gpt-4o\nmax_output_tokens: 1000", "o200k_base", 127_000, []),
        ("model: gpt-5", "o200k_base", 272_000, []),
        ("model: openai/gpt-4.1\nmax_tokens: 500", "o200k_base", 500, []),
        ("encoding: o200k_base", "o200k_base", 8192, []),
        ("model: no-such-model", "cl100k_base", 8192, ["unknown-model"]),
        ("model: [unclosed", "cl100k_base", 8192, ["invalid-front-matter"]),
    ],
)
def test_front_matter_configuration(
    front: str, encoding: str, budget: int, codes: list[str]
) -> None:
    cfg = make_engine().configure(f"---\n{front}\n---\nHello\n")
    assert (cfg.encoding, cfg.budget) == (encoding, budget)
    assert [d.code for d in cfg.diagnostics] == codes


def test_settings_model_and_budget() -> None:
    assert make_engine({"model": "gpt-4"}).configure("hi").budget == 8192
    assert make_engine({"model": "gpt-4", "budget": 100}).configure("hi").budget == 100
    # A document that names its own model gets that model's budget.
    cfg = make_engine({"budget": 100}).configure("---\nmodel: gpt-4o\n---\n")
    assert cfg.budget == 128_000


async def test_scanner_follows_settings_and_counts_an_incremental_document(
    workspace: Path,
) -> None:
    """``scanner(path)``: the enabled kinds and ``markdownLinks: auto`` (prompt files only);
    the occurrences a ``DocumentState`` keeps with it resolve to the same result as a scan."""
    engine = make_engine({"references": {"enabled": ["file"]}}, workspace)
    assert engine.scanner("a.prompt.md").key == (("file",), True)
    assert engine.scanner("a.md").key == (("file",), False)
    (workspace / "b.md").write_text("B file\n")
    text = "intro\n" * 300 + "see @b.md and {{ v }} and [x](b.md)\n"
    doc = DocumentState(text, block_chars=64)
    scanner = engine.scanner(str(workspace / "p.md"))
    occ = doc.occurrences(scanner, scanner.key)
    assert occ == engine.scan(text, str(workspace / "p.md"))
    assert [o.target for o in occ] == ["b.md"]
    doc.count_pending()
    path = str(workspace / "p.md")
    ours = await engine.count_document(path, text, text_tokens=doc.text_tokens, occurrences=occ)
    theirs = await engine.count_document(path, text)
    assert ours.tokens == theirs.tokens
    assert ours.tokens.references == plain_count("cl100k_base", "B file\n")
