"""Estimates shown honestly: a model without a local tokenizer shows local count × factor,
marked (``exact`` false, ``method``) everywhere; calibration by a vendor count; cost."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prompt_tokens.document import DocumentState
from prompt_tokens.estimates import Calibration, shown_counts, with_model
from prompt_tokens.lsp.state import OpenDocument
from prompt_tokens.lsp.status import status_object
from prompt_tokens.models import cost_usd, estimate_tokens, lookup_model, model_table
from prompt_tokens.results import (
    DocumentResult,
    TokenCounts,
    budget_message,
    format_usd,
    scale,
)
from prompt_tokens.settings import parse_settings
from prompt_tokens.tokenizer.encodings import TOKENIZERS
from tests.conftest import plain_count
from tests.unit.test_engine import make_engine

CLAUDE = lookup_model("claude-sonnet-4-5")
GPT = lookup_model("gpt-4o")
ESTIMATED = [m for m in model_table().models if not m.exact]
BODY = "You are a careful reviewer. Read the diff, list the risks, then suggest tests.\n" * 3


def claude_doc(extra: str = "") -> str:
    return f"---\nmodel: claude-sonnet-4-5-20250929\n{extra}---\n{BODY}"


# -- the engine: what count_document shows -----------------------------------------------------


async def test_claude_document_shows_a_marked_estimate(workspace: Path) -> None:
    text = claude_doc()
    result = await make_engine({}, workspace).count_document(str(workspace / "p.md"), text)
    local = plain_count("o200k_base", text)
    assert result.encoding == "o200k_base" and result.model == "claude-sonnet-4-5"
    assert result.local_tokens == TokenCounts(local, 0)
    assert result.tokens.total == estimate_tokens(local, CLAUDE) == round(local * 1.2)
    assert result.tokens.total != local  # the estimate is not the o200k count
    assert result.exact is False and result.method == CLAUDE.method
    assert result.method.startswith("estimate: o200k_base count x 1.20")
    assert result.cost_usd == pytest.approx(result.tokens.total * 3.0 / 1e6)
    js = result.to_json()
    assert js["exact"] is False and js["method"] == CLAUDE.method
    assert js["tokens"]["total"] == result.tokens.total
    assert js["cost_usd"] == pytest.approx(result.tokens.total * 3.0 / 1e6)
    assert result.diagnostics == []


async def test_budget_is_judged_and_worded_on_the_estimate(workspace: Path) -> None:
    local = plain_count("o200k_base", claude_doc("max_tokens: 80\n"))
    shown = estimate_tokens(local, CLAUDE)
    assert local <= 80 < shown  # the local count fits, the estimate does not
    result = await make_engine({}, workspace).count_document(
        str(workspace / "p.md"), claude_doc("max_tokens: 80\n")
    )
    assert result.status == "exceeded"
    (d,) = result.diagnostics
    assert d.code == "budget-exceeded"
    assert d.message == f"Prompt uses ≈ {shown:,} of 80 tokens ({round(100 * shown / 80)}%)"


async def test_references_are_scaled_by_the_same_factor(workspace: Path) -> None:
    ref = "Reference notes about the service and its error codes.\n" * 5
    (workspace / "notes.md").write_text(ref)
    text = claude_doc() + "See @notes.md\n"
    result = await make_engine({}, workspace).count_document(str(workspace / "p.md"), text)
    local_text, local_ref = plain_count("o200k_base", text), plain_count("o200k_base", ref)
    assert result.local_tokens == TokenCounts(local_text, local_ref)
    total = estimate_tokens(local_text + local_ref, CLAUDE)
    assert result.tokens.total == total  # rounded once, on the total
    assert result.tokens.text == estimate_tokens(local_text, CLAUDE)
    (r,) = result.references
    assert r.tokens == local_ref  # the reference keeps its local count...
    assert result.shown(r.tokens) == estimate_tokens(local_ref, CLAUDE)  # ...shown scaled
    assert result.to_json()["references"][0]["tokens"] == estimate_tokens(local_ref, CLAUDE)


async def test_exact_model_is_unmarked_and_priced(workspace: Path) -> None:
    text = f"---\nmodel: gpt-4o\n---\n{BODY}"
    result = await make_engine({}, workspace).count_document(str(workspace / "p.md"), text)
    n = plain_count("o200k_base", text)
    assert result.tokens == TokenCounts(n, 0) and result.local is None
    assert result.exact is True and result.method is None and result.ratio == 1
    assert result.cost_usd == cost_usd(n, GPT)
    js = result.to_json()
    assert (js["exact"], js["method"]) == (True, None)
    assert js["cost_usd"] == pytest.approx(n * 2.5 / 1e6)


async def test_no_model_no_price_no_cost(workspace: Path) -> None:
    result = await make_engine({}, workspace).count_document("p.md", BODY)
    assert result.exact is True and result.cost_usd is None
    assert result.to_json()["cost_usd"] is None


async def test_front_matter_may_name_an_open_weights_tokenizer(workspace: Path) -> None:
    text = f"---\nencoding: qwen2\n---\n{BODY}"
    result = await make_engine({}, workspace).count_document("p.md", text)
    assert result.encoding == "qwen2" and result.exact
    assert result.tokens.text == plain_count("qwen2", text)
    assert [d.code for d in result.diagnostics] == []


def test_encoding_setting_accepts_every_exact_tokenizer() -> None:

    for name in TOKENIZERS:
        settings, problems = parse_settings({"encoding": name})
        assert problems == [] and settings.encoding == name
    _, problems = parse_settings({"encoding": "claude"})
    assert problems and "must be one of" in problems[0]


# -- the pure parts -------------------------------------------------------------------------


@given(st.integers(0, 10**9), st.sampled_from(ESTIMATED))
def test_scale_rounds_like_estimate_tokens(n: int, model: object) -> None:
    assert scale(n, model.factor) == estimate_tokens(n, model)  # type: ignore[attr-defined]


@given(st.integers(0, 10**7), st.integers(0, 10**7), st.sampled_from(ESTIMATED))
def test_shown_parts_add_up_to_the_estimated_total(text: int, refs: int, model: object) -> None:
    s = shown_counts(TokenCounts(text, refs), model, model.encoding)  # type: ignore[attr-defined]
    assert s.tokens.total == estimate_tokens(text + refs, model)  # type: ignore[arg-type]
    assert s.tokens.references >= 0 and not s.exact


def test_calibration_current_without_references_is_exact() -> None:
    cal = Calibration("claude-sonnet-4-5", local=100, exact=117, source="Anthropic API")
    s = shown_counts(TokenCounts(100, 0), CLAUDE, "o200k_base", cal, current=True)
    assert s.tokens == TokenCounts(117, 0) and s.exact and s.method == "Anthropic API"


def test_calibration_current_with_references_is_text_exact_refs_scaled() -> None:
    cal = Calibration("claude-sonnet-4-5", local=100, exact=117, source="Anthropic API")
    s = shown_counts(TokenCounts(100, 50), CLAUDE, "o200k_base", cal, current=True)
    assert s.tokens == TokenCounts(117, scale(50, Fraction(117, 100))) == TokenCounts(117, 59)
    assert not s.exact and s.method is not None and "text exact (Anthropic API)" in s.method


def test_stale_calibration_lends_its_ratio_marked_calibrated() -> None:
    cal = Calibration("claude-sonnet-4-5", local=100, exact=117, source="Anthropic API")
    s = shown_counts(TokenCounts(200, 0), CLAUDE, "o200k_base", cal)
    assert s.tokens.total == 234 and not s.exact and s.ratio == Fraction(117, 100)
    assert s.method is not None and s.method.startswith("calibrated: o200k_base count x 1.1700")


def test_calibration_of_another_model_is_not_used() -> None:
    cal = Calibration("claude-opus-4-7", local=100, exact=150, source="Anthropic API")
    s = shown_counts(TokenCounts(100, 0), CLAUDE, "o200k_base", cal, current=True)
    assert s.tokens.total == estimate_tokens(100, CLAUDE) and s.method == CLAUDE.method


def test_with_model_never_compounds() -> None:
    r = DocumentResult("p.md", "o200k_base", 1000, CLAUDE.name, TokenCounts(100, 10))
    once = with_model(r, CLAUDE)
    twice = with_model(once, CLAUDE)
    assert once.tokens == twice.tokens == TokenCounts(120, 12)
    assert twice.local == TokenCounts(100, 10)
    cal = Calibration(CLAUDE.name, local=100, exact=130, source="vendor")
    calibrated = with_model(twice, CLAUDE, cal)
    assert calibrated.tokens.total == 143 and calibrated.local == TokenCounts(100, 10)
    back = with_model(calibrated, GPT)  # an exact model shows the local counts again
    assert back.tokens == TokenCounts(100, 10) and back.exact and back.local is None


def test_budget_message_marks_estimates() -> None:
    assert budget_message(7012, 200_000) == "Prompt uses 7,012 of 200,000 tokens (4%)"
    assert budget_message(7012, 200_000, exact=False) == (
        "Prompt uses ≈ 7,012 of 200,000 tokens (4%)"
    )


@pytest.mark.parametrize(
    ("amount", "text"),
    [(0.0, "$0"), (0.00001, "<$0.0001"), (0.0123, "$0.0123"), (0.5, "$0.5000"), (12.5, "$12.50")],
)
def test_format_usd(amount: float, text: str) -> None:
    assert format_usd(amount) == text


# -- promptTokens/status while a count is under way -------------------------------------------


def _open(result: DocumentResult | None, interim: int | None) -> OpenDocument:
    doc = OpenDocument("file:///p.md", "/p.md", "markdown", 2, DocumentState("x\n"), "/")
    doc.result, doc.interim_text_tokens = result, interim
    return doc


def test_interim_status_is_marked_from_the_first_number() -> None:

    doc = _open(None, 100)  # the first count of a Claude document, references still pending
    s = status_object(
        doc,
        "counting",
        warning_ratio=0.8,
        encoding="o200k_base",
        budget=1000,
        model=CLAUDE,
    )
    assert s["tokens"]["total"] == 120 and s["exact"] is False
    assert s["method"] == CLAUDE.method and s["costUsd"] == cost_usd(120, CLAUDE)
    last = with_model(
        DocumentResult("p.md", "o200k_base", 1000, CLAUDE.name, TokenCounts(50, 10)), CLAUDE
    )
    doc = _open(last, 100)  # a newer text count, the last count's references
    s = status_object(doc, "counting", warning_ratio=0.8)
    assert s["tokens"] == {"text": 120, "references": 12, "total": 132} and s["exact"] is False
    doc = _open(last, None)
    s = status_object(doc, "ready", warning_ratio=0.8)
    assert s["tokens"]["total"] == last.tokens.total == 72 and s["exact"] is False
