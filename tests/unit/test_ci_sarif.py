"""``--format sarif`` validated against the published SARIF 2.1.0 schema, and read back."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import jsonschema
import pytest

from prompt_tokens.ci.formats import render
from prompt_tokens.ci.report import FileInput, ReportDiagnostic, build_report
from tests.unit.ci_repo import count, make_repo, run_check, write

SCHEMA = json.loads((Path(__file__).parent.parent / "data" / "sarif-2.1.0-rtm.5.json").read_text())
VALIDATOR = jsonschema.Draft4Validator(
    SCHEMA, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
)
CONFIG = """
[[budgets]]
glob = ".github/instructions/**"
total = 300

[[budgets]]
glob = "docs/guide.md"
max = 400
"""
MISSING = ReportDiagnostic("reference-not-found", "warning", "File not found: spec.md", 3, 5, 3, 14)
UNDEFINED = ReportDiagnostic("variable-undefined", "information", "{{ name }} has no value", 7, 1)


def validate(doc: dict[str, Any]) -> None:
    errors = sorted(VALIDATOR.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = make_repo(tmp_path_factory.mktemp("sarif") / "repo")
    (repo / ".prompt-tokens.toml").write_text(CONFIG)
    return repo


def sarif(repo: Path, **kw: Any) -> dict[str, Any]:
    diagnostics = {"docs/added.md": [MISSING, UNDEFINED]}
    report = run_check(repo, base="main...HEAD", diagnostics=diagnostics, **kw)
    doc: dict[str, Any] = json.loads(render(report, "sarif"))
    return doc


def test_sarif_is_valid_and_says_what_was_found(repo: Path) -> None:
    doc = sarif(repo, max_increase="10%")
    validate(doc)
    assert doc["version"] == "2.1.0"
    (run,) = doc["runs"]
    rules = run["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids))  # one rule per code
    assert set(ids) == {
        "budget-exceeded", "max-increase-exceeded", "reference-not-found", "variable-undefined",
        "budget-total-exceeded",
    }  # fmt: skip
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == repo.resolve().as_uri() + "/"
    found = {}
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        (loc,) = result["locations"]
        phys = loc["physicalLocation"]
        assert phys["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        path = unquote(phys["artifactLocation"]["uri"])
        assert (repo / path).is_file()  # relative to the root, and it exists
        found[(path, result["ruleId"])] = (
            result["level"],
            phys["region"],
            result["message"]["text"],
        )
    guide_tokens = count((repo / "docs/guide.md").read_text())
    level, region, text = found[("docs/guide.md", "budget-exceeded")]
    assert (level, region) == ("error", {"startLine": 1, "startColumn": 1})
    assert (
        text
        == f'Prompt uses {guide_tokens} of 400 tokens ({round(guide_tokens / 4)}%) (budget for "docs/guide.md")'
    )
    assert found[("docs/guide.md", "max-increase-exceeded")][0] == "error"
    level, region, text = found[("docs/added.md", "reference-not-found")]
    assert (level, region, text) == (
        "warning", {"startLine": 3, "startColumn": 5, "endLine": 3, "endColumn": 14}, "File not found: spec.md",
    )  # fmt: skip
    assert found[("docs/added.md", "variable-undefined")][:2] == (
        "note",
        {"startLine": 7, "startColumn": 1},
    )
    level, region, text = found[(".prompt-tokens.toml", "budget-total-exceeded")]
    assert (level, region) == ("error", {"startLine": 1, "startColumn": 1})
    assert (
        text
        == 'Files matching ".github/instructions/**" use 310 of 300 tokens (103%) together (2 files)'
    )
    assert len(run["results"]) == 5


def test_clean_run_is_valid_with_no_results(repo: Path) -> None:
    doc = json.loads(render(run_check(repo, config={}), "sarif"))
    validate(doc)
    (run,) = doc["runs"]
    assert run["results"] == [] and run["tool"]["driver"]["rules"] == []
    assert run["invocations"] == [{"executionSuccessful": True}]


def test_problems_become_configuration_notifications(repo: Path) -> None:
    doc = json.loads(
        render(run_check(repo, config={"budgets": [{"glob": "x", "max": -1}]}), "sarif")
    )
    validate(doc)
    (note,) = doc["runs"][0]["invocations"][0]["toolConfigurationNotifications"]
    assert note["level"] == "warning" and note["message"]["text"].startswith("[[budgets]] #1")


def test_odd_paths_are_percent_encoded_uris(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    write(repo, "docs/with space#and%.md", "x " * 500)
    report = run_check(repo, config={"budgets": [{"glob": "docs/with*", "max": 10}]})
    doc = json.loads(render(report, "sarif"))
    validate(doc)
    (result,) = doc["runs"][0]["results"]
    uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "docs/with%20space%23and%25.md"
    assert unquote(uri) == "docs/with space#and%.md"


def test_workspace_below_the_repository_root(tmp_path: Path) -> None:
    """Code scanning places results relative to the repository, not the workspace folder."""
    repo = make_repo(tmp_path / "repo")
    item = FileInput("guide.md", 500, 0, "cl100k_base", 100)
    report = build_report(str(repo / "docs"), [item], repo_prefix="docs/")
    doc = json.loads(render(report, "sarif"))
    validate(doc)
    (run,) = doc["runs"]
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == repo.resolve().as_uri() + "/"
    loc = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert loc["uri"] == "docs/guide.md" and (repo / loc["uri"]).is_file()


def test_the_schema_check_can_fail(repo: Path) -> None:
    doc = sarif(repo)
    for breakage in ("version", "level", "region"):
        broken = copy.deepcopy(doc)
        result = broken["runs"][0]["results"][0]
        if breakage == "version":
            broken["version"] = "2.0.0"
        elif breakage == "level":
            result["level"] = "fatal"
        else:
            result["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
        assert list(VALIDATOR.iter_errors(broken)), breakage
