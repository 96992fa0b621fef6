"""Front matter read with libyaml gives exactly what the pure-Python loader gives.

``frontmatter._compose`` parses ASCII front matter with libyaml and leaves errors and other
text to the pure loader. Every field, span and error of ``parse_front_matter`` must be the same
as with the pure loader alone: on every corpus file, and on generated front matter built from
the YAML that real prompt files write, broken or not.
"""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from prompt_tokens.references import frontmatter
from prompt_tokens.references.frontmatter import parse_front_matter
from tests.unit.shared_corpus import corpus_files

pytestmark = pytest.mark.skipif(
    not hasattr(yaml, "CSafeLoader"), reason="this PyYAML has no libyaml: one loader only"
)


def _both(text: str) -> tuple[object, object]:
    fast = parse_front_matter(text)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(frontmatter, "_FAST_LOADER", yaml.SafeLoader)
        pure = parse_front_matter(text)
    return fast, pure


def test_every_corpus_file() -> None:
    seen = 0
    for path in corpus_files():
        text = path.read_bytes().decode("utf-8", "replace")
        if not text.startswith("---"):
            continue
        fast, pure = _both(text)
        assert fast == pure, path
        seen += 1
    assert seen > 100


LINES = [
    "model: gpt-4o", "model: [gpt-4o, claude-sonnet-4]", "model:\n  id: gpt-4o\n  provider: x",
    "max_tokens: 1200", "max_tokens: '900'", "max_tokens: -3", "max_output_tokens: 1.5",
    "encoding: o200k_base", "variables:\n  user:\n    name: Ada", "variables: {a: 1, b: [1, 2]}",
    "sample:\n  question: What?", "inputs:\n  - name: q\n    default: hi", "globs: **/*.ts",
    'description: "Use it: always"', "description: Do X: then Y", "alwaysApply: true",
    "tags: [a, b", "key: &anchor value", "other: *anchor", "? complex\n: key", "- a list",
    "\tindented: tab", "  bad: indent", "k: |\n  block\n  text", "k: >-\n  folded", "k: 'it''s'",
    "k: \"esc\\tape\"", "k: 2024-01-02", "k: 0x1F", "k: ~", "k: !!str 3", "k: !custom x",
    "%YAML 1.1", "# a comment", "", "k: v # trailing", "dup: 1\ndup: 2", "{a: 1}", "k: [a, {b: c}]",
    "k: @at", "k: `tick`", "k: 'unclosed", "k: \"unclosed", "k: {", "...", "k:\n- item\n- item",
]  # fmt: skip


@settings(max_examples=600, deadline=None)
@given(lines=st.lists(st.sampled_from(LINES), min_size=1, max_size=8))
def test_generated_front_matter(lines: list[str]) -> None:
    text = "---\n" + "\n".join(lines) + "\n---\nBody {{ user.name }} and {{ question }}.\n"
    fast, pure = _both(text)
    assert fast == pure
