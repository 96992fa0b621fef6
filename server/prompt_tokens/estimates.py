"""What a document's count shows for its model: an exact count, an estimate, or a calibrated one.

The pipeline always counts with a real tokenizer (``ModelInfo.encoding``), so blocks, caches
and streaming stay exact for *that* tokenizer. What is shown is derived once, from the totals:

- an **exact** model (OpenAI encodings, open-weights tokenizers): the local counts themselves;
- an **estimate** (Claude, Gemini, Llama, ...: no local tokenizer exists): the local total ×
  the model table's factor, rounded half up once, on the total (``models.estimate_tokens``);
  ``method`` is the table's description (which tokenizer, which factor; ``data/models.toml``
  gives its source and known error);
- **calibrated**: once the vendor has counted a version of this document exactly
  (``remote``), the local total × (vendor count ÷ local count of that version), still marked
  as an estimate: it follows the user's own content better than a family-wide factor;
- **exact from the vendor**: the text shown is the very text the vendor counted: its count is
  the vendor's. References are not sent to the vendor (their text is not kept), so they are
  the local count × the calibrated ratio, and the total is exact only without references.

References and sections of an estimated document are scaled by the same ratio, each rounded on
its own (hints ``≈ +2,458``, ``≈ 312 tokens``); the references' total is ``total - text``, so
the parts may differ from it by rounding, never the total itself.
"""

from __future__ import annotations

from fractions import Fraction

import attrs

from prompt_tokens.models import ModelInfo, cost_usd, estimate_tokens
from prompt_tokens.results import DocumentResult, Span, TokenCounts, budget_diagnostics, scale


@attrs.frozen
class Calibration:
    """The vendor's exact count of one version of a document's text (no text is kept)."""

    model: str
    """The table name of the model it was counted for (another model does not use it)."""
    local: int
    """The local count (``ModelInfo.encoding``) of the text the vendor counted."""
    exact: int
    """The vendor's count of that text."""
    source: str
    """Who counted, for ``method``: e.g. ``Anthropic count_tokens API (claude-sonnet-4-5)``."""
    version: int | None = None
    """Which version of the document was counted (the language server's document version)."""

    @property
    def ratio(self) -> Fraction | None:
        return Fraction(self.exact, self.local) if self.local > 0 else None


@attrs.frozen
class Shown:
    tokens: TokenCounts
    exact: bool
    method: str | None
    ratio: Fraction


def shown_counts(
    local: TokenCounts,
    model: ModelInfo | None,
    encoding: str,
    calibration: Calibration | None = None,
    *,
    current: bool = False,
) -> Shown:
    """The numbers to show for ``local`` (counts with ``encoding``) under ``model``.

    ``calibration``: the last vendor count of this document; ``current``: the text counted
    now is the one the vendor counted (else the calibration only lends its ratio)."""
    if model is None or model.exact:
        return Shown(local, True, None, Fraction(1))
    if calibration is not None and calibration.model == model.name:
        ratio = calibration.ratio
        if current and ratio is not None:
            refs = scale(local.references, ratio)
            if local.references == 0:
                return Shown(TokenCounts(calibration.exact, 0), True, calibration.source, ratio)
            method = (
                f"text exact ({calibration.source}); references: {encoding} count "
                f"x {float(ratio):.4f} (calibrated)"
            )
            return Shown(TokenCounts(calibration.exact, refs), False, method, ratio)
        if ratio is not None:
            method = (
                f"calibrated: {encoding} count x {float(ratio):.4f}, the ratio measured by the "
                f"{calibration.source} on this document's last exactly counted version"
            )
            return Shown(_scaled(local, ratio), False, method, ratio)
    method = model.method
    if encoding != model.encoding:
        method = f"{method}; counted with {encoding} as the front matter asks"
    total = estimate_tokens(local.total, model)
    text = estimate_tokens(local.text, model)
    return Shown(TokenCounts(text, total - text), False, method, model.factor)


def _scaled(local: TokenCounts, ratio: Fraction) -> TokenCounts:
    total = scale(local.total, ratio)
    text = scale(local.text, ratio)
    return TokenCounts(text, total - text)


def with_model(
    result: DocumentResult,
    model: ModelInfo | None,
    calibration: Calibration | None = None,
    *,
    current: bool = False,
) -> DocumentResult:
    """``result`` showing what ``model`` calls for (from its local counts, so applying it
    again, e.g. with a newer calibration, never compounds). Diagnostics are left as they are:
    the caller adds the budget diagnostics for the shown numbers."""
    local = result.local_tokens
    shown = shown_counts(local, model, result.encoding, calibration, current=current)
    return attrs.evolve(
        result,
        tokens=shown.tokens,
        exact=shown.exact,
        method=shown.method,
        local=None if shown.tokens == local and shown.exact else local,
        ratio=shown.ratio,
        cost_usd=cost_usd(shown.tokens.total, model),
    )


def restated(
    result: DocumentResult,
    model: ModelInfo | None,
    calibration: Calibration | None,
    *,
    current: bool,
    first_line: str,
) -> DocumentResult:
    """``result`` shown with ``calibration`` (:func:`with_model`) and its budget diagnostics
    judged again on the new numbers (``first_line``: the document's line 0, where they go)."""
    out = with_model(result, model, calibration, current=current)
    width = len(first_line.encode("utf-16-le", "surrogatepass")) // 2
    line0 = Span(0, 0, 0, width, 0, len(first_line))
    kept = [d for d in out.diagnostics if not d.code.startswith("budget-")]
    out.diagnostics = kept + budget_diagnostics(out, line0)
    return out


__all__ = ["Calibration", "Shown", "restated", "shown_counts", "with_model"]
