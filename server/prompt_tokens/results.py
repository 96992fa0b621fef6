"""Result types shared by the engine, the CLI and the language server.

Plain attrs classes with no behaviour beyond formatting, so the LSP layer can turn them into
hints and diagnostics and the CLI into JSON without knowing how they were computed.
"""

from __future__ import annotations

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

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "target": self.target,
            "tokens": self.tokens,
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
    path: str
    encoding: str
    budget: int
    model: str | None
    tokens: TokenCounts
    references: list[ReferenceResult] = attrs.field(factory=list)
    diagnostics: list[Diagnostic] = attrs.field(factory=list)
    sections: list[Section] = attrs.field(factory=list)
    warning_ratio: float = 0.8
    agent: dict[str, Any] | None = None  # what the file's agent loads (a skill's three numbers)

    @property
    def status(self) -> BudgetStatus:
        return budget_status(self.tokens.total, self.budget, self.warning_ratio)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "encoding": self.encoding,
            "budget": self.budget,
            "status": self.status,
            "tokens": self.tokens.to_json(),
            "references": [r.to_json() for r in self.references],
            **({"agent": self.agent} if self.agent is not None else {}),
        }


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


def budget_message(total: int, budget: int) -> str:
    return f"Prompt uses {total:,} of {budget:,} tokens ({budget_percent(total, budget)}%)"
