"""``--format junit``: JUnit XML, the format every CI test-report view reads.

One test suite; one test case per file (a ``<failure>`` when it is over its budget or grew more
than ``--max-increase``; warnings and the numbers in ``<system-out>``) and one per ``total``
budget. Built with ``xml.etree`` so every name is escaped; characters XML 1.0 cannot carry at
all (most control characters) are replaced first, since a cloned repository may name files so.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from prompt_tokens.ci.report import (
    CheckReport,
    FileReport,
    ReportDiagnostic,
    aggregate_diagnostic,
    budget_text,
)
from prompt_tokens.workspace import CONFIG_FILE

SUITE = "prompt-tokens check"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _line(path: str, d: ReportDiagnostic) -> str:
    return f"{path}:{d.line}:{d.column}: {d.severity}: {d.message} [{d.code}]"


def _numbers(f: FileReport) -> str:
    budget = f"{f.budget:,}" if f.budget else "none"
    out = f"{f.total:,} tokens (text {f.text:,}, references {f.references:,}); budget {budget}"
    if f.usd_limit is not None:
        out += f" (${f.usd_limit} per call)"
    if f.delta is not None:
        out += f"; change {f.delta.describe()}"
    return out


def _case(parent: ET.Element, name: str, classname: str, file: str) -> ET.Element:
    case = ET.SubElement(parent, "testcase", name=_xml(name), classname=classname, file=_xml(file))
    case.set("time", "0")
    return case


def _fail(case: ET.Element, path: str, errors: list[ReportDiagnostic]) -> None:
    failure = ET.SubElement(
        case, "failure", type=errors[0].code, message=_xml("; ".join(e.message for e in errors))
    )
    failure.text = _xml("\n".join(_line(path, e) for e in errors))


def to_junit(report: CheckReport) -> ET.Element:
    suites = ET.Element("testsuites", name="prompt-tokens")
    suite = ET.SubElement(suites, "testsuite", name=SUITE)
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="total", value=str(report.total))
    if report.base_commit is not None:
        ET.SubElement(props, "property", name="base", value=_xml(report.base_revision or ""))
        ET.SubElement(props, "property", name="base.commit", value=report.base_commit)
    failures = 0
    for f in report.files:
        case = _case(suite, f.path, "prompt-tokens.files", f.path)
        errors = [
            d for d in f.diagnostics if d.code in ("budget-exceeded", "max-increase-exceeded")
        ]
        if errors:
            failures += 1
            _fail(case, f.path, errors)
        out = [_numbers(f), *(_line(f.path, d) for d in f.diagnostics if d not in errors)]
        ET.SubElement(case, "system-out").text = _xml("\n".join(out))
    for agg in report.aggregates:
        case = _case(suite, f"total of {agg.budget.label}", "prompt-tokens.budgets", CONFIG_FILE)
        d = aggregate_diagnostic(agg)
        if d is not None and agg.status == "exceeded":
            failures += 1
            _fail(case, CONFIG_FILE, [d])
        members = "\n".join(agg.paths)
        ET.SubElement(case, "system-out").text = _xml(f"{budget_text(agg)}\n{members}")
    if report.deleted or report.problems:
        lines = [f"deleted {d.path}: {d.describe()}" for d in report.deleted]
        ET.SubElement(suite, "system-err").text = _xml("\n".join([*lines, *report.problems]))
    tests = len(report.files) + len(report.aggregates)
    for element in (suites, suite):
        element.set("tests", str(tests))
        element.set("failures", str(failures))
        element.set("errors", "0")
        element.set("time", "0")
    suite.set("skipped", "0")
    return suites


def render_junit(report: CheckReport) -> str:
    tree = to_junit(report)
    ET.indent(tree)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(tree, encoding="unicode") + "\n"
