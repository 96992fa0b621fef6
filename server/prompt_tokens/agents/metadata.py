"""The front matter keys agents read from rules and skills, parsed the way real files are written.

Cursor rules routinely hold ``globs: **/*.ts, **/*.tsx`` — not valid YAML (``*`` starts an
alias) yet read fine by Cursor, whose docs call the format "not strictly YAML". So: YAML first;
when it fails (or is not a map), a line parser that takes ``key: value`` lines and ``- item``
lists under a key, with ``true``/``false`` as booleans. Nothing here raises on file content.
"""

from __future__ import annotations

import re
from typing import Any

import attrs
import yaml

from prompt_tokens.references.syntax import front_matter_bounds

_KEY_LINE = re.compile(r"^([A-Za-z_][\w-]*)\s*:\s*(.*?)\s*$")
_ITEM_LINE = re.compile(r"^\s+-\s*(.*?)\s*$|^-\s+(.*?)\s*$")


@attrs.frozen
class Header:
    """Front matter keys (``data``), where the body starts, and whether YAML parsing failed."""

    data: dict[str, Any] = attrs.field(factory=dict)
    body_start: int = 0
    lenient: bool = False  # parsed by the line parser because the YAML was invalid


def read_header(text: str) -> Header:
    bounds = front_matter_bounds(text)
    if bounds is None:
        return Header()
    source = text[bounds[0] : bounds[1]]
    try:
        data = yaml.safe_load(source) if source.strip() else {}
    except yaml.YAMLError:
        data = None
    if isinstance(data, dict):
        return Header({str(k): v for k, v in data.items()}, bounds[2])
    return Header(_lines(source), bounds[2], lenient=True)


def _scalar(raw: str) -> Any:
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _lines(source: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    key: str | None = None
    for line in source.splitlines():
        m = _KEY_LINE.match(line)
        if m:
            key = m.group(1)
            out[key] = _scalar(m.group(2)) if m.group(2) else None
            continue
        item = _ITEM_LINE.match(line)
        if item and key is not None:
            current = out.get(key)
            items = current if isinstance(current, list) else []
            items.append(_scalar(item.group(1) or item.group(2) or ""))
            out[key] = items
    return out


def as_globs(value: Any) -> tuple[str, ...]:
    """A glob list from a YAML list or a comma-separated string (both accepted by Cursor and by
    Claude Code's ``paths``); empty entries dropped."""
    if value is None or value is False:
        return ()
    items = value if isinstance(value, list) else _split_commas(str(value))
    return tuple(s for s in (str(i).strip().strip("\"'") for i in items if i is not None) if s)


def _split_commas(text: str) -> list[str]:
    """Split on commas outside ``{…}``: ``src/*.{ts,tsx}, web/**`` is two globs."""
    parts: list[str] = []
    depth = 0
    start = 0
    for i, ch in enumerate(text):
        if ch == "{":
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def as_text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def body_of(text: str, header: Header) -> str:
    return text[header.body_start :]
