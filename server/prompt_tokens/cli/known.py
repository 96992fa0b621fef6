"""The CLI's side of ``known_results``: which files of a run are already counted, and keeping
the results of the others for next time.

Opened once per run, before the engine: when every file is known, the engine (and tiktoken)
is never loaded. Each root's cache file is opened here as a plain store; the engine opens its
own connection to the same file when it runs (SQLite in WAL mode shares it safely).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from prompt_tokens.cache.store import SqliteStore
from prompt_tokens.known_results import Stat, lookup, result_key, rows_for, settings_digest, stat_of

if TYPE_CHECKING:
    from prompt_tokens.cli.count import Counted, CountRun


class KnownRun:
    """One run's view of the kept results: a store per cache file, the settings digest per
    root, and each file's stat taken before it was counted (what a new row is checked by)."""

    def __init__(self, run: CountRun, *, references: bool, enabled: bool = True) -> None:
        self._stores: dict[str, SqliteStore] = {}  # by cache path
        self._store_of: dict[str, SqliteStore] = {}  # by root
        self._digest: dict[str, str] = {}
        self._before: dict[str, tuple[str, Stat]] = {}  # label -> (key, stat before counting)
        self.figures: dict[str, int] = {"known": 0, "counted": 0, "stored": 0, "workers": 1}
        if not enabled:
            return
        for root, config in run.roots.items():
            path = config.settings.cache.path
            if path is None:
                continue
            store = self._stores.get(path)
            if store is None:
                store = self._stores[path] = SqliteStore(path)
            self._store_of[root] = store
            self._digest[root] = settings_digest(config.settings, references=references)

    def close(self) -> None:
        for store in self._stores.values():
            store.close()

    def take(self, items: list[Counted]) -> list[Counted]:
        """Fill in the results still valid; returns the items left to count."""
        wanted: dict[str, dict[str, tuple[str, Stat]]] = {}
        for item in items:
            if item.path == "-" or item.root not in self._store_of:
                continue
            key = result_key(self._digest[item.root], item.path)
            doc_stat = item.seen if item.seen is not None else stat_of(item.path)
            self._before[item.label] = (key, doc_stat)
            wanted.setdefault(item.root, {})[key] = (item.path, doc_stat)
        found: dict[str, Any] = {}
        for root, keys in wanted.items():
            found.update(lookup(self._store_of[root], keys))
        todo = []
        for item in items:
            key = self._before.get(item.label, ("", None))[0]
            result = found.get(key)
            if result is None:
                todo.append(item)
                continue
            result.path = item.label
            item.result = result
        self.figures["known"] = len(items) - len(todo)
        self.figures["counted"] = len(todo)
        return todo

    def remember(
        self, counted: list[Counted], deps_of: Callable[[Counted], list[str] | None]
    ) -> None:
        """Keep the results just made, each with the files it rests on (``deps_of``: None
        when it rests on something else too)."""
        by_root: dict[str, list[Any]] = {}
        for item in counted:
            if item.result is None or item.label not in self._before:
                continue
            key, doc_stat = self._before[item.label]
            deps = deps_of(item)
            by_root.setdefault(item.root, []).append((key, item.path, doc_stat, item.result, deps))
        for root, rows in by_root.items():
            made = rows_for(rows)
            if self._store_of[root].put_results(made):
                self.figures["stored"] += len(made)
