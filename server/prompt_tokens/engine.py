"""PromptEngine: count a document = its text + what its references pull in → DocumentResult.

The CLI and the language server both call this; nothing here knows about LSP or argparse.
The LSP layer may pass ``text_tokens`` and ``occurrences`` it maintains incrementally (a
``DocumentState`` with the scanner from :meth:`PromptEngine.scanner`), so a keystroke in a
large document does not re-encode or re-scan the whole text.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs
from cachetools import LRUCache

from prompt_tokens.errors import PromptTokensError, UnknownModelError
from prompt_tokens.estimates import with_model
from prompt_tokens.models import DEFAULT_BUDGET, ModelInfo, default_budget, lookup_model
from prompt_tokens.references.blocks import BlockScanner
from prompt_tokens.references.frontmatter import FrontMatter, parse_front_matter
from prompt_tokens.references.resolver import ReferenceResolver
from prompt_tokens.references.syntax import markdown_links_enabled
from prompt_tokens.results import (
    Diagnostic,
    DocumentResult,
    Occurrence,
    ReferenceResult,
    Section,
    Span,
    TokenCounts,
    budget_diagnostics,
)
from prompt_tokens.settings import Settings
from prompt_tokens.text.lines import first_line, utf16_len
from prompt_tokens.text.markdown import section_heads
from prompt_tokens.tokenizer.counter import BlockCounter
from prompt_tokens.tokenizer.encodings import TOKENIZERS

log = logging.getLogger(__name__)

# Severity per diagnostic code (SPEC "LSP surface").
SEVERITY: dict[str, str] = {
    "budget-warning": "warning",
    "budget-exceeded": "error",
    "variable-undefined": "information",
}


@attrs.define
class DocConfig:
    """What governs one document: settings overlaid by its front matter."""

    encoding: str
    budget: int
    model: ModelInfo | None
    front_matter: FrontMatter
    variables: dict[str, str]
    diagnostics: list[Diagnostic]


def _line0_span(text: str) -> Span:
    first = first_line(text)
    return Span(0, 0, 0, utf16_len(first), 0, len(first))


class PromptEngine:
    """Owns the per-encoding block counters and the reference resolver."""

    def __init__(
        self,
        settings: Settings,
        resolver: ReferenceResolver,
        *,
        memo_entries: int = 50_000,
    ) -> None:
        self.settings = settings
        self.resolver = resolver
        self._memo_entries = memo_entries
        self._counters: dict[str, BlockCounter] = {}

    def counter(self, encoding: str) -> BlockCounter:
        c = self._counters.get(encoding)
        if c is None:
            c = BlockCounter(encoding, LRUCache(self._memo_entries))
            self._counters[encoding] = c
        return c

    # -- configuration ---------------------------------------------------------------------

    def configure(self, text: str, front_matter: FrontMatter | None = None) -> DocConfig:
        """Encoding, budget, model and variables for a document (front matter wins)."""
        s = self.settings
        fm = front_matter if front_matter is not None else parse_front_matter(text)
        diags: list[Diagnostic] = []
        line0 = _line0_span(text)
        if fm.error:
            diags.append(
                Diagnostic("invalid-front-matter", "warning", fm.error, fm.error_span or line0)
            )
        model: ModelInfo | None = None
        model_name = fm.model or s.model
        if model_name:
            try:
                model = lookup_model(model_name)
            except UnknownModelError as exc:
                span = fm.model_span if fm.model and fm.model_span else line0
                diags.append(Diagnostic("unknown-model", "warning", str(exc), span))
        encoding = s.encoding
        if model is not None:
            encoding = model.encoding
        if fm.encoding:
            if fm.encoding in TOKENIZERS:
                encoding = fm.encoding
            else:
                diags.append(
                    Diagnostic(
                        "invalid-front-matter",
                        "warning",
                        f"Unknown encoding '{fm.encoding}' (supported: {', '.join(TOKENIZERS)}); "
                        f"using {encoding}",
                        fm.error_span or line0,
                    )
                )
        if fm.max_tokens is not None:
            budget = fm.max_tokens
        elif s.budget is not None and not (fm.model and model is not None):
            budget = s.budget
        elif model is not None:
            budget = default_budget(model, fm.max_output_tokens)
        else:
            budget = max(0, DEFAULT_BUDGET - (fm.max_output_tokens or 0))
        variables = {**s.variables, **fm.variables}
        return DocConfig(encoding, budget, model, fm, variables, diags)

    # -- counting --------------------------------------------------------------------------

    def scanner(self, path: str | None) -> BlockScanner:
        """The reference scanner for the document at ``path`` under these settings. Give it
        to ``DocumentState.occurrences`` (with ``scanner.key``) and an edit rescans only the
        blocks it touches; ``scanner(text)`` scans a whole text."""
        refs = self.settings.references
        return BlockScanner(
            tuple(refs.enabled), markdown_links_enabled(refs.markdown_links, path or "")
        )

    def scan(self, text: str, path: str | None) -> list[Occurrence]:
        return self.scanner(path)(text)

    async def count_document(
        self,
        path: str,
        text: str,
        *,
        config: DocConfig | None = None,
        text_tokens: int | None = None,
        occurrences: Sequence[Occurrence] | None = None,
        overlay: Mapping[str, str] | None = None,
        references: bool = True,
        sections: bool = True,
        resolved: Sequence[ReferenceResult] | None = None,
    ) -> DocumentResult:
        """Count ``text`` (the document at ``path``) and everything it references.

        ``overlay`` maps absolute paths to unsaved editor text, which wins over the disk.
        ``resolved``: reference results already known for ``occurrences`` (the language server
        reuses its previous ones while a keystroke changed no reference); not resolved again.
        ``config``: the document's configuration when the caller already has it.
        """
        cfg = config if config is not None else self.configure(text)
        counter = self.counter(cfg.encoding)
        if text_tokens is None:
            text_tokens = counter.count(text)
        refs: list[ReferenceResult] = []
        if resolved is not None:
            refs = list(resolved)
        elif references:
            occ = list(occurrences) if occurrences is not None else self.scan(text, path)
            if occ:
                refs = await self.resolver.resolve(
                    Path(path) if path and path != "-" else None,
                    occ,
                    encoding=cfg.encoding,
                    variables=cfg.variables,
                    overlay=overlay,
                )
        ref_tokens = sum(r.tokens for r in refs)
        result = DocumentResult(
            path=path,
            encoding=cfg.encoding,
            budget=cfg.budget,
            model=cfg.model.name if cfg.model else None,
            tokens=TokenCounts(text=text_tokens, references=ref_tokens),
            references=refs,
            diagnostics=list(cfg.diagnostics),
            warning_ratio=self.settings.warning_ratio,
        )
        result = with_model(result, cfg.model)  # what the model shows: exact or an estimate
        result.diagnostics.extend(reference_diagnostics(refs))
        result.diagnostics.extend(budget_diagnostics(result, _line0_span(text)))
        if sections:
            result.sections = self.sections(text, cfg.encoding)
        return result

    def sections(self, text: str, encoding: str) -> list[Section]:
        """Tokens per Markdown section (heading line up to the next heading).

        The rules are ``text.markdown``'s (the document model uses the same): a heading starts
        with ``#`` at column 0, which after a ``\n`` is a safe cut for every encoding, so section
        counts add up exactly to the text count from the first heading on.
        """
        counter = self.counter(encoding)
        heads = section_heads(text)
        out: list[Section] = []
        for i, (start, ln, title, end_col) in enumerate(heads):
            stop = heads[i + 1][0] if i + 1 < len(heads) else len(text)
            out.append(Section(ln, title, counter.count(text[start:stop]), end_col))
        return out


def reference_diagnostics(refs: Sequence[ReferenceResult]) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for r in refs:
        if r.span is None:
            continue
        if r.status == "error" and r.code:
            sev = SEVERITY.get(r.code, "warning")
            out.append(Diagnostic(r.code, sev, r.error or r.code, r.span))  # type: ignore[arg-type]
        if r.warning and r.warning_code:
            out.append(Diagnostic(r.warning_code, "warning", r.warning, r.span))
    return out


def describe_error(exc: BaseException) -> str:
    """One line for users; internal errors say what to report rather than dumping a traceback."""
    if isinstance(exc, PromptTokensError):
        return str(exc)
    return f"internal error ({type(exc).__name__}: {exc})"
