"""Result types shared by the engine, the CLI and the language server.

Plain attrs classes with no behaviour beyond formatting, so the LSP layer can turn them into
hints and diagnostics and the CLI into JSON without knowing how they were computed.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Literal

import attrs

RefKind = Literal["file", "url", "variable"]
RefStatus = Literal["ok", "error", "pending"]
BudgetStatus = Literal["ok", "warning", "exceeded"]
Severity = Literal["error", "warning", "information", "hint"]


@attrs.frozen
class Span:
    """A source range: 0-based line and UTF-16 columns (LSP's default), plus char offsets."""

    line: int
    start: int
    end_line: int
    end: int
    offset: int = 0
    end_offset: int = 0


def widen(span: Span, extra: int) -> Span:
    """``span`` with its end moved ``extra`` characters on (unchanged unless ``extra > 0``):
    the resolver may have taken back trimmed punctuation (``@a.md.`` naming ``a.md.``)."""
    if extra <= 0:
        return span
    return Span(
        span.line,
        span.start,
        span.end_line,
        span.end + extra,
        span.offset,
        span.end_offset + extra,
    )


@attrs.define
class Occurrence:
    """One reference as written in a document."""

    kind: RefKind
    target: str  # raw path / URL / variable name as written (punctuation already trimmed)
    syntax: str  # "at", "file", "fetch", "link", "mustache", "input"
    span: Span
    placeholder: str | None = None  # ${input:name:placeholder}
    # The longest token as written when trailing punctuation was trimmed from ``target``
    # (``@a.md,`` → target ``a.md``, untrimmed ``a.md,``); the file resolver uses it only
    # when a file with that exact name exists. None when nothing was trimmed.
    untrimmed: str | None = None
    raw: str = ""  # the reference's text as written (what ``span`` covers), e.g. ``{{ name }}``


@attrs.define
class ReferenceResult:
    """A resolved reference. File/URL targets count once per document (attachment semantics);
    a variable counts at every occurrence (substitution semantics)."""

    kind: RefKind
    target: str  # resolved: absolute path, URL or variable name
    tokens: int = 0  # tokens this reference adds to the document total (0 if duplicate)
    status: RefStatus = "ok"
    error: str | None = None
    code: str | None = None  # diagnostic code when status == "error" or a warning applies
    span: Span | None = None  # None for nested references (found inside referenced files)
    raw: str = ""  # as written
    bytes: int | None = None
    cache: str | None = None  # "memory" | "disk" | "miss" | "revalidated" | "open-buffer"
    fetched_at: float | None = None
    depth: int = 0  # 0: written in the document; n: found n files deep
    via: str | None = None  # the referencing file for nested references
    duplicate: bool = False  # already counted earlier in this document
    own_tokens: int = 0  # tokens of the target itself, even when a duplicate adds 0
    warning: str | None = None  # e.g. invalid UTF-8 replaced
    warning_code: str | None = None

    def to_json(self, shown: int | None = None) -> dict[str, Any]:
        """``shown``: the tokens as the document shows them (an estimate's scaled count)."""
        return {
            "kind": self.kind,
            "target": self.target,
            "tokens": self.tokens if shown is None else shown,
            "status": "error" if self.status == "error" else "ok",
            "error": self.error,
        }


@attrs.define
class Diagnostic:
    code: str
    severity: Severity
    message: str
    span: Span


@attrs.define
class TokenCounts:
    text: int = 0
    references: int = 0

    @property
    def total(self) -> int:
        return self.text + self.references

    def to_json(self) -> dict[str, int]:
        return {"text": self.text, "references": self.references, "total": self.total}


@attrs.define
class Section:
    """A Markdown heading and the tokens of its section (heading line to next heading of any level)."""

    line: int
    title: str
    tokens: int
    end_col: int  # UTF-16 column of the end of the heading line


@attrs.define
class DocumentResult:
    """One document's count as shown. ``tokens`` are the shown numbers: the local counts with
    ``encoding`` for an exact model, else the estimate made from them (``estimates``), which
    ``local`` then keeps; ``ratio`` turns any local count of this document (a reference's, a
    section's) into a shown one, and ``method`` says how (None: an exact local count)."""

    path: str
    encoding: str
    budget: int
    model: str | None
    tokens: TokenCounts
    references: list[ReferenceResult] = attrs.field(factory=list)
    diagnostics: list[Diagnostic] = attrs.field(factory=list)
    sections: list[Section] = attrs.field(factory=list)
    warning_ratio: float = 0.8
    exact: bool = True
    method: str | None = None
    local: TokenCounts | None = None
    """The counts with ``encoding`` when ``tokens`` differ from them (None: they are ``tokens``)."""
    ratio: Fraction = Fraction(1)
    cost_usd: float | None = None
    """Input cost of ``tokens.total`` at the model's list price; None when no price is known."""
    agent: dict[str, Any] | None = None  # what the file's agent loads (a skill's three numbers)

    @property
    def status(self) -> BudgetStatus:
        return budget_status(self.tokens.total, self.budget, self.warning_ratio)

    @property
    def local_tokens(self) -> TokenCounts:
        return self.tokens if self.local is None else self.local

    def shown(self, local_count: int) -> int:
        """A local count of part of this document as shown (scaled by ``ratio``, half up)."""
        return scale(local_count, self.ratio)

    def references_json(self) -> list[dict[str, Any]]:
        return [r.to_json(self.shown(r.tokens)) for r in self.references]

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "encoding": self.encoding,
            "budget": self.budget,
            "status": self.status,
            "tokens": self.tokens.to_json(),
            "exact": self.exact,
            "method": self.method,
            "cost_usd": self.cost_usd,
            "references": self.references_json(),
            **({"agent": self.agent} if self.agent is not None else {}),
        }


def scale(count: int, ratio: Fraction) -> int:
    """``count × ratio`` rounded half up (``models.estimate_tokens``'s rounding)."""
    if ratio == 1:
        return count
    return (2 * count * ratio.numerator + ratio.denominator) // (2 * ratio.denominator)


def budget_status(total: int, budget: int, warning_ratio: float) -> BudgetStatus:
    if total > budget:
        return "exceeded"
    if total >= warning_ratio * budget:
        return "warning"
    return "ok"


def budget_percent(total: int, budget: int) -> int:
    """``total`` as a whole percentage of ``budget``, rounded half up (1 of 8 is 13 %).

    The one percentage the server shows (inlay hint, diagnostic, ``promptTokens/status``), in
    integers so it is exact; Python's ``round`` rounds halves to even (1 of 8 would be 12 %).
    0 without a budget."""
    if budget <= 0:
        return 0
    return (200 * total + budget) // (2 * budget)


def approx(exact: bool) -> str:
    """The mark before a number that is an estimate."""
    return "" if exact else "≈ "


def budget_message(total: int, budget: int, *, exact: bool = True) -> str:
    """``Prompt uses 7,012 of 8,192 tokens (86%)``; an estimate says ``uses ≈ 7,012``."""
    pct = budget_percent(total, budget)
    return f"Prompt uses {approx(exact)}{total:,} of {budget:,} tokens ({pct}%)"


def budget_diagnostics(result: DocumentResult, line0: Span) -> list[Diagnostic]:
    """The budget diagnostic of ``result`` on ``line0`` (none while within the warning ratio),
    on the shown numbers: an estimate is judged, and worded, as the estimate."""
    status = result.status
    if status == "ok":
        return []
    code = "budget-exceeded" if status == "exceeded" else "budget-warning"
    return [
        Diagnostic(
            code,
            "error" if status == "exceeded" else "warning",
            budget_message(result.tokens.total, result.budget, exact=result.exact),
            line0,
        )
    ]


def format_usd(amount: float) -> str:
    """A cost as users read it: ``$0.0123``, ``$1.50``; below a hundredth of a cent
    ``<$0.0001`` (never ``$0.0000`` for a cost that is not zero)."""
    if amount <= 0:
        return "$0"
    if amount < 0.0001:
        return "<$0.0001"
    if amount < 1:
        return f"${amount:.4f}"
    return f"${amount:,.2f}"
