"""Dependencies: a referenced file edited in an open buffer, saved, or changed on disk, and a
variable value changed in the settings recount exactly the documents that depend on it."""

from __future__ import annotations

import pytest
from lsprotocol import types

from tests.e2e.conftest import Session, count

MAIN = "Summarise @docs/part.md in one line.\n"


def last_ready(session: Session, uri: str) -> dict | None:
    for s in reversed(session.statuses_for(uri)):
        if s["state"] == "ready":
            return s
    return None


async def test_open_buffer_edit_recounts_the_referrer(session: Session) -> None:
    session.write("docs/part.md", "first version\n")
    main = session.open("main.md", MAIN)
    first = await session.ready(main)
    assert first["tokens"]["references"] == count("first version\n")
    part = session.open("docs/part.md", "first version\n", write=False)
    await session.ready(part)
    edited = "first version, now with many more words in the unsaved buffer\n"
    session.change(part, edited)
    status = await session.wait_for(
        lambda: (
            (s := last_ready(session, main)) and s["tokens"]["references"] == count(edited) and s
        )
    )
    assert status["tokens"]["total"] == count(MAIN) + count(edited)
    assert (session.ws / "docs/part.md").read_text() == "first version\n"  # never saved
    if session.profile == "neovim":  # this profile supports workspace/inlayHint/refresh
        await session.wait_for(lambda: session.refreshes > 0)
    else:  # VS Code 1.65 predates LSP inlay hints: never asked to refresh
        assert session.refreshes == 0
    # closing the buffer: the disk text counts again
    session.close(part)
    await session.wait_for(
        lambda: (
            (s := last_ready(session, main))
            and s["tokens"]["references"] == count("first version\n")
        )
    )


async def test_disk_change_with_watched_files_notification(session: Session) -> None:
    session.write("docs/part.md", "short\n")
    other = session.open("other.md", "unrelated text\n")
    main = session.open("main.md", MAIN)
    await session.ready(main)
    await session.ready(other)
    other_count = len(session.statuses_for(other))
    new = "a much longer text on disk than before, changed by another program\n"
    session.write("docs/part.md", new)
    session.client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[
                types.FileEvent(uri=session.uri("docs/part.md"), type=types.FileChangeType.Changed)
            ]
        )
    )
    status = await session.wait_for(
        lambda: (s := last_ready(session, main)) and s["tokens"]["references"] == count(new) and s
    )
    assert status["tokens"]["total"] == count(MAIN) + count(new)
    assert len(session.statuses_for(other)) == other_count  # not a dependent: not recounted


async def test_missing_file_created_recounts(session: Session) -> None:
    main = session.open("main.md", MAIN)
    await session.ready(main)
    assert [d.code for d in session.diagnostics(main)] == ["reference-not-found"]
    session.write("docs/part.md", "now it exists\n")
    session.client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[
                types.FileEvent(uri=session.uri("docs/part.md"), type=types.FileChangeType.Created)
            ]
        )
    )
    await session.wait_for(
        lambda: (
            (s := last_ready(session, main))
            and s["tokens"]["references"] == count("now it exists\n")
        )
    )
    assert session.diagnostics(main) == []


async def test_variable_change_recounts_only_its_users(session: Session) -> None:
    session.client.set_configuration(
        {"cache": {"path": None}, "debounceMs": 30, "variables": {"topic": "tea"}},
        section="promptTokens",
    )
    session.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings=None)
    )
    user = session.open("user.md", "Write about {{ topic }}.\n")
    plain = session.open("plain.md", "No variables here.\n")
    await session.wait_for(
        lambda: (s := last_ready(session, user)) and s["tokens"]["references"] == count("tea")
    )
    await session.ready(plain)
    plain_before = len(session.statuses_for(plain))
    session.client.set_configuration(
        {
            "cache": {"path": None},
            "debounceMs": 30,
            "variables": {"topic": "the history of green tea"},
        },
        section="promptTokens",
    )
    session.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings=None)
    )
    await session.wait_for(
        lambda: (
            (s := last_ready(session, user))
            and s["tokens"]["references"] == count("the history of green tea")
        )
    )
    assert len(session.statuses_for(plain)) == plain_before


async def test_disk_change_found_without_file_watching(session: Session) -> None:
    """Clients that cannot watch files (this Neovim profile) are covered by a light poll."""
    if session.profile != "neovim":
        pytest.skip("the VS Code profile registers file watching; the poll is off")
    session.write("docs/part.md", "short\n")
    main = session.open("main.md", MAIN)
    await session.ready(main)
    new = "changed on disk, and no notification about it was sent\n"
    session.write("docs/part.md", new)
    await session.wait_for(
        lambda: (s := last_ready(session, main)) and s["tokens"]["references"] == count(new)
    )


async def test_toml_change_reloads_settings(session: Session) -> None:
    main = session.open("main.md", "Hello there\n")
    assert (await session.ready(main))["budget"] == 8192
    session.write(".prompt-tokens.toml", "budget = 777\n")
    session.client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[
                types.FileEvent(
                    uri=session.uri(".prompt-tokens.toml"), type=types.FileChangeType.Created
                )
            ]
        )
    )
    await session.wait_for(lambda: (s := last_ready(session, main)) and s["budget"] == 777)
