"""``--format junit``: parsed back with ``xml.etree`` and checked for numbers, paths and lines."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from prompt_tokens.ci.formats import render
from prompt_tokens.ci.report import FileInput, ReportDiagnostic, build_report
from tests.unit.ci_repo import count, git, make_repo, run_check

BUDGETS = {
    "budgets": [
        {"glob": ".github/instructions/**", "total": 300},
        {"glob": "notes/**", "max": 100},
    ]
}
MISSING = ReportDiagnostic("reference-not-found", "warning", "File not found: spec.md", 3, 5)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo(tmp_path_factory.mktemp("junit") / "repo")


def parse(xml: str) -> ET.Element:
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    return ET.fromstring(xml.encode("utf-8"))


def test_junit_one_case_per_file_failures_when_over(repo: Path) -> None:
    report = run_check(
        repo, base="main...HEAD", config=BUDGETS, max_increase="10%",
        diagnostics={"docs/added.md": [MISSING]},
    )  # fmt: skip
    root = parse(render(report, "junit"))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    # six files and one total budget
    assert [c.get("name") for c in cases] == [
        ".github/instructions/python.instructions.md",
        ".github/instructions/web.instructions.md",
        "docs/added.md",
        "docs/guide.md",
        "docs/style.md",
        "notes/new-name.md",
        "total of .github/instructions/**",
    ]
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("7", "3", "0")
    assert (root.get("tests"), root.get("failures")) == ("7", "3")
    by_name = {c.get("name"): c for c in cases}
    for name, case in by_name.items():
        assert case.get("file") == (".prompt-tokens.toml" if name.startswith("total of") else name)

    renamed = by_name["notes/new-name.md"]
    tokens = count((repo / "notes/new-name.md").read_text())
    failure = renamed.find("failure")
    assert failure is not None and failure.get("type") == "budget-exceeded"
    assert (
        failure.get("message")
        == f'Prompt uses {tokens} of 100 tokens ({tokens}%) (budget for "notes/**")'
    )
    assert (
        failure.text == f"notes/new-name.md:1:1: error: {failure.get('message')} [budget-exceeded]"
    )
    out = renamed.findtext("system-out")
    assert (
        out
        == f"{tokens} tokens (text {tokens}, references 0); budget 100; change {tokens} → {tokens} (+0, +0%)"
    )

    guide = by_name["docs/guide.md"]
    old = count(git(repo, "show", "main~1:docs/guide.md"))
    new = count((repo / "docs/guide.md").read_text())
    failure = guide.find("failure")
    assert failure is not None and failure.get("type") == "max-increase-exceeded"
    assert f"Prompt grew {old} → {new} (+{new - old}" in (failure.get("message") or "")
    assert (failure.text or "").startswith("docs/guide.md:1:1: error: Prompt grew")

    added = by_name["docs/added.md"]
    assert added.find("failure") is None  # a warning is not a failure ...
    lines = (added.findtext("system-out") or "").splitlines()
    assert (
        lines[1] == "docs/added.md:3:5: warning: File not found: spec.md [reference-not-found]"
    )  # ... but is shown

    total = by_name["total of .github/instructions/**"]
    failure = total.find("failure")
    assert failure is not None and failure.get("type") == "budget-total-exceeded"
    assert (total.findtext("system-out") or "").splitlines() == [
        "310 of 300 tokens (103%)",
        ".github/instructions/python.instructions.md",
        ".github/instructions/web.instructions.md",
    ]
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props == {
        "total": str(report.total),
        "base": "main...HEAD",
        "base.commit": git(repo, "rev-parse", "main~1").strip(),
    }
    gone = count(git(repo, "show", "main~1:docs/gone.md"))
    assert (
        suite.findtext("system-err") == f"deleted docs/gone.md: {gone} → deleted (-{gone}, -100%)"
    )


def test_all_within_budget_has_no_failures(repo: Path) -> None:
    suite = parse(render(run_check(repo), "junit")).find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("6", "0")
    assert suite.findall(".//failure") == []


def test_names_xml_cannot_carry_are_replaced_not_fatal() -> None:
    item = FileInput('bad\x01name<&>".md', 50, 0, "cl100k_base", 10, diagnostics=(MISSING,))
    root = parse(render(build_report("/ws", [item]), "junit"))
    (case,) = root.iter("testcase")
    assert case.get("name") == 'bad\ufffdname<&>".md'
    failure = case.find("failure")
    assert failure is not None and failure.get("message") == "Prompt uses 50 of 10 tokens (500%)"
