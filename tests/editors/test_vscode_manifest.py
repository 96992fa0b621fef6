"""The VS Code extension contributes every server setting, with the server's defaults, and the
settings it sends parse without problems. Fast: no editor needed."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import pathspec
import pytest

from prompt_tokens.settings import Settings, parse_settings, settings_to_json
from prompt_tokens.tokenizer.encodings import ENCODINGS
from tests.editors._support import AGENT_FILES

EXT = Path(__file__).resolve().parents[2] / "editors" / "vscode"
MANIFEST = EXT / "package.json"
PKG = json.loads(MANIFEST.read_text(encoding="utf-8"))
# the extension's document selector: language ids + glob patterns (src/core/documents.ts reads it)
DOCUMENTS = json.loads((EXT / "src" / "core" / "documents.json").read_text(encoding="utf-8"))
# SPEC "LSP": the server's workspace/executeCommand ids, registered by the language client
SERVER_COMMANDS = {"promptTokens.documentStats", "promptTokens.jobs", "promptTokens.clearCache"}
PROPS: dict[str, dict[str, Any]] = PKG["contributes"]["configuration"]["properties"]
CLIENT_ONLY = {"promptTokens.server.command", "promptTokens.trace.server"}
# defaults the extension expresses differently: "unset" values it does not send
UNSET = {"promptTokens.model": "", "promptTokens.budget": None, "promptTokens.cache.path": ""}


def _leaves(tree: dict[str, Any], prefix: str = "promptTokens") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in tree.items():
        key = f"{prefix}.{k}"
        if isinstance(v, dict) and v and k != "variables":
            out.update(_leaves(v, key))
        else:
            out[key] = v
    return out


SERVER = _leaves(settings_to_json(Settings()))


def test_every_server_setting_is_contributed_and_nothing_else() -> None:
    assert set(PROPS) - CLIENT_ONLY == set(SERVER)


def test_contributed_settings_have_descriptions_types_and_defaults() -> None:
    for key, prop in PROPS.items():
        assert prop.get("description") or prop.get("markdownDescription"), key
        assert "type" in prop, key
        assert "default" in prop, key


def _norm(key: str, v: Any) -> Any:
    if key.endswith("blockedNetworks"):
        return sorted(str(ipaddress.ip_network(n, strict=False)) for n in v)
    return v


def test_defaults_match_the_server() -> None:
    for key, server_default in SERVER.items():
        if key in UNSET:
            assert PROPS[key]["default"] == UNSET[key], key
            continue
        assert _norm(key, PROPS[key]["default"]) == _norm(key, server_default), key


def test_encoding_enum_matches_the_server() -> None:
    assert PROPS["promptTokens.encoding"]["enum"] == list(ENCODINGS)


def test_untrusted_restrictions_cover_the_risky_settings() -> None:
    restricted = set(PKG["capabilities"]["untrustedWorkspaces"]["restrictedConfigurations"])
    assert {
        "promptTokens.server.command",
        "promptTokens.http.enabled",
        "promptTokens.http.headers",
        "promptTokens.references.allowOutsideWorkspace",
        "promptTokens.cache.path",
    } <= restricted
    assert PKG["capabilities"]["untrustedWorkspaces"]["supported"] == "limited"


def test_what_the_extension_sends_parses_cleanly() -> None:
    """The defaults as shaped by logic.shapeSettings (client-only and unset keys dropped)."""
    raw: dict[str, Any] = {}
    for key, prop in PROPS.items():
        if key in CLIENT_ONLY or (key in UNSET and prop["default"] == UNSET[key]):
            continue
        cur = raw
        parts = key.split(".")[1:]
        for p in parts[:-1]:
            cur = cur.setdefault(p, {})
        cur[parts[-1]] = prop["default"]
    for untrusted in (False, True):
        if untrusted:
            raw["http"]["enabled"] = False
            raw["references"]["allowOutsideWorkspace"] = False
        settings, problems = parse_settings(raw)
        assert problems == []
        assert settings.http.enabled is not untrusted
    settings, problems = parse_settings({"promptTokens": {"cache": {"path": None}}})
    assert problems == [] and settings.cache.path is None


def test_activation_covers_the_prompt_files() -> None:
    langs = {x for lang in PKG["contributes"]["languages"] for x in lang["extensions"]}
    assert {".prompt", ".prompty", ".jinja", ".j2"} <= langs
    events = set(PKG["activationEvents"])
    assert {"onLanguage:markdown", "onLanguage:plaintext", "onLanguage:prompt-template"} <= events
    for lang in DOCUMENTS["languages"]:
        assert f"onLanguage:{lang}" in events, lang


def test_palette_commands_do_not_clash_with_the_server_commands() -> None:
    commands = {c["command"] for c in PKG["contributes"]["commands"]}
    assert commands == {
        "promptTokens.showStats",
        "promptTokens.showJobs",
        "promptTokens.clearTokenCache",
        "promptTokens.restartServer",
    }
    assert not commands & SERVER_COMMANDS


def _selected(rel: str) -> bool:
    """Whether a file at /home/me/ws/<rel> matches one of the selector's glob patterns (VS Code
    matches them against the whole path; every pattern starts with **/, read here as .gitignore globs)."""
    spec = pathspec.GitIgnoreSpec.from_lines(DOCUMENTS["patterns"])
    return spec.match_file(f"home/me/ws/{rel}")


@pytest.mark.parametrize("kind", sorted(AGENT_FILES))
def test_the_selector_covers_every_agent_file_kind(kind: str) -> None:
    """By pattern, whatever language VS Code or another extension gives the file."""
    assert _selected(AGENT_FILES[kind]), (kind, AGENT_FILES[kind])


def test_the_selector_is_not_everything() -> None:
    for rel in ("src/app.py", "README.rst", "docs/rules/api.mdc.bak", "notes/claude.txt"):
        assert not _selected(rel), rel
    assert all(p.startswith("**/") for p in DOCUMENTS["patterns"])


def test_vsce_package_builds_the_bundle_first() -> None:
    """A plain `vsce package` runs vscode:prepublish: the entry point exists when it packs."""
    assert PKG["main"] == "./dist/extension.js"
    assert "build" in PKG["scripts"]["vscode:prepublish"]
    assert "!dist/extension.js" in (EXT / ".vscodeignore").read_text(encoding="utf-8").split()
