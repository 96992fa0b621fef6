"""Two-tier cache of token counts, file fingerprints and HTTP validators (never content).

Use :class:`TieredCache`; the tiers behind it (:mod:`.memory`, :mod:`.store`) are details.
The parts: ``memory`` (bounded LRU), ``schema`` (tables and versions), ``failures`` (busy vs
broken), ``rows`` (batches, idempotent writes, batched reads), ``store`` (the SQLite file),
``entries`` (memory values, HTTP entries, pending writes), ``writer`` (the background commit
thread), ``tiered`` (the API).
"""

from __future__ import annotations

from prompt_tokens.cache.entries import HttpEntry
from prompt_tokens.cache.memory import MemoryLRU
from prompt_tokens.cache.schema import SCHEMA_VERSION
from prompt_tokens.cache.store import SqliteStore
from prompt_tokens.cache.tiered import CacheSource, TieredCache

__all__ = [
    "SCHEMA_VERSION",
    "CacheSource",
    "HttpEntry",
    "MemoryLRU",
    "SqliteStore",
    "TieredCache",
]
