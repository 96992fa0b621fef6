"""``CheckReport`` from a real repository with a base and a change; the text and JSON formats."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from prompt_tokens.ci.formats import FORMATS, emit, render
from prompt_tokens.ci.report import ReportDiagnostic, build_report, file_input
from prompt_tokens.errors import UsageError
from prompt_tokens.results import Diagnostic, DocumentResult, Span, TokenCounts
from tests.unit.ci_repo import count, git, make_repo, run_check

BUDGETS = {
    "budgets": [
        {"glob": ".github/instructions/**", "total": 300},
        {"glob": "docs/**", "max": 1000},
    ]
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo(tmp_path_factory.mktemp("report") / "repo")


def base_count(repo: Path, path: str) -> int:
    return count(git(repo, "show", f"main~1:{path}"))


def now_count(repo: Path, path: str) -> int:
    return count((repo / path).read_text(encoding="utf-8"))


def test_report_numbers_come_from_git_and_the_tokenizer(repo: Path) -> None:
    report = run_check(repo, base="main...HEAD", config=BUDGETS, max_increase="10%")
    files = {f.path: f for f in report.files}
    assert set(files) == {
        ".github/instructions/python.instructions.md",
        ".github/instructions/web.instructions.md",
        "docs/added.md",
        "docs/guide.md",
        "docs/style.md",
        "notes/new-name.md",
    }
    guide = files["docs/guide.md"]
    old, new = base_count(repo, "docs/guide.md"), now_count(repo, "docs/guide.md")
    assert new > old * 1.1  # the branch grew it by more than 10%
    assert guide.delta is not None
    assert (guide.base, guide.total, guide.delta.change) == (old, new, new - old)
    assert guide.delta.exceeded and guide.failed and guide.status == "ok"
    assert (guide.budget, guide.budget_glob) == (1000, "docs/**")
    assert [d.code for d in guide.diagnostics] == ["max-increase-exceeded"]
    renamed = files["notes/new-name.md"]
    assert renamed.delta is not None
    assert (renamed.delta.kind, renamed.delta.old_path) == ("renamed", "notes/old-name.md")
    assert renamed.base == base_count(repo, "notes/old-name.md") == renamed.total
    added = files["docs/added.md"]
    assert added.delta is not None and (added.delta.kind, added.base) == ("added", None)
    style = files["docs/style.md"]  # main's later edit is not the base of main...HEAD
    assert style.base == base_count(repo, "docs/style.md") == style.total
    (gone,) = report.deleted
    assert (gone.path, gone.old, gone.kind) == (
        "docs/gone.md",
        base_count(repo, "docs/gone.md"),
        "deleted",
    )
    (agg,) = report.aggregates
    expected = sum(now_count(repo, p) for p in agg.paths)
    assert (agg.tokens, agg.limit, agg.status) == (expected, 300, "exceeded")
    totals = report.delta_totals
    assert totals is not None and totals.new == report.total
    assert totals.old == sum(
        base_count(repo, p) for p in git(repo, "ls-tree", "-r", "--name-only", "main~1").split()
    )
    assert report.exit_code == 1


def test_exit_codes(repo: Path) -> None:
    assert run_check(repo).exit_code == 0
    assert run_check(repo, base="main...HEAD").exit_code == 0  # a delta alone never fails
    assert run_check(repo, base="main...HEAD", max_increase="50%").exit_code == 0
    assert run_check(repo, base="main...HEAD", max_increase="100").exit_code == 1
    over = {"budgets": [{"glob": "notes/*.md", "max": 50}]}
    report = run_check(repo, config=over)
    assert report.exit_code == 1
    assert [f.path for f in report.failed_files] == ["notes/new-name.md"]


def test_text_format(repo: Path) -> None:
    report = run_check(repo, base="main...HEAD", config=BUDGETS, max_increase="10%")
    lines = render(report, "text").splitlines()
    assert lines[0].split() == [
        "file",
        "text",
        "refs",
        "total",
        "budget",
        "used",
        "status",
        "change",
    ]
    rows = {re.split(r"\s{2,}", line)[0]: re.split(r"\s{2,}", line) for line in lines[1:7]}
    old, new = base_count(repo, "docs/guide.md"), now_count(repo, "docs/guide.md")
    pct = f"{100 * (new - old) / old:.1f}".removesuffix(".0")
    assert rows["docs/guide.md"] == [
        "docs/guide.md", f"{new:,}", "0", f"{new:,}", "1,000", f"{round(new / 10)}%", "ok",
        f"{old:,} → {new:,} (+{new - old:,}, +{pct}%)",
    ]  # fmt: skip
    assert rows["notes/new-name.md (was notes/old-name.md)"][-1].endswith("(+0, +0%)")
    assert (
        rows["docs/added.md"][-1]
        == f"new → {now_count(repo, 'docs/added.md')} (+{now_count(repo, 'docs/added.md')})"
    )
    gone = base_count(repo, "docs/gone.md")
    assert f"deleted docs/gone.md: {gone} → deleted (-{gone}, -100%)" in lines
    assert (
        f"docs/guide.md:1:1: error: Prompt grew {old:,} → {new:,} (+{new - old:,}, +{pct}%), more than --max-increase 10% [max-increase-exceeded]"
        in lines
    )
    assert any(
        line.startswith(
            '.prompt-tokens.toml:1:1: error: Files matching ".github/instructions/**" use 310 of 300 tokens'
        )
        for line in lines
    )
    assert lines[-1].endswith("2 over budget or limit")
    assert f"against main...HEAD ({report.base_commit[:12]})" in lines[-1]  # type: ignore[index]


def test_json_format_extends_count_json(repo: Path) -> None:
    report = run_check(repo, base="main...HEAD", config=BUDGETS, max_increase="10%")
    doc = json.loads(render(report, "json"))
    assert doc["total"] == report.total == sum(f["tokens"]["total"] for f in doc["files"])
    by_path = {f["path"]: f for f in doc["files"]}
    guide = by_path["docs/guide.md"]
    old, new = base_count(repo, "docs/guide.md"), now_count(repo, "docs/guide.md")
    assert guide["tokens"] == {"text": new, "references": 0, "total": new}
    assert guide["base"] == {"total": old, "path": "docs/guide.md"}
    assert guide["delta"] == new - old
    assert (guide["budget"], guide["status"], guide["budget_glob"]) == (1000, "ok", "docs/**")
    assert guide["max_increase_exceeded"] is True
    assert guide["references"] == [] and guide["exact"] is True  # count --json keys kept
    assert by_path["notes/new-name.md"]["base"]["path"] == "notes/old-name.md"
    assert by_path["docs/added.md"]["base"] is None
    assert by_path["docs/added.md"]["delta"] == now_count(repo, "docs/added.md")
    assert doc["base"]["revision"] == "main...HEAD"
    assert doc["base"]["commit"] == git(repo, "rev-parse", "main~1").strip()
    assert doc["delta"] == doc["total"] - doc["base"]["total"]
    assert doc["deleted"] == [
        {"path": "docs/gone.md", "base": {"total": base_count(repo, "docs/gone.md"), "path": "docs/gone.md"},
         "delta": -base_count(repo, "docs/gone.md")}
    ]  # fmt: skip
    (agg,) = doc["budgets"]
    assert (agg["glob"], agg["budget"], agg["status"]) == (
        ".github/instructions/**",
        300,
        "exceeded",
    )
    assert doc["exit_code"] == 1
    plain = json.loads(render(run_check(repo), "json"))
    assert "base" not in plain and "delta" not in plain["files"][0]  # no --base: count's shape


def test_problems_reach_every_format(repo: Path) -> None:
    report = run_check(repo, config={"budgets": [{"glob": "docs/**", "max": "lots"}]})
    (problem,) = report.problems
    assert problem.startswith('[[budgets]] #1 (glob "docs/**"): max: must be')
    for fmt in FORMATS:
        out = render(report, fmt)
        assert "[[budgets]] #1" in out, fmt


def test_unknown_format_is_a_usage_error(repo: Path) -> None:
    with pytest.raises(
        UsageError, match="--format must be one of text, json, sarif, junit, github"
    ):
        render(run_check(repo), "xml")


def test_emit_writes_the_step_summary_only_for_github(repo: Path, tmp_path: Path) -> None:
    report = run_check(repo, base="main...HEAD")
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    out = io.StringIO()
    emit(report, "text", out, environ={"GITHUB_STEP_SUMMARY": str(summary)})
    assert summary.read_text() == "earlier step\n"
    emit(report, "github", out, environ={"GITHUB_STEP_SUMMARY": str(summary)})
    text = summary.read_text()
    assert text.startswith("earlier step\n### prompt-tokens check\n")  # appended, not replaced
    emit(report, "github", io.StringIO(), environ={})  # unset: nothing to write, no error


def test_file_input_from_an_engine_result() -> None:
    """The CLI's adapter: budget diagnostics are recomputed, others keep their 1-based place."""
    span = Span(line=2, start=4, end_line=2, end=11)
    result = DocumentResult(
        path="/ws/a.md",
        encoding="o200k_base",
        budget=100,
        model="gpt-4o",
        tokens=TokenCounts(text=90, references=30),
        diagnostics=[
            Diagnostic(
                "budget-exceeded", "error", "Prompt uses 120 of 100 tokens (120%)", Span(0, 0, 0, 0)
            ),
            Diagnostic("reference-not-found", "warning", "not found: x.md", span),
        ],
    )
    item = file_input(result, "a.md", base_path="old.md", base_total=100)
    assert (item.text, item.references, item.budget, item.model) == (90, 30, 100, "gpt-4o")
    assert item.diagnostics == (
        ReportDiagnostic("reference-not-found", "warning", "not found: x.md", 3, 5, 3, 12),
    )
    report = build_report("/ws", [item], base_commit="abc", base_revision="main")
    (f,) = report.files
    assert [d.code for d in f.diagnostics] == ["budget-exceeded", "reference-not-found"]
    assert f.diagnostics[0].message == "Prompt uses 120 of 100 tokens (120%)"
    assert f.delta is not None and f.delta.describe() == "100 → 120 (+20, +20%)"
    assert f.count_json["encoding"] == "o200k_base"


def test_dollar_budget_in_json(repo: Path) -> None:
    """``max = "$0.001"`` at $2.50 per million input tokens is 400 tokens; the JSON says both."""
    config = {"budgets": [{"glob": "docs/guide.md", "max": "$0.001", "model": "gpt-4o"}]}
    report = run_check(repo, config=config, price_for={"gpt-4o": 2.5}.get)
    doc = json.loads(render(report, "json"))
    guide = next(f for f in doc["files"] if f["path"] == "docs/guide.md")
    tokens = now_count(repo, "docs/guide.md")
    assert (guide["budget"], guide["budget_usd"]) == (400, "$0.001")
    assert guide["cost_usd"] == pytest.approx(tokens * 2.5 / 1e6)
    assert tokens > 400  # the fixture's guide is ~529 tokens
    assert (guide["status"], doc["exit_code"]) == ("exceeded", 1)
    (diag,) = guide["diagnostics"]
    assert diag["message"] == (
        f"Prompt uses {tokens} tokens (${tokens * 2.5 / 1e6:.6f}".rstrip("0")
        + f' per call) of a $0.001 budget ({round(tokens * 2.5 / 10)}%) (budget for "docs/guide.md")'
    )
