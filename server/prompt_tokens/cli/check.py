"""``prompt-tokens check``: the CI gate.

Counts like ``count``, then hands the results to ``prompt_tokens.ci``: budgets per glob from
``[[budgets]]`` (first match wins, then front matter, then the settings), the change against
``--base`` and the ``--max-increase`` limit, and one report every ``--format`` renders (text,
JSON, SARIF, JUnit, GitHub workflow commands). Paths in the report are relative to each file's
workspace root, which is where ``[[budgets]]`` globs are matched.

Exit codes (SPEC "CI"): 0 within budget; 1 a budget, a ``total`` budget or ``--max-increase``
exceeded; 2 usage or configuration errors (bad flags, a base git cannot read, a path given by
name that cannot be counted) — 2 wins over 1, since the verdict is then incomplete.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import attrs

from prompt_tokens.ci.budgets import parse_budgets
from prompt_tokens.ci.delta import MaxIncrease, parse_max_increase
from prompt_tokens.ci.formats import emit
from prompt_tokens.ci.gitbase import repo_prefix
from prompt_tokens.ci.render_text import render_text
from prompt_tokens.ci.report import (
    CheckReport,
    FileInput,
    ReportDiagnostic,
    build_report,
    file_input,
    printable,
)
from prompt_tokens.cli import prefork
from prompt_tokens.cli.base import BaseCounts, count_base
from prompt_tokens.cli.count import (
    CountRun,
    Prepared,
    Runtimes,
    count_in_workers,
    count_rest,
    prepare,
)
from prompt_tokens.cli.merge import merge_reports, relative
from prompt_tokens.cli.models import price_for
from prompt_tokens.cli.output import error
from prompt_tokens.errors import UsageError


@attrs.frozen
class CheckOptions:
    fmt: str
    base: str | None
    max_increase: MaxIncrease | None


def options(args: argparse.Namespace) -> CheckOptions:
    fmt = args.format or ("json" if args.json else "text")
    if args.json and fmt != "json":
        raise UsageError(f"--json and --format {fmt} ask for two formats; give one")
    if args.max_increase is not None and not args.base:
        raise UsageError("--max-increase compares with a base: give --base REV too")
    limit = parse_max_increase(args.max_increase) if args.max_increase is not None else None
    return CheckOptions(fmt, args.base or None, limit)


def _inputs(run: CountRun, root: str, base: BaseCounts | None) -> list[FileInput]:
    out = []
    for item in run.items:
        if item.root != root or item.result is None:
            continue
        old = base.base_path.get(item.path) if base is not None else None
        total = base.totals.get(old) if base is not None and old is not None else None
        out.append(
            file_input(
                item.result,
                relative(item.path, root),
                base_path=relative(old, root) if old is not None and total is not None else None,
                base_total=total,
            )
        )
    return out


def root_report(
    run: CountRun, root: str, base: BaseCounts | None, opts: CheckOptions
) -> CheckReport:
    """The report of one workspace root: its files, its ``[[budgets]]``, its deleted files."""
    config = run.roots[root]
    table, problems = parse_budgets(config.raw)
    deleted = {}
    if base is not None:
        deleted = {
            relative(p, root): base.totals[p]
            for p, owner in base.deleted.items()
            if owner == root and p in base.totals
        }
    return build_report(
        root,
        _inputs(run, root, base),
        budgets=table,
        price_for=price_for,
        base_revision=base.revision if base is not None else None,
        base_commit=base.commit if base is not None else None,
        deleted=deleted,
        max_increase=opts.max_increase,
        problems=[*problems, *(base.problems if base is not None else ())],
        default_warning_ratio=config.settings.warning_ratio,
        repo_prefix=repo_prefix(Path(root)),
    )


async def _count_and_base(
    args: argparse.Namespace, opts: CheckOptions, prep: Prepared
) -> BaseCounts | None:
    runtimes = Runtimes()
    try:
        await count_rest(args, runtimes, prep)
        run = prep.run
        if opts.base is None or not run.roots:
            return None
        return await count_base(
            runtimes.get(run.roots),
            run,
            opts.base,
            references=not args.no_references,
            given_root=str(Path(args.root).resolve()) if args.root else None,
        )
    finally:
        await runtimes.aclose()


def _check(args: argparse.Namespace, opts: CheckOptions) -> tuple[CountRun, CheckReport]:
    with prefork.early_workers(args) as pool:
        prep = prepare(args)
        try:
            count_in_workers(args, prep, pool)
            base = None
            if prep.todo or opts.base is not None or getattr(args, "stats", False):
                base = asyncio.run(_count_and_base(args, opts, prep))
        finally:
            prep.known.close()
    run = prep.run
    reports = [root_report(run, root, base, opts) for root in run.roots]
    return run, merge_reports(reports)


def print_verdict(report: CheckReport, *, findings_shown: bool) -> None:
    """Why the gate failed, on stderr in every format, so a CI log says it even when the report
    went to a file; growth and ``total`` budgets only when the findings are not on stderr already
    (``--format text`` prints them there)."""
    for f in report.failed_files:
        if f.status == "exceeded" and f.budget is not None:
            error(f"{f.path}: {f.total:,} tokens exceed the budget of {f.budget:,}")
    if findings_shown:
        return
    for path, d in report.diagnostics():
        if d.code in ("max-increase-exceeded", "budget-total-exceeded"):
            error(f"{path}: {d.message}")


def finding_line(path: str, d: ReportDiagnostic) -> str:
    """A finding as ``--format text`` writes it (``path:line:col: severity: message [code]``)."""
    return f"{printable(path)}:{d.line}:{d.column}: {d.severity}: {printable(d.message)} [{d.code}]"


def print_text(report: CheckReport) -> None:
    """``--format text`` for people, as ``count`` prints: the table, the totals and the verdict
    on stdout (a file of rows a script can read), the findings and problems on stderr."""
    findings = {finding_line(path, d) for path, d in report.diagnostics()}
    findings |= {f"warning: {printable(p)}" for p in report.problems}
    for line in render_text(report).splitlines():
        print(line, file=sys.stderr if line in findings else sys.stdout)


def cmd_check(args: argparse.Namespace) -> int:
    opts = options(args)
    run, report = _check(args, opts)
    if opts.fmt == "text":
        print_text(report)
    else:
        emit(report, opts.fmt, sys.stdout)
    print_verdict(report, findings_shown=opts.fmt == "text")
    return run.exit_code or report.exit_code
