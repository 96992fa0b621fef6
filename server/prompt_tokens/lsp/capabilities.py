"""What the server offers a client, in the standard library only.

The early ``initialize`` answer (``bootstrap``) is built from this before pygls is imported, and
the pygls server (``base``, ``commands``) uses the same names and the same encoding choice, so
the two answers cannot drift apart (``tests/e2e/test_lifecycle.py`` compares them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

NAME = "prompt-tokens"
SECTION = "promptTokens"
"""The settings section (``workspace/configuration``, ``initializationOptions``)."""

DOCUMENT_STATS = "promptTokens.documentStats"
JOBS = "promptTokens.jobs"
CLEAR_CACHE = "promptTokens.clearCache"
COMMANDS = (DOCUMENT_STATS, JOBS, CLEAR_CACHE)
"""``workspace/executeCommand`` names, in the order they are registered."""

PREFERRED_ENCODINGS = ("utf-32", "utf-16", "utf-8")


def choose_position_encoding(offered: Sequence[str] | None) -> str:
    """utf-32 (code points: no conversion), else utf-16 (the LSP default), else utf-8."""
    if not offered:
        return "utf-16"
    for enc in PREFERRED_ENCODINGS:
        if enc in offered:
            return enc
    return "utf-16"


def initialize_result(params: dict[str, Any], name: str, version: str) -> dict[str, Any]:
    """The ``InitializeResult`` pygls builds for our features, as JSON."""
    caps = params.get("capabilities") if isinstance(params, dict) else None
    general = caps.get("general") if isinstance(caps, dict) else None
    offered = general.get("positionEncodings") if isinstance(general, dict) else None
    encoding = choose_position_encoding(offered if isinstance(offered, list) else None)
    return {
        "capabilities": {
            "positionEncoding": encoding,
            "textDocumentSync": {
                "openClose": True,
                "change": 2,
                "willSave": False,
                "willSaveWaitUntil": False,
                "save": {"includeText": False},
            },
            "hoverProvider": True,
            "inlayHintProvider": {"resolveProvider": False},
            "executeCommandProvider": {"commands": list(COMMANDS)},
            "workspace": {
                "workspaceFolders": {"supported": True, "changeNotifications": True},
                "fileOperations": {},
            },
        },
        "serverInfo": {"name": name, "version": version},
    }
