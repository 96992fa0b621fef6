"""``looks_like_path``: which ``@name`` tokens may warn "file not found" — measured on the corpus."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prompt_tokens.agents.plausible import looks_like_path
from prompt_tokens.references.syntax import scan

CORPUS = Path("/work/shared/corpus")

# The non-paths found on 1,737 real files (a larger corpus than the one shipped, see its README),
# plus the shapes the rule's docstring names.
NOT_PATHS = [
    "testing-library/react@16+",
    "modelcontextprotocol/sdk",
    "modelcontextprotocol/sdk@1.2.3",
    "fluentui/react",
    "types/node@^20",
    "socket.io/redis-adapter",
    "pytest.mark.asyncio",
    "app.post",
    "console.log",
    "process.env",
    "example.org",
    "SpringBootTest(...)",
    "SpringBootTest(classes=App.class)",
    'app.on_event("startup")',
    "Override",
    "organization/team-name",
    "octocat",
    "<CONTEXT_DIR>/identity.md",
    "{{reference-file}}",
    "${x}",
    "${workspaceFolder}/docs/a.md",
    "%APPDATA%/x.md",
    "src/**/*.ts",
    "'quoted path.md'",
    "/",
    "/components/Button",
    "docs/",
    "Next.js",
    "Node.js",
    "README",
    "",
    ".",
    "...",
]

PATHS = [
    "docs/missing-guide.md",
    "./notes.txt",
    "./typo.md",
    "../shared/conventions.md",
    "~/x.md",
    "~/.claude/my-project-instructions.md",
    "/abs/file.md",
    "AI.MD",
    "package.json",
    "notes.txt",
    ".env",
    ".github/copilot-instructions.md",
    "img/logo@2x.png",
    "docs/guide.weird",
    "logs/app.log",
    "docs\\win.md",
]


@pytest.mark.parametrize("token", NOT_PATHS)
def test_not_paths(token: str) -> None:
    assert not looks_like_path(token)


@pytest.mark.parametrize("token", PATHS)
def test_paths(token: str) -> None:
    assert looks_like_path(token)


def test_an_existing_file_is_a_path_whatever_it_looks_like() -> None:
    # Claude Code imports @README when README is there.
    there = {"README", "Override"}
    assert looks_like_path("README", exists=there.__contains__)
    assert looks_like_path("Override", exists=there.__contains__)
    assert not looks_like_path("pytest.mark.asyncio", exists=there.__contains__)


@given(st.text(min_size=1, max_size=30), st.sampled_from(sorted("<>{}$%*?|`\"'[(")))
def test_placeholder_and_call_characters_are_never_paths(text: str, char: str) -> None:
    for token in (char + text, text + char, text[: len(text) // 2] + char + text[len(text) // 2 :]):
        assert not looks_like_path(token)


@given(st.from_regex(r"[a-z][a-z0-9-]{0,12}/[a-z][a-z0-9-]{0,12}", fullmatch=True))
def test_scope_and_handle_shapes_are_not_paths(token: str) -> None:
    # @org/team-name and @scope/package: a slash but no file extension.
    assert not looks_like_path(token)


@given(
    st.from_regex(r"[a-z][a-z0-9-]{0,12}/[a-z][a-z0-9_-]{0,12}\.(md|txt|json|py)", fullmatch=True)
)
def test_slashed_names_with_an_extension_are_paths(token: str) -> None:
    assert looks_like_path(token)


def _at_file_tokens(root: Path) -> list[tuple[Path, str]]:
    """Every ``@`` file reference today's scanner reports under ``root``."""
    out: list[tuple[Path, str]] = []
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = Path(dirpath) / name
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            out.extend(
                (path, o.target) for o in scan(text) if o.kind == "file" and o.syntax == "at"
            )
    return out


def _exists(doc: Path) -> object:
    def exists(token: str) -> bool:
        target = Path(os.path.expanduser(token)) if token.startswith("~") else doc.parent / token
        return target.is_file()

    return exists


def test_corpus_non_paths_are_filtered_and_real_references_survive() -> None:
    tokens = _at_file_tokens(CORPUS)
    assert len(tokens) >= 30  # the scanner does find @ tokens there: the filter has work to do
    filtered, survivors = [], []
    for doc, token in tokens:
        exists = _exists(doc)
        if looks_like_path(token, exists=exists):  # type: ignore[arg-type]
            if not exists(token):  # type: ignore[operator]
                survivors.append(token)
        else:
            filtered.append(token)
    # @AI.MD (a Cursor rule: "file paths as outlined in @AI.MD") is a real reference to a file
    # the rule's repository did not ship: it must still warn. Nothing else may.
    assert sorted(set(survivors)) == ["AI.MD"], f"filtered: {sorted(set(filtered))}"
    for must_go in ("pytest.mark.asyncio", "Next.js", "supabase/ssr", "/", "app.post"):
        if any(t == must_go for _, t in tokens):
            assert must_go in filtered, f"filtered: {sorted(set(filtered))}"


def test_planted_typos_still_warn(tmp_path: Path) -> None:
    source = CORPUS / "skills" / "skills" / "web-artifacts-builder" / "SKILL.md"
    copy = tmp_path / "SKILL.md"
    shutil.copy(source, copy)
    with copy.open("a", encoding="utf-8") as f:
        f.write("\nSee @docs/missing-guide.md and @./typo.md, then ask @organization/team-name.\n")
    tokens = [t for doc, t in _at_file_tokens(tmp_path)]
    exists = _exists(copy)
    warned = [t for t in tokens if looks_like_path(t, exists=exists) and not exists(t)]  # type: ignore[arg-type, operator]
    assert warned == ["docs/missing-guide.md", "./typo.md"], f"all @ tokens: {tokens}"
