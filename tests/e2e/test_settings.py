"""Settings: pulled, pushed, initializationOptions, .prompt-tokens.toml (wins over the editor),
invalid values (one showMessage, defaults used)."""

from __future__ import annotations

import pytest
from lsprotocol import types

from tests.e2e.conftest import Session, count

TEXT = "A prompt of a few words for budget checks.\n"


@pytest.mark.settings({"budget": 1000})
async def test_pulled_settings_apply_before_the_first_count(session: Session) -> None:
    uri = session.open("p.md", TEXT)
    status = await session.ready(uri)
    assert status["budget"] == 1000


@pytest.mark.settings({"budget": 1000})
async def test_did_change_configuration_pull_changes_diagnostics(session: Session) -> None:
    uri = session.open("p.md", TEXT)
    await session.ready(uri)
    assert session.diagnostics(uri) == []
    n = count(TEXT)
    session.client.set_configuration(
        {"cache": {"path": None}, "budget": n - 1}, section="promptTokens"
    )
    session.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings=None)
    )
    status = await session.wait_for(
        lambda: next(
            (
                s
                for s in session.statuses_for(uri)[::-1]
                if s["state"] == "ready" and s["budget"] == n - 1
            ),
            None,
        )
    )
    assert status["version"] == 1
    (d,) = session.diagnostics(uri)
    assert d.code == "budget-exceeded"


async def test_did_change_configuration_push(session: Session) -> None:
    uri = session.open("p.md", TEXT)
    await session.ready(uri)
    n = count(TEXT)
    session.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={"promptTokens": {"budget": n, "warningRatio": 0.5, "cache": {"path": None}}}
        )
    )
    status = await session.wait_for(
        lambda: next(
            (s for s in session.statuses_for(uri) if s["state"] == "ready" and s["budget"] == n),
            None,
        )
    )
    assert status["tokens"]["total"] == n
    assert [d.code for d in session.diagnostics(uri)] == ["budget-warning"]


@pytest.mark.settings({"budget": 5000, "variables": {"who": "Ada"}})
async def test_toml_wins_over_editor_settings(session: Session) -> None:
    session.write(".prompt-tokens.toml", "budget = 3000\n[variables]\nwho = 'Grace Hopper'\n")
    uri = session.open("p.md", "Hi {{ who }}\n")
    status = await session.ready(uri)
    assert status["budget"] == 3000
    assert status["tokens"]["references"] == count("Grace Hopper")


@pytest.mark.settings({"budget": "lots", "warningRatio": 7, "debounceMs": 30, "nonsense": 1})
async def test_invalid_settings_one_message_defaults_used(session: Session) -> None:
    uri = session.open("p.md", TEXT)
    status = await session.ready(uri)
    assert status["budget"] == 8192
    warnings = [m for m in session.client.messages if "invalid settings" in m.message]
    assert len(warnings) == 1
    msg = warnings[0].message
    assert warnings[0].type == types.MessageType.Warning
    assert "budget" in msg and "warningRatio" in msg and "nonsense" in msg


@pytest.mark.init_options({"promptTokens": {"encoding": "o200k_base"}})
async def test_initialization_options(session: Session) -> None:
    uri = session.open("p.md", TEXT)
    status = await session.ready(uri)
    assert status["encoding"] == "o200k_base"
    assert status["tokens"]["text"] == count(TEXT, "o200k_base")


async def test_dynamic_registrations(session: Session) -> None:
    uri = session.open("p.md", TEXT)
    await session.ready(uri)
    methods = {r.method for r in session.registrations}
    if session.profile == "visual-studio-code":
        assert methods == {
            types.WORKSPACE_DID_CHANGE_CONFIGURATION,
            types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
        }
    else:  # this Neovim profile offers no dynamic registration for either
        assert methods == set()
