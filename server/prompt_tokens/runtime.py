"""Wires the engine's parts (cache, job queue, reference resolver) for one workspace.

Both front ends build the same object, so the CLI and the language server can never count
differently.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prompt_tokens.cache.tiered import TieredCache
from prompt_tokens.engine import PromptEngine
from prompt_tokens.jobs.queue import JobQueue
from prompt_tokens.references.resolver import ReferenceResolver
from prompt_tokens.settings import Settings


class Runtime:
    def __init__(
        self,
        settings: Settings,
        roots: Sequence[Path] = (),
        *,
        cache: TieredCache | None = None,
        queue: JobQueue | None = None,
    ) -> None:
        self.settings = settings
        self.cache = cache or TieredCache(settings.cache.path, settings.cache.memory_entries)
        self._own_cache = cache is None
        self.queue = queue or JobQueue()
        self._own_queue = queue is None
        self.resolver = ReferenceResolver(settings, self.cache, roots=list(roots), queue=self.queue)
        self.engine = PromptEngine(settings, self.resolver)

    def stats(self) -> dict[str, Any]:
        return {"jobs": self.queue.snapshot(), "cache": self.cache.stats()}

    async def aclose(self) -> None:
        await self.resolver.aclose()
        if self._own_queue:
            await self.queue.shutdown()
        if self._own_cache:
            self.cache.close()
