"""Settings: one attrs tree shared by the CLI (``.prompt-tokens.toml`` + flags) and the LSP.

Keys are camelCase in JSON/TOML (``warningRatio``) and snake_case here; the snake_case spelling
is accepted too. :func:`parse_settings` never raises on user input: every bad value becomes one
readable message and that field keeps its default while the others keep their values, so a typo
in a settings file can't stop counting. The checking and the camelCase mapping are cattrs'
(:mod:`prompt_tokens.settings_schema`); this module holds the tree and the merge rules.
"""

from __future__ import annotations

import copy
import fnmatch
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import attrs
import platformdirs

from prompt_tokens import environment
from prompt_tokens.settings_schema import (
    DEFAULT_ENCODING,
    DIALECT_NAMES,
    REFERENCE_KINDS,
    OneOf,
    Parse,
    Range,
    SettingsSchema,
    base_url,
    cache_path,
    markdown_links,
    network,
    stripped,
    to_camel,
    unique,
)
from prompt_tokens.tokenizer.encodings import TOKENIZERS

__all__ = [
    "REFERENCE_KINDS",
    "CacheRule",
    "CacheSettings",
    "DialectRule",
    "HeaderRule",
    "HttpSettings",
    "InlayHintSettings",
    "ReferenceSettings",
    "RemoteSettings",
    "Settings",
    "deep_merge",
    "default_cache_path",
    "merge_workspace",
    "parse_settings",
    "restrict_workspace",
    "settings_to_json",
    "to_camel",
]

_ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")


def default_cache_path() -> str:
    """``$PROMPT_TOKENS_CACHE_DIR/cache.sqlite3``, else the platform's user cache folder."""
    base = environment.cache_dir() or platformdirs.user_cache_dir("prompt-tokens", appauthor=False)
    return str(Path(base) / "cache.sqlite3")


@attrs.define
class CacheRule:
    pattern: str
    """URL glob (``fnmatch``), e.g. ``https://api.example.com/*``."""
    ttl_s: Annotated[float, Range(0)] = 3600.0
    """Seconds a fetched body counts as fresh (then it is revalidated)."""


@attrs.define
class HeaderRule:
    pattern: str
    """URL glob (``fnmatch``) the headers are sent to."""
    headers: dict[str, str] = attrs.field(factory=dict)
    """Header name → value; values may use ``${env:NAME}``."""


@attrs.define
class DialectRule:
    glob: Annotated[str, stripped]
    """Gitignore-style glob, matched against the path relative to the workspace root."""
    dialect: Annotated[str, OneOf(DIALECT_NAMES)]
    """The dialect of the files it matches (first matching rule wins)."""


@attrs.define
class InlayHintSettings:
    total: bool = True
    """Total at the end of line 0."""
    references: bool = True
    """``+N`` after each reference."""
    sections: bool = True
    """Section counts on Markdown headings."""


@attrs.define
class ReferenceSettings:
    enabled: Annotated[list[Annotated[str, OneOf(REFERENCE_KINDS)]], unique] = attrs.field(
        factory=lambda: list(REFERENCE_KINDS)
    )
    """Reference kinds resolved: ``file``, ``url``, ``variable``."""
    markdown_links: Annotated[str | bool, Parse(markdown_links)] = "auto"
    """``"auto"``: only in VS Code prompt files; true; false."""
    max_depth: Annotated[int, Range(0, 100)] = 5
    """Recursion limit for file references."""
    allow_outside_workspace: bool = False
    """Allow files outside the workspace folders (untrusted repositories!)."""
    max_bytes: Annotated[int, Range(1)] = 50_000_000
    """Larger files and responses are refused with a diagnostic."""


@attrs.define
class HttpSettings:
    enabled: bool = True
    """Fetch URL references at all."""
    timeout_s: Annotated[float, Range(0, open_lo=True)] = 10.0
    """Per request, in seconds."""
    retries: Annotated[int, Range(0, 10)] = 3
    """Retries on timeouts, 429 and 5xx only."""
    cache: list[CacheRule] = attrs.field(factory=lambda: [CacheRule("*", 3600.0)])
    """Freshness by URL glob; the first matching rule wins."""
    blocked_networks: list[Annotated[str, network]] = attrs.field(
        factory=lambda: ["169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128"]
    )
    """Never fetched, checked after DNS resolution and on every redirect."""
    headers: list[HeaderRule] = attrs.field(factory=list)
    """Headers by URL glob. Only the user's own settings may set them (see
    :func:`restrict_workspace`)."""

    def ttl_for(self, url: str) -> float:
        for rule in self.cache:
            if fnmatch.fnmatchcase(url, rule.pattern):
                return rule.ttl_s
        return 0.0

    def headers_for(self, url: str, environ: environment.EnvMap | None = None) -> dict[str, str]:
        """Headers of every rule whose pattern matches, ``${env:NAME}`` expanded ('' if unset).

        Expanding is safe because a workspace file cannot contribute header rules: they are
        dropped when such a file is loaded, so every rule here is the user's own.
        """
        out: dict[str, str] = {}
        for rule in self.headers:
            if fnmatch.fnmatchcase(url, rule.pattern):
                for name, value in rule.headers.items():
                    out[name] = _ENV_REF.sub(
                        lambda m: environment.expand(m.group(1), environ) or "", value
                    )
        return out


@attrs.define
class CacheSettings:
    path: Annotated[str | None, Parse(cache_path)] = attrs.field(factory=default_cache_path)
    """SQLite file; ``":memory:"`` or null: no file (memory only)."""
    memory_entries: Annotated[int, Range(0)] = 10_000
    """In-memory LRU size."""


@attrs.define
class RemoteSettings:
    """Exact counts from the model vendor's token-counting API (Claude, Gemini), off by default:
    the document's text is sent to the vendor. Only the user's own settings may turn it on or
    name keys and addresses (:func:`restrict_workspace`), and it never runs while URL fetching
    is off (``http.enabled``: an untrusted workspace turns that off)."""

    enabled: bool = False
    """Count exactly with the vendor's API after typing pauses and on save (``--exact-remote``)."""
    anthropic_api_key: str | None = attrs.field(default=None, repr=False)
    """Key for Anthropic's ``count_tokens`` (default: ``ANTHROPIC_API_KEY``); may use
    ``${env:NAME}``. Never logged or stored."""
    gemini_api_key: str | None = attrs.field(default=None, repr=False)
    """Key for Gemini's ``countTokens`` (default: ``GOOGLE_API_KEY``, else ``GEMINI_API_KEY``);
    may use ``${env:NAME}``. Never logged or stored."""
    anthropic_base_url: Annotated[str | None, Parse(base_url)] = None
    """Anthropic API address (default: ``ANTHROPIC_BASE_URL``, else https://api.anthropic.com)."""
    gemini_base_url: Annotated[str | None, Parse(base_url)] = None
    """Gemini API address (default: ``GEMINI_BASE_URL``, else
    https://generativelanguage.googleapis.com)."""
    debounce_ms: Annotated[int, Range(0, 600_000)] = 2000
    """Pause after the last change before the vendor is asked (saving asks at once)."""
    timeout_s: Annotated[float, Range(0, open_lo=True)] = 10.0
    """Per request, in seconds."""
    retries: Annotated[int, Range(0, 10)] = 3
    """Retries on timeouts, 429 and 5xx only."""

    def expand(self, value: str | None, environ: environment.EnvMap | None = None) -> str | None:
        """A key setting with ``${env:NAME}`` expanded (safe: workspace files cannot set it)."""
        if value is None:
            return None
        out = _ENV_REF.sub(lambda m: environment.expand(m.group(1), environ) or "", value)
        return out.strip() or None


@attrs.define
class Settings:
    model: Annotated[str, stripped] | None = None
    """Sets the encoding and the default budget from the model table."""
    encoding: Annotated[str, OneOf(TOKENIZERS)] = DEFAULT_ENCODING
    """Used when no model is set: an OpenAI encoding or an exact open-weights tokenizer
    (``qwen2``, ``deepseek-v4``, ``mistral-tekken``...; their package must be installed)."""
    budget: Annotated[int, Range(1)] | None = None
    """Tokens allowed for the total (default: the model's maximum input, else 8192)."""
    warning_ratio: Annotated[float, Range(0, 1, open_lo=True)] = 0.8
    """A warning diagnostic when ``total >= warning_ratio * budget``."""
    debounce_ms: Annotated[int, Range(0, 60_000)] = 150
    """Delay after the last change before recounting."""
    inlay_hints: InlayHintSettings = attrs.field(factory=InlayHintSettings)
    """Which inlay hints to show."""
    references: ReferenceSettings = attrs.field(factory=ReferenceSettings)
    """Which references are followed, and how far."""
    http: HttpSettings = attrs.field(factory=HttpSettings)
    """How URL references are fetched."""
    variables: dict[str, str] = attrs.field(factory=dict)
    """Variable name → value (numbers and booleans are taken as their text)."""
    cache: CacheSettings = attrs.field(factory=CacheSettings)
    """Where counts are cached."""
    remote: RemoteSettings = attrs.field(factory=RemoteSettings)
    """Exact counts from the model vendor (off by default)."""
    dialects: list[DialectRule] = attrs.field(factory=list)
    """Dialect overrides ``[{glob, dialect}]``, before the detection from the file's path."""


_SCHEMA = SettingsSchema(
    Settings,
    sections=(
        Settings,
        InlayHintSettings,
        ReferenceSettings,
        HttpSettings,
        CacheSettings,
        RemoteSettings,
    ),
)


def parse_settings(
    raw: Mapping[str, Any] | None, section: str = "promptTokens"
) -> tuple[Settings, list[str]]:
    """Settings from camelCase JSON/TOML; problems are messages like
    ``promptTokens.warningRatio: must be > 0 and ≤ 1; using the default (0.8)``."""
    if raw is None:
        return Settings(), []
    if not isinstance(raw, Mapping):
        return Settings(), [f"{section}: settings must be an object; using defaults"]
    if section in raw and isinstance(raw[section], Mapping) and len(raw) == 1:
        raw = raw[section]
    settings, problems = _SCHEMA.structure(raw, section)
    assert isinstance(settings, Settings)
    return settings, problems


def settings_to_json(settings: Settings) -> dict[str, Any]:
    """camelCase JSON form, e.g. for documentation or the VS Code package.json generator."""
    return _SCHEMA.unstructure(settings)


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Raw-dict merge: nested tables merge key by key, everything else is replaced."""
    out = copy.deepcopy(dict(base))
    for k, v in override.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def restrict_workspace(raw: Mapping[str, Any], source: str) -> tuple[dict[str, Any], list[str]]:
    """A workspace file's table without what only the user's own settings may set.

    That is ``http.headers``: a cloned repository could otherwise send the user's secrets
    (``${env:…}`` is expanded in header values) or credentials to any URL its prompts name
    (SPEC "Trust"); and the ``remote`` keys, base URLs and switching remote counting on: a
    repository could otherwise send its prompts with the user's API key, or the key itself to
    an address it chose. The CLI applies the same rule as the editor: the file is the same
    untrusted input whether an editor or a CI job reads it, and in CI it comes with the pull
    request under test. ``source`` names the file in the warning.
    """
    out = dict(raw)
    warnings: list[str] = []
    http = raw.get("http")
    if isinstance(http, Mapping) and "headers" in http:
        out["http"] = {k: v for k, v in http.items() if k != "headers"}
        warnings.append(f"{source}: http.headers ignored: a workspace file cannot send headers")
    remote = raw.get("remote")
    if isinstance(remote, Mapping):
        kept = {k: v for k, v in remote.items() if _camel(k) not in _USER_ONLY_REMOTE}
        if kept.get("enabled") is not False:
            kept.pop("enabled", None)
        dropped = sorted({_camel(k) for k in remote} - {_camel(k) for k in kept})
        if dropped:
            out["remote"] = kept
            names = ", ".join(f"remote.{k}" for k in dropped)
            warnings.append(
                f"{source}: {names} ignored: only your own settings may enable remote counting "
                "or name its keys and addresses"
            )
    return out, warnings


_USER_ONLY_REMOTE = frozenset(
    {"anthropicApiKey", "geminiApiKey", "anthropicBaseUrl", "geminiBaseUrl"}
)


def _camel(key: Any) -> str:
    return to_camel(key) if isinstance(key, str) else str(key)


# Keys a workspace's own ``.prompt-tokens.toml`` may tighten but never loosen: a cloned
# repository is untrusted input (SPEC "Trust"), so it must not switch URL fetching back on in a
# Restricted-Mode editor, reach files outside the workspace, or unblock cloud-metadata networks.
_TIGHTEN_ONLY_BOOLS = (
    ("http", "enabled"),
    ("references", "allowOutsideWorkspace"),
    ("remote", "enabled"),
)


def merge_workspace(client: Mapping[str, Any], workspace: Mapping[str, Any]) -> dict[str, Any]:
    """Client (editor) settings overlaid by the workspace file, with trust-sensitive keys
    taken from whichever side is stricter and blocked networks united.

    The workspace side never adds ``http.headers`` or the user-only ``remote`` keys, whoever
    built the table (:func:`restrict_workspace`; ``workspace.load_config`` already dropped
    them and warned).
    """
    workspace, _ = restrict_workspace(workspace, "workspace settings")
    merged = deep_merge(client, workspace)
    defaults = settings_to_json(Settings())
    for table, key in _TIGHTEN_ONLY_BOOLS:
        c = _get(client, table, key, defaults[table][key])
        w = _get(workspace, table, key, c)
        if isinstance(c, bool) and isinstance(w, bool):
            merged.setdefault(table, {})[key] = c and w
    c_nets = _get(client, "http", "blockedNetworks", defaults["http"]["blockedNetworks"])
    w_nets = _get(workspace, "http", "blockedNetworks", [])
    if isinstance(c_nets, list) and isinstance(w_nets, list):
        merged.setdefault("http", {})["blockedNetworks"] = list(dict.fromkeys([*c_nets, *w_nets]))
    return merged


def _get(raw: Mapping[str, Any], table: str, key: str, default: Any) -> Any:
    sub = raw.get(table)
    return sub.get(key, default) if isinstance(sub, Mapping) else default
