"""Document → targets, with a reverse index: who must be recounted when something changes.

Keys: documents are absolute paths as the front end knows them (``doc_key``); targets are
``file:/real/path`` (after realpath, so a change reported under a symlinked name still finds its
dependents when looked up through ``file_key``), ``url:https://…`` and ``var:name``. A
document depends on every file it reaches (nested ones included, and missing ones, so creating
the file recounts it), every URL and every variable it uses (defined or not).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from prompt_tokens.references.variables import changed_variables, value_hash


def doc_key(path: str | os.PathLike[str]) -> str:
    return os.path.abspath(os.fspath(path))


def file_key(path: str | os.PathLike[str]) -> str:
    return "file:" + os.path.realpath(os.fspath(path))


def url_key(url: str) -> str:
    return "url:" + url


def var_key(name: str) -> str:
    return "var:" + name


class DependencyGraph:
    def __init__(self) -> None:
        self._targets: dict[str, set[str]] = {}
        self._dependents: dict[str, set[str]] = {}
        # doc → variable name → hash of the value it was counted with (None: undefined).
        self._values: dict[str, dict[str, str | None]] = {}

    def set_variable_values(self, doc: str, values: Mapping[str, str | None]) -> None:
        """Record the value hashes ``doc`` was last counted with (see ``documents_to_recount``)."""
        if values:
            self._values[doc] = dict(values)
        else:
            self._values.pop(doc, None)

    def set_dependencies(self, doc: str, targets: Iterable[str]) -> None:
        new = set(targets)
        old = self._targets.get(doc, set())
        for t in old - new:
            deps = self._dependents.get(t)
            if deps is not None:
                deps.discard(doc)
                if not deps:
                    del self._dependents[t]
        for t in new - old:
            self._dependents.setdefault(t, set()).add(doc)
        if new:
            self._targets[doc] = new
        else:
            self._targets.pop(doc, None)

    def remove(self, doc: str) -> None:
        self.set_dependencies(doc, ())
        self._values.pop(doc, None)

    def dependents(self, target: str) -> set[str]:
        return set(self._dependents.get(target, ()))

    def dependents_of(self, targets: Iterable[str]) -> set[str]:
        out: set[str] = set()
        for t in targets:
            out |= self._dependents.get(t, set())
        return out

    def targets(self, doc: str) -> set[str]:
        return set(self._targets.get(doc, ()))

    def documents(self) -> set[str]:
        return set(self._targets)

    def documents_to_recount(self, old: Mapping[str, str], new: Mapping[str, str]) -> set[str]:
        """Documents to recount when a shared variable map (settings or ``.prompt-tokens.toml``)
        changes from ``old`` to ``new``: those that use a changed name, except those that were
        counted with a different value than ``old`` gave them (their front matter shadows it)."""
        out: set[str] = set()
        for name in changed_variables(old, new):
            old_hash = value_hash(old[name]) if name in old else None
            for doc in self._dependents.get(var_key(name), ()):
                used = self._values.get(doc, {})
                if name not in used or used[name] == old_hash:
                    out.add(doc)
        return out

    def __len__(self) -> int:
        return len(self._targets)
