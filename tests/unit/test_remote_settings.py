"""``remote`` settings: only the user's own settings may enable remote counting or name its
keys and addresses; a workspace file may only turn it off; keys never show in a repr."""

from __future__ import annotations

from pathlib import Path

from prompt_tokens.settings import merge_workspace, parse_settings, restrict_workspace
from prompt_tokens.workspace import load_config


def test_workspace_table_loses_keys_addresses_and_the_switch() -> None:
    raw = {
        "remote": {
            "enabled": True,
            "anthropic_api_key": "sk-a",
            "geminiApiKey": "g",
            "anthropicBaseUrl": "http://169.254.169.254",
            "gemini_base_url": "http://x",
            "debounceMs": 5000,
        }
    }
    out, warnings = restrict_workspace(raw, "ws/.prompt-tokens.toml")
    assert out == {"remote": {"debounceMs": 5000}}
    (w,) = warnings
    assert w.startswith("ws/.prompt-tokens.toml: remote.anthropicApiKey, remote.anthropicBaseUrl")
    assert "remote.enabled" in w and "remote.geminiBaseUrl" in w
    assert restrict_workspace({"remote": {"enabled": False}}, "f") == (
        {"remote": {"enabled": False}},
        [],
    )


def test_a_workspace_file_may_turn_it_off_never_on(tmp_path: Path) -> None:
    (tmp_path / ".prompt-tokens.toml").write_text(
        'remote.enabled = true\nremote.anthropicApiKey = "k"\n'
    )
    toml, warnings = load_config(tmp_path)
    assert toml == {"remote": {}} and len(warnings) == 1
    merged, _ = parse_settings(
        merge_workspace({"remote": {"enabled": False}}, {"remote": {"enabled": True}})
    )
    assert merged.remote.enabled is False
    merged, _ = parse_settings(
        merge_workspace({"remote": {"enabled": True}}, {"remote": {"enabled": False}})
    )
    assert merged.remote.enabled is False
    merged, _ = parse_settings(merge_workspace({"remote": {"enabled": True}}, toml))
    assert merged.remote.enabled is True  # the user's own switch stands


def test_defaults_validation_and_no_key_in_repr() -> None:
    s, problems = parse_settings({})
    assert problems == [] and s.remote.enabled is False and s.remote.debounce_ms == 2000
    s, problems = parse_settings(
        {"remote": {"anthropicApiKey": "sk-hidden", "geminiBaseUrl": "https://g.example/"}}
    )
    assert problems == [] and s.remote.gemini_base_url == "https://g.example"
    assert "sk-hidden" not in repr(s) and "sk-hidden" not in repr(s.remote)
    _, problems = parse_settings({"remote": {"anthropicBaseUrl": "https://u:p@h"}})
    assert problems and "without credentials" in problems[0] and "u:p" not in problems[0]
