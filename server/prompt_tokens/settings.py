"""Settings: one attrs tree shared by the CLI (``.prompt-tokens.toml`` + flags) and the LSP.

Keys are camelCase in JSON/TOML (``warningRatio``) and snake_case here. ``parse_settings``
never raises on user input: every bad value becomes one readable message and the field keeps
its default, so a typo in a settings file can't stop counting.
"""

from __future__ import annotations

import copy
import fnmatch
import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from prompt_tokens.models import DEFAULT_ENCODING
from prompt_tokens.tokenizer.encodings import ENCODINGS

REFERENCE_KINDS = ("file", "url", "variable")
MEMORY_CACHE = ":memory:"


def default_cache_path() -> str:
    """``$PROMPT_TOKENS_CACHE_DIR/cache.sqlite3``, else the platform's user cache folder."""
    base = os.environ.get("PROMPT_TOKENS_CACHE_DIR")
    if not base:
        import platformdirs

        base = platformdirs.user_cache_dir("prompt-tokens", appauthor=False)
    return str(Path(base) / "cache.sqlite3")


Check = Callable[[Any], Any]


def _field(
    default: Any = attrs.NOTHING, *, check: Check | None = None, doc: str = "", factory: Any = None
) -> Any:
    meta = {"check": check, "doc": doc}
    if factory is not None:
        return attrs.field(factory=factory, metadata=meta)
    return attrs.field(default=default, metadata=meta)


# ---- value checks: return the converted value or raise ValueError(reason) -------------------


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    raise ValueError("must be true or false")


def _int(lo: int = 0, hi: int | None = None) -> Check:
    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or int(v) != v:
            raise ValueError("must be a whole number")
        if v < lo or (hi is not None and v > hi):
            raise ValueError(
                f"must be between {lo} and {hi}" if hi is not None else f"must be ≥ {lo}"
            )
        return int(v)

    return check


def _number(lo: float, hi: float | None = None, *, open_lo: bool = False) -> Check:
    def check(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError("must be a number")
        if (v <= lo if open_lo else v < lo) or (hi is not None and v > hi):
            bound = f"> {lo}" if open_lo else f"≥ {lo}"
            raise ValueError(f"must be {bound}" + (f" and ≤ {hi}" if hi is not None else ""))
        return float(v)

    return check


def _opt_str(v: Any) -> str | None:
    if v is None or (isinstance(v, str) and v.strip()):
        return v.strip() if isinstance(v, str) else None
    raise ValueError("must be a non-empty string or null")


def _encoding(v: Any) -> str:
    if v in ENCODINGS:
        return str(v)
    raise ValueError(f"must be one of {', '.join(ENCODINGS)}")


def _opt_budget(v: Any) -> int | None:
    return None if v is None else _int(1)(v)


def _kinds(v: Any) -> list[str]:
    if not isinstance(v, list) or any(k not in REFERENCE_KINDS for k in v):
        raise ValueError(f"must be a list drawn from {list(REFERENCE_KINDS)}")
    return list(dict.fromkeys(v))


def _markdown_links(v: Any) -> str | bool:
    if v in ("auto", True, False):
        return v
    if v in ("true", "false"):
        return v == "true"
    raise ValueError('must be "auto", true or false')


def _str_map(v: Any) -> dict[str, str]:
    if not isinstance(v, Mapping):
        raise ValueError("must be an object of name → text")
    out: dict[str, str] = {}
    for k, val in v.items():
        if isinstance(val, (str, int, float, bool)):
            out[str(k)] = val if isinstance(val, str) else str(val)
        else:
            raise ValueError(f"value of '{k}' must be text")
    return out


def _cache_path(v: Any) -> str | None:
    if v is None or v == MEMORY_CACHE:
        return None
    if isinstance(v, str) and v.strip():
        return os.path.expanduser(v.strip())
    raise ValueError('must be a file path, ":memory:" or null')


def _networks(v: Any) -> list[str]:
    if not isinstance(v, list):
        raise ValueError("must be a list of CIDR networks")
    for net in v:
        try:
            ipaddress.ip_network(str(net), strict=False)
        except ValueError:
            raise ValueError(f"'{net}' is not a network (e.g. 169.254.0.0/16)") from None
    return [str(n) for n in v]


@attrs.define
class CacheRule:
    pattern: str
    ttl_s: float


def _cache_rules(v: Any) -> list[CacheRule]:
    if not isinstance(v, list):
        raise ValueError('must be a list of {"pattern", "ttlS"} objects')
    rules = []
    for item in v:
        if not isinstance(item, Mapping) or not isinstance(item.get("pattern"), str):
            raise ValueError('each entry needs a "pattern" string and a "ttlS" number')
        ttl = _number(0)(item.get("ttlS", item.get("ttl_s", 3600)))
        rules.append(CacheRule(item["pattern"], ttl))
    return rules


@attrs.define
class HeaderRule:
    pattern: str
    headers: dict[str, str]


def _header_rules(v: Any) -> list[HeaderRule]:
    if not isinstance(v, list):
        raise ValueError('must be a list of {"pattern", "headers"} objects')
    rules = []
    for item in v:
        if not isinstance(item, Mapping) or not isinstance(item.get("pattern"), str):
            raise ValueError('each entry needs a "pattern" string and a "headers" object')
        rules.append(HeaderRule(item["pattern"], _str_map(item.get("headers", {}))))
    return rules


# ---- the tree ---------------------------------------------------------------------------------


@attrs.define
class InlayHintSettings:
    total: bool = _field(True, check=_bool, doc="Total at the end of line 0.")
    references: bool = _field(True, check=_bool, doc="`+N` after each reference.")
    sections: bool = _field(True, check=_bool, doc="Section counts on Markdown headings.")


@attrs.define
class ReferenceSettings:
    enabled: list[str] = _field(
        factory=lambda: list(REFERENCE_KINDS), check=_kinds, doc="Reference kinds resolved."
    )
    markdown_links: str | bool = _field(
        "auto", check=_markdown_links, doc='"auto": only in VS Code prompt files; true; false.'
    )
    max_depth: int = _field(5, check=_int(0, 100), doc="Recursion limit for file references.")
    allow_outside_workspace: bool = _field(
        False, check=_bool, doc="Allow files outside the workspace folders (untrusted repos!)."
    )
    max_bytes: int = _field(50_000_000, check=_int(1), doc="Larger files/responses are refused.")


@attrs.define
class HttpSettings:
    enabled: bool = _field(True, check=_bool, doc="Fetch URL references at all.")
    timeout_s: float = _field(10.0, check=_number(0, open_lo=True), doc="Per request.")
    retries: int = _field(3, check=_int(0, 10), doc="Retries on timeouts, 429 and 5xx only.")
    cache: list[CacheRule] = _field(
        factory=lambda: [CacheRule("*", 3600.0)], check=_cache_rules, doc="TTL by URL glob."
    )
    blocked_networks: list[str] = _field(
        factory=lambda: ["169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128"],
        check=_networks,
        doc="Never fetched, after DNS resolution and on every redirect.",
    )
    headers: list[HeaderRule] = _field(
        factory=list, check=_header_rules, doc="Headers by URL glob."
    )

    def ttl_for(self, url: str) -> float:
        for rule in self.cache:
            if fnmatch.fnmatchcase(url, rule.pattern):
                return rule.ttl_s
        return 0.0

    def headers_for(self, url: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """Headers of every rule whose pattern matches, ``${env:NAME}`` expanded."""
        env = os.environ if environ is None else environ
        out: dict[str, str] = {}
        for rule in self.headers:
            if fnmatch.fnmatchcase(url, rule.pattern):
                for k, v in rule.headers.items():
                    out[k] = re.sub(
                        r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: env.get(m.group(1), ""), v
                    )
        return out


@attrs.define
class CacheSettings:
    path: str | None = _field(
        factory=default_cache_path, check=_cache_path, doc='SQLite file; ":memory:"/null: none.'
    )
    memory_entries: int = _field(10_000, check=_int(0), doc="In-memory LRU size.")


@attrs.define
class Settings:
    model: str | None = _field(None, check=_opt_str, doc="Sets encoding and default budget.")
    encoding: str = _field(DEFAULT_ENCODING, check=_encoding, doc="Used when no model is set.")
    budget: int | None = _field(None, check=_opt_budget, doc="Tokens allowed for the total.")
    warning_ratio: float = _field(0.8, check=_number(0, 1, open_lo=True), doc="Warning threshold.")
    debounce_ms: int = _field(150, check=_int(0, 60_000), doc="Delay before recounting.")
    inlay_hints: InlayHintSettings = attrs.field(factory=InlayHintSettings)
    references: ReferenceSettings = attrs.field(factory=ReferenceSettings)
    http: HttpSettings = attrs.field(factory=HttpSettings)
    variables: dict[str, str] = _field(factory=dict, check=_str_map, doc="name → value.")
    cache: CacheSettings = attrs.field(factory=CacheSettings)


def to_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _build(cls: type, raw: Mapping[str, Any], prefix: str, problems: list[str]) -> Any:
    kwargs: dict[str, Any] = {}
    known = set()
    for f in attrs.fields(cls):
        camel = to_camel(f.name)
        known.update({camel, f.name})
        key = camel if camel in raw else f.name if f.name in raw else None
        if key is None:
            continue
        value = raw[key]
        path = f"{prefix}.{camel}"
        sub = _NESTED.get(str(f.type))
        if sub is not None:
            if isinstance(value, Mapping):
                kwargs[f.name] = _build(sub, value, path, problems)
            else:
                problems.append(f"{path}: must be an object; using defaults")
            continue
        check = f.metadata.get("check")
        try:
            kwargs[f.name] = check(value) if check else value
        except ValueError as exc:
            factory = getattr(f.default, "factory", None)
            default = factory() if callable(factory) else f.default
            problems.append(f"{path}: {exc}; using the default ({_show(default)})")
    for key in raw:
        if key not in known:
            problems.append(f"{prefix}.{key}: unknown setting, ignored")
    return cls(**kwargs)


def _show(v: Any) -> str:
    if isinstance(v, list) and v and attrs.has(type(v[0])):
        return "[" + ", ".join(str(attrs.asdict(x)) for x in v) + "]"
    return repr(v)


# Field annotations are strings under ``from __future__ import annotations``.
_NESTED: dict[str, type] = {
    c.__name__: c for c in (InlayHintSettings, ReferenceSettings, HttpSettings, CacheSettings)
}


def parse_settings(
    raw: Mapping[str, Any] | None, section: str = "promptTokens"
) -> tuple[Settings, list[str]]:
    """Settings from camelCase JSON/TOML; problems are messages like
    ``promptTokens.warningRatio: must be > 0 and ≤ 1; using the default (0.8)``."""
    problems: list[str] = []
    if raw is None:
        return Settings(), problems
    if not isinstance(raw, Mapping):
        return Settings(), [f"{section}: settings must be an object; using defaults"]
    if section in raw and isinstance(raw[section], Mapping) and len(raw) == 1:
        raw = raw[section]
    return _build(Settings, raw, section, problems), problems


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Raw-dict merge: nested tables merge key by key, everything else is replaced."""
    out = copy.deepcopy(dict(base))
    for k, v in override.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def settings_to_json(settings: Settings) -> dict[str, Any]:
    """camelCase JSON form, e.g. for documentation or the VS Code package.json generator."""

    def conv(v: Any) -> Any:
        if attrs.has(type(v)):
            return {to_camel(f.name): conv(getattr(v, f.name)) for f in attrs.fields(type(v))}
        if isinstance(v, list):
            return [conv(x) for x in v]
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        return v

    out: dict[str, Any] = conv(settings)
    return out


# Keys a workspace's own ``.prompt-tokens.toml`` may tighten but never loosen: a cloned
# repository is untrusted input (SPEC "Trust"), so it must not switch URL fetching back on in a
# Restricted-Mode editor, reach files outside the workspace, or unblock cloud-metadata networks.
_TIGHTEN_ONLY_BOOLS = (("http", "enabled"), ("references", "allowOutsideWorkspace"))


def merge_workspace(client: Mapping[str, Any], workspace: Mapping[str, Any]) -> dict[str, Any]:
    """Client (editor) settings overlaid by the workspace file, with trust-sensitive keys
    taken from whichever side is stricter and blocked networks united."""
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
