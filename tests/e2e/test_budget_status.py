"""The server's budget verdict: ``status`` and ``percent`` in ``promptTokens/status`` and in
``promptTokens.documentStats``, agreeing with the budget diagnostics, the inlay hint and the
diagnostic message — including ``.prompt-tokens.toml`` settings the editor does not know of.

Budgets are chosen as multiples of the text's exact count, so the percentages are known
exactly: ``8 * N`` puts the document at 12.5 %, a half that rounds up (13, not ``round``'s 12).
"""

from __future__ import annotations

from typing import Any

import pytest
from lsprotocol import types

from tests.e2e.conftest import Session, count, percent, total_label

TEXT = "Summarise the ticket in two sentences, then list the next steps.\n"
N = count(TEXT)
VERDICTS = {"ok", "warning", "exceeded"}
BUDGET_CODES = {"warning": "budget-warning", "exceeded": "budget-exceeded"}


def budget_codes(session: Session, uri: str) -> list[str]:
    return [str(d.code) for d in session.diagnostics(uri) if str(d.code).startswith("budget-")]


def check_shapes(statuses: list[dict[str, Any]]) -> None:
    """Every status sent (counting ones too) carries a verdict and an integer percent."""
    assert statuses
    for s in statuses:
        assert s["status"] in VERDICTS
        assert isinstance(s["percent"], int) and not isinstance(s["percent"], bool)
        assert s["percent"] == percent(s["tokens"]["total"], s["budget"])


@pytest.mark.settings({"budget": 8 * N, "warningRatio": 0.1})
async def test_half_way_rounds_up_in_status_hint_diagnostic_and_stats(session: Session) -> None:
    assert percent(N, 8 * N) == 13  # the premise: 12.5 % exactly
    uri = session.open("p.md", TEXT)
    ready = await session.ready(uri)
    assert (ready["status"], ready["percent"]) == ("warning", 13)
    (d,) = session.diagnostics(uri)
    assert d.code == "budget-warning"
    assert d.message == f"Prompt uses {N:,} of {8 * N:,} tokens (13%)"
    (hint,) = await session.hints(uri, 0, 0)
    assert hint[2] == total_label(N, 8 * N) == f"{N:,} tokens · 13% of {8 * N:,}"
    stats = await session.command("promptTokens.documentStats", uri)
    assert (stats["status"], stats["percent"]) == ("warning", 13)
    check_shapes(session.statuses_for(uri))


@pytest.mark.settings({"budget": 8 * N})
async def test_warning_ratio_set_only_in_prompt_tokens_toml(session: Session) -> None:
    """The editor's settings leave warningRatio at 0.8 (12.5 % would be ok); the workspace's
    file lowers it to 0.1, and the verdict the clients display must follow the file."""
    session.write(".prompt-tokens.toml", "warningRatio = 0.1\n")
    session.write("other.md", TEXT)
    uri = session.open("p.md", TEXT)
    ready = await session.ready(uri)
    assert (ready["status"], ready["percent"], ready["budget"]) == ("warning", 13, 8 * N)
    assert budget_codes(session, uri) == ["budget-warning"]
    on_disk = await session.command("promptTokens.documentStats", session.uri("other.md"))
    assert (on_disk["status"], on_disk["percent"]) == ("warning", 13)

    # the file raises the ratio again: the verdict and the diagnostics follow it together
    session.write(".prompt-tokens.toml", "warningRatio = 0.9\n")
    since = len(session.statuses)
    session.client.text_document_did_save(
        types.DidSaveTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=session.uri(".prompt-tokens.toml"))
        )
    )
    ready = await session.ready(uri, since=since)
    assert (ready["status"], ready["percent"]) == ("ok", 13)
    await session.wait_for(lambda: budget_codes(session, uri) == [])
    check_shapes(session.statuses_for(uri))


@pytest.mark.settings({"budget": N - 1})
async def test_exceeded_then_ok_agree_with_the_diagnostics(session: Session) -> None:
    uri = session.open("p.md", TEXT)
    ready = await session.ready(uri)
    assert ready["status"] == "exceeded"
    assert ready["percent"] == percent(N, N - 1) > 100
    assert budget_codes(session, uri) == [BUDGET_CODES["exceeded"]]
    short = "Be brief.\n"
    v = session.change(uri, short)
    ready = await session.ready(uri, v)
    assert (ready["status"], ready["percent"]) == ("ok", percent(count(short), N - 1))
    await session.wait_for(lambda: budget_codes(session, uri) == [])
    check_shapes(session.statuses_for(uri))
