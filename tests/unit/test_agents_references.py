"""``dialect_references``: the scanner's findings kept or dropped by each dialect's rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from prompt_tokens.agents.dialects import DIALECTS, default_dialect
from prompt_tokens.agents.references import dialect_references
from prompt_tokens.references.syntax import scan

CORPUS = Path("/work/shared/corpus")

TEXT = (
    "Read @docs/guide.md and @testing-library/react@16+ and @pytest.mark.asyncio.\n"
    "Also #file:src/app.py, #fetch:https://api.example.com/v1 and @https://example.com/x.\n"
    "Hello {{ user }} and ${input:topic:What?}. [Form](../docs/Form.md)\n"
    "{{> header}} {% include 'part.j2' %}\n"
)


def kinds_of(dialect: str, **kw: object) -> list[tuple[str, str]]:
    return [(o.syntax, o.target) for o in dialect_references(TEXT, dialect, **kw)]  # type: ignore[arg-type]


def test_generic_markdown_keeps_todays_rules_minus_non_paths() -> None:
    assert kinds_of("markdown") == [
        ("at", "docs/guide.md"),
        ("file", "src/app.py"),
        ("fetch", "https://api.example.com/v1"),
        ("at", "https://example.com/x"),
        ("mustache", "user"),
        ("input", "topic"),
    ]
    assert ("link", "../docs/Form.md") in kinds_of("markdown", markdown_links=True)


def test_copilot_at_is_a_participant_and_links_are_on() -> None:
    assert kinds_of("copilot") == [
        ("file", "src/app.py"),
        ("fetch", "https://api.example.com/v1"),
        ("input", "topic"),
        ("link", "../docs/Form.md"),
    ]


def test_claude_memory_reads_imports_only() -> None:
    assert kinds_of("claude-memory") == [("at", "docs/guide.md")]


def test_templates_read_variables_and_includes_not_at() -> None:
    assert kinds_of("dotprompt") == [("mustache", "user"), ("partial", "_header.prompt")]
    assert kinds_of("jinja") == [("mustache", "user"), ("include", "part.j2")]


def test_existing_bare_names_count_and_untrimmed_names_are_checked() -> None:
    text = "See @README and @odd.md, then"
    there = {"README", "odd.md,"}
    got = dialect_references(text, "claude-memory", exists=there.__contains__)
    assert [(o.target, o.untrimmed) for o in got] == [("odd.md", "odd.md,")]
    # A bare @README is not even a scanner token (SPEC: needs a / or a .); Claude Code's loader
    # (agents.claude) imports it when it exists.
    assert dialect_references("@README", "claude-memory", exists=there.__contains__) == []


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_subset_of_the_scanner_plus_includes(dialect: str) -> None:
    scanned = {(o.syntax, o.span.offset) for o in scan(TEXT, markdown_links=True)}
    got = dialect_references(TEXT, dialect, markdown_links=True)  # type: ignore[arg-type]
    extra = {(o.syntax, o.span.offset) for o in got} - scanned
    assert {s for s, _ in extra} <= {"partial", "include", "prompty-file"}
    assert [o.span.offset for o in got] == sorted(o.span.offset for o in got)


def test_corpus_in_its_own_dialects_has_no_non_path_at_references() -> None:
    survivors = []
    for path in sorted(CORPUS.rglob("*")):
        if not path.is_file() or path.suffix == ".json":
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        dialect = default_dialect(path.relative_to(CORPUS))
        for occ in dialect_references(text, dialect, path=str(path)):
            if occ.syntax == "at" and occ.kind == "file":
                survivors.append(occ.target)
    assert survivors == ["AI.MD"]
