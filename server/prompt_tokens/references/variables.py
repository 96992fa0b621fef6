"""Variable values: text conversion, value hashes, references in values, change detection.

Sources, highest priority first (SPEC "Variables"): the document's front matter (``variables:``,
then Prompty ``sample:``, then dotprompt ``input.default``; see ``frontmatter``), the workspace
file ``.prompt-tokens.toml`` ``[variables]``, the ``variables`` setting; the engine passes the
merged map to the resolver.

A value is text. A value that is exactly one reference (``@docs/a.md``, ``#file:x``,
``@https://…``, ``#fetch:https://…``, surrounding whitespace ignored) is resolved as that
reference, relative to the document's folder, and its content is counted at each occurrence
(substitution semantics).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

_FILE_VALUE = re.compile(r"^(?:@|#file:)(\S+)$")
_URL_VALUE = re.compile(r"^(?:@|#fetch:)(https?://\S+)$", re.IGNORECASE)


def value_to_text(value: Any) -> str:
    """A front-matter/settings value as the text a template would substitute.

    Strings as written; numbers and booleans as JSON (``3``, ``1.5``, ``true``); null as the
    empty string; dates in ISO form; lists and maps as compact JSON (non-ASCII kept).
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, (datetime.date, datetime.datetime, datetime.time)):
        return value.isoformat()
    try:
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    except (TypeError, ValueError):
        return str(value)


def value_hash(value: str) -> str:
    """sha256 of a value's UTF-8 text: what change detection compares."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def reference_in_value(value: str) -> tuple[str, str] | None:
    """``("url", url)`` or ``("file", path)`` when the whole value is one reference, else None."""
    v = value.strip()
    m = _URL_VALUE.match(v)
    if m:
        return "url", m.group(1)
    m = _FILE_VALUE.match(v)
    if m and (v.startswith("#file:") or "/" in m.group(1) or "." in m.group(1)):
        return "file", m.group(1)
    return None


def changed_variables(old: Mapping[str, str], new: Mapping[str, str]) -> set[str]:
    """Names added, removed or whose value changed (compared by value hash)."""
    names = set(old) | set(new)
    return {
        n
        for n in names
        if (n in old) != (n in new) or (n in old and value_hash(old[n]) != value_hash(new[n]))
    }
