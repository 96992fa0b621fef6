"""Two-tier cache of token counts, file fingerprints and HTTP validators (never content).

Use :class:`TieredCache`; the tiers behind it (:mod:`.memory`, :mod:`.store`) are details.
"""

from __future__ import annotations

from prompt_tokens.cache.memory import MemoryLRU
from prompt_tokens.cache.store import SCHEMA_VERSION, SqliteStore
from prompt_tokens.cache.tiered import CacheSource, HttpEntry, TieredCache

__all__ = [
    "SCHEMA_VERSION",
    "CacheSource",
    "HttpEntry",
    "MemoryLRU",
    "SqliteStore",
    "TieredCache",
]
