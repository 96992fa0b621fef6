"""``--format github``: workflow commands line by line (with GitHub's escaping), step summary."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from prompt_tokens.ci.formats import emit, render
from prompt_tokens.ci.github import escape_data, escape_property, summary_markdown
from prompt_tokens.ci.report import FileInput, ReportDiagnostic, build_report
from tests.unit.ci_repo import count, git, make_repo, run_check

BUDGETS = {
    "budgets": [
        {"glob": ".github/instructions/**", "total": 300},
        {"glob": "notes/**", "max": 100},
    ]
}
UNDEFINED = ReportDiagnostic(
    "variable-undefined", "information", "{{ name }} has no value", 2, 9, 2, 19
)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo(tmp_path_factory.mktemp("github") / "repo")


def test_escaping_follows_the_runner() -> None:
    # @actions/core toCommandValue/escapeData/escapeProperty
    assert escape_data("50% done\r\nnext: a, b") == "50%25 done%0D%0Anext: a, b"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def test_annotations_line_by_line(repo: Path) -> None:
    report = run_check(
        repo, base="main...HEAD", config=BUDGETS, max_increase="10%",
        diagnostics={"docs/added.md": [UNDEFINED]},
    )  # fmt: skip
    lines = render(report, "github").splitlines()
    tokens = count((repo / "notes/new-name.md").read_text())
    old = count(git(repo, "show", "main~1:docs/guide.md"))
    new = count((repo / "docs/guide.md").read_text())
    pct = f"{100 * (new - old) / old:.1f}".removesuffix(".0")
    assert lines == [
        "::notice file=docs/added.md,line=2,col=9,endLine=2,endColumn=19,"
        "title=prompt-tokens variable-undefined::{{ name }} has no value",
        "::error file=docs/guide.md,line=1,col=1,title=prompt-tokens max-increase-exceeded::"
        f"Prompt grew {old:,} → {new:,} (+{new - old:,}, +{pct}%25), more than --max-increase 10%25",
        "::error file=notes/new-name.md,line=1,col=1,title=prompt-tokens budget-exceeded::"
        f'Prompt uses {tokens} of 100 tokens ({tokens}%25) (budget for "notes/**")',
        "::error file=.prompt-tokens.toml,line=1,col=1,title=prompt-tokens budget-total-exceeded::"
        'Files matching ".github/instructions/**" use 310 of 300 tokens (103%25) together (2 files)',
    ]


def test_hostile_names_cannot_inject_commands() -> None:
    name = "a,b:c.md\n::error::injected"
    diag = ReportDiagnostic("reference-not-found", "warning", "not found:\r\n::warning::x", 1, 1)
    item = FileInput(name, 5, 0, "cl100k_base", 8192, diagnostics=(diag,))
    out = render(build_report("/ws", [item]), "github")
    assert out.splitlines() == [
        "::warning file=a%2Cb%3Ac.md%0A%3A%3Aerror%3A%3Ainjected,line=1,col=1,"
        "title=prompt-tokens reference-not-found::not found:%0D%0A::warning::x"
    ]
    text = render(build_report("/ws", [item]), "text")
    assert not any(line.startswith("::") for line in text.splitlines())  # text escapes too


def test_workspace_below_the_repository_root() -> None:
    item = FileInput("guide.md", 500, 0, "cl100k_base", 100)
    out = render(build_report("/repo/docs", [item], repo_prefix="docs/"), "github")
    assert out.startswith(
        "::error file=docs/guide.md,line=1,col=1,title=prompt-tokens budget-exceeded::"
    )


def test_clean_run_prints_nothing(repo: Path) -> None:
    assert render(run_check(repo), "github") == ""


def test_step_summary_table(repo: Path, tmp_path: Path) -> None:
    report = run_check(repo, base="main...HEAD", config=BUDGETS, max_increase="10%")
    target = tmp_path / "step-summary.md"
    emit(report, "github", io.StringIO(), environ={"GITHUB_STEP_SUMMARY": str(target)})
    md = target.read_text(encoding="utf-8")
    assert md == summary_markdown(report)
    lines = md.splitlines()
    assert lines[0] == "### prompt-tokens check"
    header = lines.index("| File | Tokens | Budget | Used | Status | Change |")
    assert lines[header + 1] == "|---|---:|---:|---:|---|---|"
    rows = {}
    for line in lines[header + 2 :]:
        if not line.startswith("| "):
            break
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        rows[cells[0]] = cells
    tokens = count((repo / "notes/new-name.md").read_text())
    assert rows["notes/new-name.md"] == [
        "notes/new-name.md", str(tokens), "100", f"{tokens}%", "❌ exceeded",
        f"{tokens} → {tokens} (+0, +0%), renamed from notes/old-name.md",
    ]  # fmt: skip
    old = count(git(repo, "show", "main~1:docs/guide.md"))
    new = count((repo / "docs/guide.md").read_text())
    assert rows["docs/guide.md"][1] == str(new) and rows["docs/guide.md"][4] == "✅ ok"
    assert rows["docs/guide.md"][5].startswith(f"{old} → {new} (+{new - old}, +") and rows[
        "docs/guide.md"
    ][5].endswith("❌")
    added = count((repo / "docs/added.md").read_text())
    assert rows["docs/added.md"][5] == f"new (+{added})"
    gone = count(git(repo, "show", "main~1:docs/gone.md"))
    assert rows["docs/gone.md"] == [
        "docs/gone.md",
        "–",
        "–",
        "–",
        "deleted",
        f"{gone} → deleted (-{gone}, -100%)",
    ]
    assert (
        "- Files matching .github/instructions/\\*\\*: 310 of 300 tokens (103%) — ❌ exceeded"
        in lines
    )
    assert any(
        line.startswith(f"**6 files, {report.total:,} tokens** · against main...HEAD")
        for line in lines
    )


def test_summary_cells_cannot_break_the_table() -> None:
    item = FileInput("a|b`c\nd.md", 5, 0, "cl100k_base", 8192)
    md = summary_markdown(build_report("/ws", [item]))
    (row,) = [line for line in md.splitlines() if line.startswith("| a")]
    assert row.startswith("| a\\|b\\`c d.md | 5 |")
    assert row.count(" | ") == 4  # five cells: the escaped pipe did not add one
