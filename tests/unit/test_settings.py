from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prompt_tokens.settings import (
    CacheRule,
    Settings,
    deep_merge,
    default_cache_path,
    parse_settings,
    settings_to_json,
    to_camel,
)
from prompt_tokens.workspace import find_root, load_config


def test_defaults_match_spec(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PROMPT_TOKENS_CACHE_DIR", str(tmp_path))
    s, problems = parse_settings({})
    assert problems == []
    assert s.model is None and s.encoding == "cl100k_base" and s.budget is None
    assert s.warning_ratio == 0.8 and s.debounce_ms == 150
    assert (s.inlay_hints.total, s.inlay_hints.references, s.inlay_hints.sections) == (True,) * 3
    assert s.references.enabled == ["file", "url", "variable"]
    assert s.references.markdown_links == "auto"
    assert (s.references.max_depth, s.references.allow_outside_workspace) == (5, False)
    assert s.references.max_bytes == 50_000_000
    assert (s.http.enabled, s.http.timeout_s, s.http.retries) == (True, 10.0, 3)
    assert s.http.cache == [CacheRule("*", 3600.0)]
    assert "169.254.0.0/16" in s.http.blocked_networks
    assert s.cache.path == str(tmp_path / "cache.sqlite3")
    assert s.cache.memory_entries == 10_000


def test_camel_case_and_nesting() -> None:
    s, problems = parse_settings(
        {
            "model": "gpt-4o",
            "warningRatio": 0.5,
            "inlayHints": {"sections": False},
            "references": {"markdownLinks": True, "maxDepth": 2},
            "http": {"timeoutS": 2, "cache": [{"pattern": "https://api.example.com/*", "ttlS": 5}]},
            "variables": {"name": "Ada", "n": 3},
            "cache": {"path": ":memory:"},
        }
    )
    assert problems == []
    assert s.model == "gpt-4o" and s.warning_ratio == 0.5
    assert s.inlay_hints.sections is False and s.inlay_hints.total is True
    assert s.references.markdown_links is True and s.references.max_depth == 2
    assert s.http.timeout_s == 2.0
    assert s.http.ttl_for("https://api.example.com/v1") == 5
    assert s.http.ttl_for("https://other.example.com/") == 0
    assert s.variables == {"name": "Ada", "n": "3"}
    assert s.cache.path is None


def test_section_wrapper_is_accepted() -> None:
    s, problems = parse_settings({"promptTokens": {"budget": 100}})
    assert problems == [] and s.budget == 100


@pytest.mark.parametrize(
    ("raw", "field", "fragment"),
    [
        ({"warningRatio": 2}, "warningRatio", "must be > 0"),
        ({"budget": -5}, "budget", "≥ 1"),
        ({"budget": "lots"}, "budget", "whole number"),
        ({"encoding": "p50k_base"}, "encoding", "must be one of"),
        ({"debounceMs": True}, "debounceMs", "whole number"),
        ({"references": {"enabled": ["file", "ftp"]}}, "references.enabled[1]", "must be one of"),
        ({"references": "all"}, "references", "must be an object"),
        ({"http": {"blockedNetworks": ["not-a-net"]}}, "http.blockedNetworks[0]", "not a network"),
        ({"http": {"cache": [{"ttlS": 5}]}}, "http.cache[0].pattern", "is required"),
        ({"http": {"cache": [{"pattern": "*", "ttlS": -1}]}}, "http.cache[0].ttlS", "≥ 0"),
        ({"http": {"headers": [{"pattern": 3}]}}, "http.headers[0].pattern", "must be text"),
        ({"http": {"timeoutS": float("inf")}}, "http.timeoutS", "must be a number"),
        ({"references": {"maxDepth": "3"}}, "references.maxDepth", "whole number"),
        ({"references": {"markdownLinks": "yes"}}, "references.markdownLinks", '"auto"'),
        ({"inlayHints": {"total": 1}}, "inlayHints.total", "true or false"),
        ({"model": "  "}, "model", "non-empty"),
        ({"cache": {"path": 5}}, "cache.path", "file path"),
        ({"http": {"blockedNetworks": "10.0.0.0/8"}}, "http.blockedNetworks", "must be a list"),
        ({"variables": {"x": {"nested": 1}}}, "variables", "must be text"),
        ({"bogus": 1}, "bogus", "unknown setting"),
    ],
)
def test_bad_values_give_a_message_and_the_default(raw: dict, field: str, fragment: str) -> None:
    s, problems = parse_settings(raw)
    top = field.split(".")[0]
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"promptTokens.{field}:")
    assert fragment in problems[0]
    if top != "bogus":
        assert "using the default" in problems[0]
    # Every other field keeps its default.
    default = settings_to_json(Settings())
    got = settings_to_json(s)
    if top != "bogus":
        assert got[top] == default[top]


def test_not_an_object() -> None:
    s, problems = parse_settings(["x"])  # type: ignore[arg-type]
    assert s == Settings() and "must be an object" in problems[0]


def test_headers_env_expansion() -> None:
    s, _ = parse_settings(
        {
            "http": {
                "headers": [
                    {
                        "pattern": "https://api.example.com/*",
                        "headers": {"Authorization": "Bearer ${env:PT_TOKEN}"},
                    }
                ]
            }
        }
    )
    assert s.http.headers_for("https://api.example.com/x", {"PT_TOKEN": "abc"}) == {
        "Authorization": "Bearer abc"
    }
    assert s.http.headers_for("https://elsewhere.example.com/x", {"PT_TOKEN": "abc"}) == {}


def test_deep_merge_nested_tables() -> None:
    merged = deep_merge(
        {"http": {"timeoutS": 1, "retries": 1}, "budget": 5}, {"http": {"retries": 2}}
    )
    assert merged == {"http": {"timeoutS": 1, "retries": 2}, "budget": 5}


def test_workspace_root_and_toml(tmp_path: Path) -> None:
    (tmp_path / "proj" / "prompts").mkdir(parents=True)
    (tmp_path / "proj" / ".prompt-tokens.toml").write_text(
        'budget = 1000\n[variables]\nname = "Ada"\n[http]\ntimeoutS = 3\n'
    )
    doc = tmp_path / "proj" / "prompts" / "a.md"
    doc.write_text("hi")
    root = find_root(doc)
    assert root == tmp_path / "proj"
    raw, problems = load_config(root)
    assert problems == []
    s, problems = parse_settings(raw)
    assert (s.budget, s.variables, s.http.timeout_s) == (1000, {"name": "Ada"}, 3.0)


def test_broken_toml_is_reported(tmp_path: Path) -> None:
    (tmp_path / ".prompt-tokens.toml").write_text("budget = = 3")
    raw, problems = load_config(tmp_path)
    assert raw == {} and problems == [
        f"{tmp_path / '.prompt-tokens.toml'}: is not valid TOML (Invalid value (at line 1, "
        "column 10)); its settings are ignored"
    ]


def test_workspace_file_cannot_loosen_trust_settings() -> None:
    from prompt_tokens.settings import merge_workspace

    client = {
        "http": {"enabled": False},
        "references": {"allowOutsideWorkspace": False},
        "budget": 10,
    }
    repo = {
        "http": {"enabled": True, "blockedNetworks": ["10.0.0.0/8"], "timeoutS": 2},
        "references": {"allowOutsideWorkspace": True},
        "budget": 20,
    }
    s, problems = parse_settings(merge_workspace(client, repo))
    assert problems == []
    assert s.http.enabled is False and s.references.allow_outside_workspace is False
    assert "169.254.0.0/16" in s.http.blocked_networks and "10.0.0.0/8" in s.http.blocked_networks
    assert s.http.timeout_s == 2 and s.budget == 20  # ordinary keys: the workspace file wins
    # ...but it may tighten.
    s, _ = parse_settings(merge_workspace({}, {"http": {"enabled": False}}))
    assert s.http.enabled is False
    s, _ = parse_settings(merge_workspace({}, {"references": {"allowOutsideWorkspace": True}}))
    assert s.references.allow_outside_workspace is False


def test_every_bad_key_is_named_and_the_good_ones_still_apply() -> None:
    s, problems = parse_settings(
        {
            "budget": "lots",
            "warningRatio": 7,
            "debounceMs": 30,
            "nonsense": 1,
            "references": {"maxDepth": 2, "enabled": "file", "typo": True},
            "http": {"timeoutS": 2, "retries": 99},
        }
    )
    assert [p.split(":")[0] for p in problems] == [
        "promptTokens.budget",
        "promptTokens.warningRatio",
        "promptTokens.references.enabled",
        "promptTokens.references.typo",
        "promptTokens.http.retries",
        "promptTokens.nonsense",
    ]
    assert (s.budget, s.warning_ratio, s.http.retries) == (None, 0.8, 3)  # defaults
    assert (s.debounce_ms, s.references.max_depth, s.http.timeout_s) == (30, 2, 2.0)  # kept


def test_snake_case_keys_are_accepted_and_camel_case_wins() -> None:
    s, problems = parse_settings(
        {"warning_ratio": 0.5, "debounceMs": 10, "debounce_ms": 99, "http": {"timeout_s": 4}}
    )
    assert problems == []
    assert (s.warning_ratio, s.debounce_ms, s.http.timeout_s) == (0.5, 10, 4.0)


def test_values_are_normalised() -> None:
    s, problems = parse_settings(
        {
            "model": "  gpt-4o ",
            "debounceMs": 200.0,
            "references": {"enabled": ["url", "file", "url"], "markdownLinks": "false"},
            "cache": {"path": "~/pt/cache.sqlite3"},
        }
    )
    assert problems == []
    assert s.model == "gpt-4o" and s.debounce_ms == 200 and isinstance(s.debounce_ms, int)
    assert s.references.enabled == ["url", "file"] and s.references.markdown_links is False
    assert s.cache.path == str(Path("~/pt/cache.sqlite3").expanduser())
    for unset in (None, ":memory:"):
        assert parse_settings({"cache": {"path": unset}})[0].cache.path is None


def test_json_form_round_trips() -> None:
    s, _ = parse_settings(
        {
            "model": "gpt-4o",
            "inlayHints": {"sections": False},
            "http": {
                "cache": [{"pattern": "https://a/*", "ttlS": 5}],
                "headers": [{"pattern": "https://a/*", "headers": {"Accept": "text/plain"}}],
            },
            "variables": {"who": "Ada"},
        }
    )
    again, problems = parse_settings(settings_to_json(s))
    assert problems == [] and again == s
    assert settings_to_json(s)["http"]["cache"] == [{"pattern": "https://a/*", "ttlS": 5.0}]


def test_cache_dir_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PROMPT_TOKENS_CACHE_DIR", str(tmp_path / "here"))
    assert default_cache_path() == str(tmp_path / "here" / "cache.sqlite3")
    monkeypatch.setenv("PROMPT_TOKENS_CACHE_DIR", "")
    assert default_cache_path() != str(Path("cache.sqlite3"))  # empty means: the platform's


def test_unset_env_in_a_header_expands_to_nothing() -> None:
    s, _ = parse_settings(
        {"http": {"headers": [{"pattern": "*", "headers": {"X-Key": "k=${env:PT_UNSET}"}}]}}
    )
    assert s.http.headers_for("https://a/", {}) == {"X-Key": "k="}


LEAF = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)
JSON = LEAF | st.lists(LEAF, max_size=3) | st.dictionaries(st.text(max_size=4), LEAF, max_size=2)
KEYS = st.sampled_from(
    ["model", "budget", "warningRatio", "warning_ratio", "inlayHints", "references", "http",
     "variables", "cache", "encoding", "debounceMs", "bogus"]
)  # fmt: skip
SUBKEYS = st.sampled_from(
    ["enabled", "markdownLinks", "maxDepth", "timeoutS", "cache", "blockedNetworks", "headers",
     "path", "memoryEntries", "total", "pattern", "ttlS", "x"]
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    raw=st.dictionaries(
        KEYS,
        JSON | st.dictionaries(SUBKEYS, JSON | st.lists(st.dictionaries(SUBKEYS, JSON))),
        max_size=6,
    )
)
def test_any_json_gives_valid_settings_and_one_message_per_bad_key(raw: dict) -> None:
    s, problems = parse_settings(raw)
    assert isinstance(s, Settings)
    assert all(p.startswith("promptTokens.") and "\n" not in p for p in problems)
    # Whatever came in, what came out is itself valid: it parses again without a problem.
    assert parse_settings(settings_to_json(s)) == (s, [])
    # Each message is about a key that was given.
    given_keys = set(raw) | {to_camel(k) for k in raw}
    for p in problems:
        assert (
            p.removeprefix("promptTokens.").split(":")[0].split(".")[0].split("[")[0] in given_keys
        )
