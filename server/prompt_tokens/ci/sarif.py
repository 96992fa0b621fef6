"""``--format sarif``: SARIF 2.1.0 for code scanning (GitHub, Azure DevOps, IDE SARIF viewers).

One run; ``tool.driver.rules`` holds one rule per diagnostic code that occurs (``ruleIndex``
points into it); each result has the file (relative to the repository root through the
``%SRCROOT%`` base, which ``originalUriBaseIds`` maps to an absolute ``file:`` URI), the region
(1-based line and UTF-16 column, the run's ``columnKind``) and a level. Configuration messages
go to the invocation's ``toolConfigurationNotifications``, where viewers show tool problems.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from prompt_tokens import __version__
from prompt_tokens.ci.report import RULES, CheckReport, ReportDiagnostic

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
BASE_ID = "%SRCROOT%"
_LEVELS = {"error": "error", "warning": "warning", "information": "note", "hint": "note"}


def _source_root(report: CheckReport) -> str:
    """``file:`` URI of the repository root (the workspace root minus ``repo_prefix``)."""
    root = Path(report.root)
    for _ in PurePosixPath(report.repo_prefix).parts:
        root = root.parent
    uri = root.resolve().as_uri()
    return uri if uri.endswith("/") else uri + "/"


def _region(d: ReportDiagnostic) -> dict[str, int]:
    region = {"startLine": max(1, d.line), "startColumn": max(1, d.column)}
    if d.end_line is not None and d.end_column is not None and d.end_line >= d.line:
        region["endLine"] = d.end_line
        region["endColumn"] = max(1, d.end_column)
    return region


def _rule(code: str, level: str) -> dict[str, Any]:
    return {
        "id": code,
        "name": "".join(part.capitalize() for part in code.split("-")),
        "shortDescription": {"text": RULES.get(code, code.replace("-", " "))},
        "defaultConfiguration": {"level": level},
    }


def to_sarif(report: CheckReport) -> dict[str, Any]:
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    results = []
    for path, d in report.diagnostics():
        level = _LEVELS.get(d.severity, "warning")
        if d.code not in index:
            index[d.code] = len(rules)
            rules.append(_rule(d.code, level))
        uri = quote(report.repo_prefix + path, safe="/")
        results.append(
            {
                "ruleId": d.code,
                "ruleIndex": index[d.code],
                "level": level,
                "message": {"text": d.message},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": uri, "uriBaseId": BASE_ID},
                            "region": _region(d),
                        }
                    }
                ],
            }
        )
    invocation: dict[str, Any] = {"executionSuccessful": True}
    if report.problems:
        invocation["toolConfigurationNotifications"] = [
            {"level": "warning", "message": {"text": p}} for p in report.problems
        ]
    run = {
        "tool": {
            "driver": {
                "name": "prompt-tokens",
                "version": __version__,
                "rules": rules,
            }
        },
        "originalUriBaseIds": {BASE_ID: {"uri": _source_root(report)}},
        "columnKind": "utf16CodeUnits",
        "invocations": [invocation],
        "results": results,
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def render_sarif(report: CheckReport) -> str:
    return json.dumps(to_sarif(report), indent=2, ensure_ascii=False) + "\n"
