"""``CheckReport``: everything ``prompt-tokens check`` found, in one value every format renders.

Counting, budgets and deltas are computed once, here; the formats (text, JSON, SARIF, JUnit,
GitHub) only lay the same facts out, so they can never disagree about a number or an exit code.
Budget and growth findings become diagnostics like any other (``budget-exceeded``,
``budget-warning``, ``max-increase-exceeded``), so SARIF rules and annotations cover them too.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import attrs

from prompt_tokens.ci.budgets import (
    AggregateVerdict,
    BudgetTable,
    FileCount,
    PriceLookup,
    Verdict,
    evaluate,
)
from prompt_tokens.ci.delta import (
    DeltaTotals,
    FileDelta,
    MaxIncrease,
    deleted_delta,
    file_delta,
    totals,
)
from prompt_tokens.results import BudgetStatus, DocumentResult, Severity
from prompt_tokens.workspace import CONFIG_FILE

EXIT_OK = 0
EXIT_FAILED = 1  # a budget, an aggregate budget or --max-increase exceeded
EXIT_USAGE = 2  # raised before a report exists (UsageError, GitBaseError); documented here
_EMPTY: Mapping[str, Any] = MappingProxyType({})

# What each code means, for SARIF rules and JUnit failure types (codes from SPEC "LSP surface").
RULES: Mapping[str, str] = MappingProxyType(
    {
        "budget-exceeded": "A prompt uses more tokens than its budget",
        "budget-warning": "A prompt is close to its budget",
        "budget-total-exceeded": "Files loaded together use more tokens than their total budget",
        "budget-total-warning": "Files loaded together are close to their total budget",
        "max-increase-exceeded": "A prompt grew more than --max-increase allows",
        "reference-not-found": "A referenced file does not exist",
        "reference-outside-workspace": "A referenced file is outside the workspace",
        "reference-fetch-failed": "A referenced URL could not be fetched",
        "reference-too-large": "A referenced file or response is too large to count",
        "reference-binary": "A referenced file is not text",
        "reference-cycle": "References form a cycle",
        "variable-undefined": "A variable has no value",
        "unknown-model": "The model is not in the model table",
        "invalid-front-matter": "The front matter cannot be read",
    }
)


def _no_price(_model: str) -> float | None:
    return None


@attrs.frozen
class ReportDiagnostic:
    """A finding on a file. ``line``/``column`` are 1-based; columns count UTF-16 code units
    (the LSP's and SARIF's default), so an editor and a code-scanning view agree."""

    code: str
    severity: Severity
    message: str
    line: int = 1
    column: int = 1
    end_line: int | None = None
    end_column: int | None = None


@attrs.frozen
class FileInput:
    """One counted file as the CLI hands it over."""

    path: str  # relative to the workspace root, '/' separators
    text: int
    references: int
    encoding: str
    budget: int  # from front matter or settings: used when no [[budgets]] table matches
    model: str | None = None
    warning_ratio: float = 0.8
    diagnostics: Sequence[ReportDiagnostic] = ()  # not budget-*: the report makes those
    count_json: Mapping[str, Any] = _EMPTY  # the file's ``count --json`` object
    base_path: str | None = None  # path at the base (after a rename); None: new file
    base_total: int | None = None  # total at the base; None: new file (or no --base)


def file_input(
    result: DocumentResult,
    path: str,
    *,
    base_path: str | None = None,
    base_total: int | None = None,
) -> FileInput:
    """A ``FileInput`` from the engine's result; its budget diagnostics are dropped because
    ``[[budgets]]`` may set another budget than the one they were computed for."""
    diagnostics = tuple(
        ReportDiagnostic(
            d.code,
            d.severity,
            d.message,
            d.span.line + 1,
            d.span.start + 1,
            d.span.end_line + 1,
            d.span.end + 1,
        )
        for d in result.diagnostics
        if not d.code.startswith("budget-")
    )
    return FileInput(
        path,
        result.tokens.text,
        result.tokens.references,
        result.encoding,
        result.budget,
        result.model,
        result.warning_ratio,
        diagnostics,
        result.to_json(),
        base_path,
        base_total,
    )


@attrs.frozen
class FileReport:
    path: str
    encoding: str
    text: int
    references: int
    budget: int | None  # tokens allowed (a dollar budget converted at the model's price)
    status: BudgetStatus
    diagnostics: tuple[ReportDiagnostic, ...]
    budget_glob: str | None = None  # the [[budgets]] table that set the budget
    usd_limit: Decimal | None = None
    cost_usd: float | None = None
    delta: FileDelta | None = None  # None without --base
    count_json: Mapping[str, Any] = _EMPTY
    exact: bool = True

    @property
    def total(self) -> int:
        return self.text + self.references

    @property
    def base(self) -> int | None:
        return self.delta.old if self.delta is not None else None

    @property
    def failed(self) -> bool:
        return self.status == "exceeded" or (self.delta is not None and self.delta.exceeded)


@attrs.frozen
class CheckReport:
    root: str  # absolute workspace folder; paths are relative to it
    files: tuple[FileReport, ...]
    aggregates: tuple[AggregateVerdict, ...] = ()
    deleted: tuple[FileDelta, ...] = ()  # files at the base that are gone
    base_revision: str | None = None  # as given to --base
    base_commit: str | None = None
    max_increase: MaxIncrease | None = None
    problems: tuple[str, ...] = ()  # configuration messages (ignored tables, unpriced budgets)
    # The workspace root relative to the repository root ("sub/dir/" or ""): annotations and
    # code scanning place files relative to the repository, the report to the workspace.
    repo_prefix: str = ""

    @property
    def total(self) -> int:
        return sum(f.total for f in self.files)

    @property
    def delta_totals(self) -> DeltaTotals | None:
        if self.base_commit is None:
            return None
        return totals([*(f.delta for f in self.files if f.delta), *self.deleted])

    @property
    def failed_files(self) -> tuple[FileReport, ...]:
        return tuple(f for f in self.files if f.failed)

    @property
    def failed_aggregates(self) -> tuple[AggregateVerdict, ...]:
        return tuple(a for a in self.aggregates if a.status == "exceeded")

    @property
    def exit_code(self) -> int:
        return EXIT_FAILED if self.failed_files or self.failed_aggregates else EXIT_OK

    def diagnostics(self) -> Iterator[tuple[str, ReportDiagnostic]]:
        """Every finding with its path: the files', then the ``total`` budgets', which sit on
        ``.prompt-tokens.toml`` (the file to change, and a location SARIF and GitHub need)."""
        for f in self.files:
            for d in f.diagnostics:
                yield f.path, d
        for agg in self.aggregates:
            found = aggregate_diagnostic(agg)
            if found is not None:
                yield CONFIG_FILE, found


def usd(amount: float | Decimal) -> str:
    """Dollars without float noise or exponent: ``$0.00125``, ``$0.05``, ``$12.5``."""
    text = f"{amount:.6f}".rstrip("0").rstrip(".")
    return f"${text if text not in ('', '-0') else '0'}"


def budget_text(verdict: Verdict | AggregateVerdict, *, exact: bool = True) -> str:
    """``7,012 of 8,192 tokens (86%)``; a dollar budget also says the cost per call."""
    approx = "" if exact else "≈ "
    if verdict.usd_limit is not None and verdict.cost_usd is not None:
        pct = round(100 * verdict.cost_usd / float(verdict.usd_limit))
        return (
            f"{approx}{verdict.tokens:,} tokens ({usd(verdict.cost_usd)} per call) "
            f"of a ${verdict.usd_limit} budget ({pct}%)"
        )
    if verdict.limit is None:
        return f"{approx}{verdict.tokens:,} tokens (no budget)"
    pct = round(100 * verdict.tokens / verdict.limit)
    return f"{approx}{verdict.tokens:,} of {verdict.limit:,} tokens ({pct}%)"


def aggregate_diagnostic(agg: AggregateVerdict) -> ReportDiagnostic | None:
    if agg.status == "ok":
        return None
    message = (
        f'Files matching "{agg.budget.label}" use {budget_text(agg)} together '
        f"({len(agg.paths)} file{'s' if len(agg.paths) != 1 else ''})"
    )
    if agg.status == "exceeded":
        return ReportDiagnostic("budget-total-exceeded", "error", message)
    return ReportDiagnostic("budget-total-warning", "warning", message)


def _budget_diagnostic(verdict: Verdict, exact: bool) -> ReportDiagnostic | None:
    if verdict.status == "ok":
        return None
    where = f' (budget for "{verdict.budget.label}")' if verdict.budget else ""
    message = f"Prompt uses {budget_text(verdict, exact=exact)}{where}"
    if verdict.status == "exceeded":
        return ReportDiagnostic("budget-exceeded", "error", message)
    return ReportDiagnostic("budget-warning", "warning", message)


def _growth_diagnostic(delta: FileDelta, limit: MaxIncrease) -> ReportDiagnostic:
    return ReportDiagnostic(
        "max-increase-exceeded",
        "error",
        f"Prompt grew {delta.describe()}, more than --max-increase {limit.raw}",
    )


def _file_report(
    item: FileInput, verdict: Verdict, delta: FileDelta | None, limit: MaxIncrease | None
) -> FileReport:
    exact = item.count_json.get("exact") is not False
    found = [d for d in (_budget_diagnostic(verdict, exact),) if d is not None]
    if delta is not None and delta.exceeded and limit is not None:
        found.append(_growth_diagnostic(delta, limit))
    return FileReport(
        path=item.path,
        encoding=item.encoding,
        text=item.text,
        references=item.references,
        budget=verdict.limit,
        status=verdict.status,
        diagnostics=(*found, *item.diagnostics),
        budget_glob=verdict.budget.label if verdict.budget else None,
        usd_limit=verdict.usd_limit,
        cost_usd=verdict.cost_usd,
        delta=delta,
        count_json=item.count_json,
        exact=exact,
    )


def build_report(
    root: str,
    inputs: Sequence[FileInput],
    *,
    budgets: BudgetTable | None = None,
    price_for: PriceLookup = _no_price,
    base_revision: str | None = None,
    base_commit: str | None = None,
    deleted: Mapping[str, int] | None = None,
    max_increase: MaxIncrease | None = None,
    problems: Sequence[str] = (),
    default_warning_ratio: float = 0.8,
    repo_prefix: str = "",
) -> CheckReport:
    """Evaluate budgets and deltas for counted files. With ``base_commit`` set, every file gets
    a delta (``base_total`` None: new); ``deleted`` maps gone base paths to their base totals."""
    counts = [
        FileCount(i.path, i.text + i.references, i.model, i.budget, i.warning_ratio) for i in inputs
    ]
    evaluation = evaluate(
        counts, budgets or BudgetTable(), price_for, default_warning_ratio=default_warning_ratio
    )
    files = []
    for item, verdict in zip(inputs, evaluation.files, strict=True):
        delta = None
        if base_commit is not None:
            total = item.text + item.references
            delta = file_delta(item.path, total, item.base_path, item.base_total, max_increase)
        files.append(_file_report(item, verdict, delta, max_increase))
    gone = tuple(deleted_delta(p, t) for p, t in (deleted or {}).items())
    return CheckReport(
        root=root,
        files=tuple(files),
        aggregates=evaluation.aggregates,
        deleted=gone if base_commit is not None else (),
        base_revision=base_revision,
        base_commit=base_commit,
        max_increase=max_increase,
        problems=(*problems, *evaluation.problems),
        repo_prefix=repo_prefix,
    )


_CONTROL = {c: f"\\x{c:02x}" for c in range(32) if c != 9} | {10: "\\n", 13: "\\r", 127: "\\x7f"}


def printable(text: str) -> str:
    """``text`` with control characters escaped: a file name from a cloned repository must not
    start a new line in a CI log (where ``::`` at a line start is a workflow command)."""
    return text.translate(_CONTROL)
