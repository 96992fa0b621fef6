"""Two-tier cache of token counts, file fingerprints and HTTP validators (never content).

Use :class:`TieredCache`; the tiers behind it (:mod:`.memory`, :mod:`.store`) are details.
The parts: ``memory`` (bounded LRU), ``schema`` (tables and versions), ``failures`` (busy vs
broken), ``rows`` (batches, idempotent writes, batched reads), ``store`` (the SQLite file),
``entries`` (memory values, HTTP entries, pending writes), ``writer`` (the background commit
thread), ``tiered`` (the API).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prompt_tokens.cache.entries import HttpEntry
    from prompt_tokens.cache.memory import MemoryLRU
    from prompt_tokens.cache.schema import SCHEMA_VERSION
    from prompt_tokens.cache.store import SqliteStore
    from prompt_tokens.cache.tiered import CacheSource, TieredCache

_WHERE = {
    "HttpEntry": "entries",
    "MemoryLRU": "memory",
    "SCHEMA_VERSION": "schema",
    "SqliteStore": "store",
    "CacheSource": "tiered",
    "TieredCache": "tiered",
}
"""Each name's module, imported on first use: a warm CLI run reads the SQLite store alone,
and importing the package for it no longer loads the memory tier, the writer thread and
the tiered API (~5 ms)."""


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "SCHEMA_VERSION",
    "CacheSource",
    "HttpEntry",
    "MemoryLRU",
    "SqliteStore",
    "TieredCache",
]
