"""Each document counted in its dialect, through the product's own count path.

Small workspaces per agent (Claude Code imports, Copilot prompt files, Cursor rules, dotprompt
partials, Jinja includes, Prompty ``${file:}``, a settings override) are counted with
``Runtime.count_files`` and the totals checked against plain tiktoken on the texts the dialect
reads. The real corpus goes through the CLI: no "file not found" on a token that cannot be a
path, while planted typos still warn. The dialect's incremental scan equals its whole-text scan
after random edits.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prompt_tokens.agents.dialects import DIALECTS
from prompt_tokens.agents.entries import AgentContext, ContextFile
from prompt_tokens.agents.loads import working_folder
from prompt_tokens.agents.plausible import looks_like_path
from prompt_tokens.agents.references import dialect_references
from prompt_tokens.document import DocumentState
from prompt_tokens.lsp.agent_hover import headline
from prompt_tokens.results import DocumentResult
from prompt_tokens.runtime import CountRequest, Runtime
from prompt_tokens.settings import Settings, parse_settings
from prompt_tokens.settings_schema import DIALECT_NAMES
from tests.conftest import plain_count
from tests.unit.cli_helpers import put, run
from tests.unit.prompt_pieces import STATE_PIECES
from tests.unit.shared_corpus import corpus_dir

ENC = "cl100k_base"


def count(root: Path, rel: str, raw: dict[str, object] | None = None) -> DocumentResult:
    settings, problems = parse_settings({"cache": {"path": None}, **(raw or {})})
    assert problems == []

    async def go() -> DocumentResult:
        rt = Runtime()
        try:
            rt.set_settings(str(root), settings, folders=[root])
            (res,) = await rt.count_files(
                [CountRequest(root=str(root), label=rel, path=str(root / rel))]
            )
            assert isinstance(res, DocumentResult), res
            return res
        finally:
            await rt.aclose()

    return asyncio.run(go())


def tokens(*texts: str) -> int:
    return sum(plain_count(ENC, t) for t in texts)


def targets(res: DocumentResult) -> list[str]:
    return [Path(r.target).name if r.kind == "file" else r.target for r in res.references]


def not_found(res: DocumentResult) -> list[str]:
    return [d.message for d in res.diagnostics if d.code == "reference-not-found"]


def test_the_dialect_names_of_settings_are_the_dialects() -> None:
    assert DIALECT_NAMES == DIALECTS


def test_claude_memory_imports_relative_to_the_importing_file(workspace: Path) -> None:
    memory = "Rules. @docs/a.md and @pytest.mark.asyncio, @org/team, {{ name }}\n"
    a = "A: see @b.md\n"  # nested: relative to docs/
    b = "B text\n"
    put(workspace, "sub/CLAUDE.md", memory)
    put(workspace, "sub/docs/a.md", a)
    put(workspace, "sub/docs/b.md", b)
    res = count(workspace, "sub/CLAUDE.md")
    assert targets(res) == ["a.md", "b.md"]  # no decorator, no handle, no variable
    assert not_found(res) == []
    assert res.tokens.text == tokens(memory)
    assert res.tokens.total == tokens(memory, a, b)


def test_a_path_shaped_typo_still_warns_in_every_dialect_that_reads_files(
    workspace: Path,
) -> None:
    body = "See @docs/missing-guide.md and @./typo.md please.\n"
    for rel in ("CLAUDE.md", "notes.md", ".cursor/rules/r.mdc", "AGENTS.md"):
        put(workspace, rel, body)
        res = count(workspace, rel)
        assert len(not_found(res)) == 2, (rel, res.diagnostics)


def test_copilot_at_names_are_participants_links_and_hash_files_count(workspace: Path) -> None:
    prompt = "Ask @workspace about [the guide](guide.md) and #file:extra.md\n"
    put(workspace, "workspace", "a file named like the participant\n")
    put(workspace, "guide.md", "Guide.\n")
    put(workspace, "extra.md", "Extra.\n")
    put(workspace, "ask.prompt.md", prompt)
    res = count(workspace, "ask.prompt.md")
    assert targets(res) == ["guide.md", "extra.md"]
    assert res.tokens.total == tokens(prompt, "Guide.\n", "Extra.\n")


def test_a_cursor_rules_existing_at_file_is_counted_exactly(workspace: Path) -> None:
    rule = "---\ndescription: API\nglobs: '**/*.ts'\n---\nFollow @api.ts and @app.post here.\n"
    code = "export const api = 1;\n"
    put(workspace, ".cursor/rules/api.mdc", rule)
    put(workspace, ".cursor/rules/api.ts", code)
    res = count(workspace, ".cursor/rules/api.mdc")
    assert targets(res) == ["api.ts"]
    assert res.tokens.references == tokens(code)
    assert res.tokens.total == tokens(rule, code)


def test_an_at_name_not_shaped_like_a_path_counts_when_the_file_exists(workspace: Path) -> None:
    memory = "Read @run.log first; @console.log is code.\n"
    put(workspace, "run.log", "Log line.\n")
    put(workspace, "CLAUDE.md", memory)
    res = count(workspace, "CLAUDE.md")
    assert targets(res) == ["run.log"]
    assert not_found(res) == []
    assert res.tokens.total == tokens(memory, "Log line.\n")


def test_template_includes_are_file_references(workspace: Path) -> None:
    cases = {
        "p/main.prompt": ("Hello {{> header}} and @not/a-file.md\n", "p/_header.prompt"),
        "j/main.jinja": ('{% include "part.j2" %} body\n', "j/part.j2"),
        "y/main.prompty": (
            "---\nname: x\nsample: ${file:sample.json}\n---\nsystem: hi\n",
            "y/sample.json",
        ),
    }
    for rel, (text, included) in cases.items():
        put(workspace, rel, text)
        inc = put(workspace, included, f"included by {rel}\n").read_text()
        res = count(workspace, rel)
        assert targets(res) == [Path(included).name], rel
        assert res.tokens.total == tokens(text, inc), rel
        assert not_found(res) == []


def test_a_settings_override_chooses_the_dialect(workspace: Path) -> None:
    text = '{% include "x.txt" %} and @y.md\n'
    put(workspace, "tpl/page.txt", text)
    put(workspace, "tpl/x.txt", "X.\n")
    put(workspace, "tpl/y.md", "Y.\n")
    plain = count(workspace, "tpl/page.txt")
    assert targets(plain) == ["y.md"]
    jinja = count(
        workspace, "tpl/page.txt", {"dialects": [{"glob": "tpl/*.txt", "dialect": "jinja"}]}
    )
    assert targets(jinja) == ["x.txt"]  # a template engine reads no @
    assert jinja.tokens.total == tokens(text, "X.\n")


def test_a_workspace_file_sets_dialect_overrides(workspace: Path) -> None:
    put(
        workspace,
        ".prompt-tokens.toml",
        '[[dialects]]\nglob = "tpl/*.txt"\ndialect = "jinja"\n',
    )
    put(workspace, "tpl/page.txt", '{% include "x.txt" %}\n')
    put(workspace, "tpl/x.txt", "X.\n")
    proc = run("count", "--json", "--no-cache", "tpl/page.txt", cwd=workspace)
    assert proc.returncode == 0, proc.stderr
    (doc,) = json.loads(proc.stdout)["files"]
    assert [Path(r["target"]).name for r in doc["references"]] == ["x.txt"]


def test_no_not_found_warning_on_a_non_path_in_the_corpus(tmp_path: Path) -> None:
    """Every corpus file through the CLI (on a copy, with typos planted in two of them)."""
    copy = tmp_path / "corpus"
    shutil.copytree(corpus_dir(), copy)
    (copy / ".git").mkdir()
    planted = {
        "skills/PLANTED.md": "Read @docs/missing-guide.md first.\n",
        "cursor-rules/.cursor/rules/planted.mdc": "---\nalwaysApply: true\n---\nSee @./typo.md\n",
    }
    for rel, text in planted.items():
        put(copy, rel, text)
    files = [
        str(p.relative_to(copy))
        for p in sorted(copy.rglob("*"))
        if p.is_file() and ".git" not in p.parts and b"\0" not in p.read_bytes()[:8192]
    ]
    proc = run("count", "--no-cache", *files, cwd=copy, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    warned = [
        line.split("File not found: ", 1)[1].rsplit(" [", 1)[0]
        for line in proc.stderr.splitlines()
        if "[reference-not-found]" in line
    ]
    assert [w for w in warned if not looks_like_path(w)] == []
    assert {"docs/missing-guide.md", "./typo.md"} <= set(warned)
    # the one real reference the corpus keeps: a Cursor rule naming a file it did not ship
    assert sorted(set(warned) - {"docs/missing-guide.md", "./typo.md"}) == ["AI.MD"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.lists(
        st.sampled_from(
            [*STATE_PIECES, "@pkg/name@1.2 ", "@./a.md ", "{{> head}}", '{% include "i.j2" %}']
        ),
        max_size=40,
    ).map("".join),
    edits=st.lists(
        st.tuples(
            st.floats(0, 1, allow_nan=False),
            st.sampled_from([*STATE_PIECES, "{{>", "@x.md", "{% include 'y' %}"]),
        ),
        max_size=6,
    ),
    dialect=st.sampled_from(["claude-memory", "copilot", "jinja", "dotprompt", "markdown"]),
    block_chars=st.sampled_from([1, 16, 4096]),
)
def test_the_incremental_dialect_scan_equals_the_whole_text_scan(
    text: str, edits: list[tuple[float, str]], dialect: str, block_chars: int
) -> None:
    rt = Runtime()
    rt.set_settings("/w", Settings(dialects=[]))
    name = {"claude-memory": "CLAUDE.md", "copilot": "a.prompt.md", "jinja": "a.jinja"}
    path = "/w/" + name.get(dialect, "a.prompt" if dialect == "dotprompt" else "a.md")
    scanner = rt.scanner("/w", path)
    assert scanner is not None
    doc = DocumentState(text, encoding=ENC, block_chars=block_chars)
    for where, new in [(0.0, ""), *edits]:
        a = int(where * len(text))
        doc.replace(a, a, new)
        text = text[:a] + new + text[a:]
        got = doc.occurrences(scanner.scan, scanner.key)
        want = dialect_references(text, rt.dialect("/w", path), path=path, markdown_links="auto")
        assert [(o.target, o.syntax, o.span) for o in got] == [
            (o.target, o.syntax, o.span) for o in want
        ]


def test_a_skills_three_numbers_are_in_count_json(workspace: Path) -> None:
    body = "# Forms\n\nSee [the guide](guide.md) and [missing](gone.md).\n"
    skill = "---\nname: forms\ndescription: Fill PDF forms.\n---\n" + body
    guide = "Guide to every field.\n"
    put(workspace, ".claude/skills/forms/SKILL.md", skill)
    put(workspace, ".claude/skills/forms/guide.md", guide)
    proc = run("count", "--json", "--no-cache", ".claude/skills/forms/SKILL.md", cwd=workspace)
    assert proc.returncode == 0, proc.stderr
    (doc,) = json.loads(proc.stdout)["files"]
    assert doc["agent"]["skill"] == {
        "name": "forms",
        "metadata": tokens("forms: Fill PDF forms."),
        "body": tokens(body),
        "resources": tokens(guide),
        "resourceFiles": 1,
        "invokedOnly": False,
    }
    plain_doc = put(workspace, "notes.md", "no agent here\n")
    proc = run("count", "--json", "--no-cache", str(plain_doc), cwd=workspace)
    assert "agent" not in json.loads(proc.stdout)["files"][0]


def test_what_an_agent_loads_is_remembered_until_a_file_it_read_changes(
    workspace: Path,
) -> None:
    put(workspace, "CLAUDE.md", "Root memory.\n")
    put(workspace, "sub/docs/a.md", "A.\n")
    sub = put(workspace, "sub/CLAUDE.md", "Sub memory. @docs/a.md\n")
    rt = Runtime()
    rt.set_settings(str(workspace), Settings(dialects=[]))
    loads = rt._agents._loads
    loads.options = attrs.evolve(loads.options, home=None)  # the repository alone

    def ask() -> tuple[int, int]:
        ctx = rt.agent_context(str(workspace), str(sub))
        assert ctx is not None and ctx.agent == "claude-code"
        return len(ctx.always), ctx.total

    first = ask()
    assert first == (3, tokens("Root memory.\n", "A.\n", "Sub memory. @docs/a.md\n"))
    assert ask() == first and loads.computed == 1  # asked again: nothing read again
    put(workspace, "sub/docs/a.md", "A, longer now.\n")
    assert ask()[1] == tokens("Root memory.\n", "A, longer now.\n", "Sub memory. @docs/a.md\n")
    put(workspace, "sub/.claude/rules/r.md", "A rule for sub.\n")  # a new file in a new folder
    assert ask()[0] == 4 and loads.computed == 3
    assert rt.agent_context(str(workspace), str(put(workspace, "x.md", "x\n"))) is None


def test_the_folder_an_agent_works_in_and_the_hover_headline() -> None:
    assert working_folder(Path("/r/app/CLAUDE.md")) == Path("/r/app")
    assert working_folder(Path("/r/.claude/rules/a/b.md")) == Path("/r")
    assert working_folder(Path("/r/x/.github/copilot-instructions.md")) == Path("/r/x")
    assert working_folder(Path("/r/.cursor/rules/y.mdc")) == Path("/r")
    memories = [
        ContextFile(path=f"/r/{i}.md", role="memory", loaded="always", tokens=1530)
        for i in range(4)
    ]
    files = (*memories, ContextFile(path="/r/s.md", role="rule", loaded="conditional", tokens=9))
    ctx = AgentContext(agent="claude-code", directory="/r", root="/r", files=files)
    assert headline(ctx) == "Claude Code loads 4 files here: 6,120 tokens"
