"""One resolution of one document: its references in document order, counted and checked.

The order matters: the first reference to a file or URL counts it, later ones (top-level or
nested) are duplicates; a file already on the chain of referencing files is a cycle; a
failure inside a referenced file is also reported on the reference the user wrote. The work
itself was started ahead (:mod:`.leaves`), so this mostly awaits finished futures.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence

from prompt_tokens.errors import PromptTokensError
from prompt_tokens.references.files import FileInfo
from prompt_tokens.references.graph import url_key, var_key
from prompt_tokens.references.leaves import Leaves
from prompt_tokens.references.outcome import (
    extend,
    fail,
    fill_file,
    fill_url,
    raw_text,
    short_path,
    unexpected,
    warn,
)
from prompt_tokens.references.variables import reference_in_value, value_hash
from prompt_tokens.results import Occurrence, ReferenceResult, Span


class Walk:
    """Assembles the results; ``targets`` and ``var_values`` feed the dependency graph.
    ``count_value`` counts a variable's text in the document's encoding."""

    def __init__(
        self,
        leaves: Leaves,
        *,
        enabled: set[str],
        doc_real: str | None,
        base_dir: str,
        variables: Mapping[str, str],
        count_value: Callable[[str], int],
    ) -> None:
        self.leaves = leaves
        self.enabled = enabled
        self.max_depth = leaves.max_depth
        self.doc_real = doc_real
        self.base_dir = base_dir
        self.variables = variables
        self.count_value = count_value
        self.seen: set[str] = set()
        self.nested: list[ReferenceResult] = []
        self.nested_errors: list[ReferenceResult] = []
        self.targets: set[str] = set()
        self.var_values: dict[str, str | None] = {}

    async def run(self, occurrences: Sequence[Occurrence]) -> list[ReferenceResult]:
        await self.leaves.start(
            occurrences,
            enabled=self.enabled,
            base_dir=self.base_dir,
            doc_real=self.doc_real,
            variables=self.variables,
        )
        out: list[ReferenceResult] = []
        root_stack: tuple[str, ...] = (self.doc_real,) if self.doc_real else ()
        for occ in occurrences:
            self.nested_errors = []
            res = await self._one(occ, root_stack)
            if self.nested_errors:
                first = self.nested_errors[0]
                n = len(self.nested_errors)
                what = "1 nested reference" if n == 1 else f"{n} nested references"
                warn(res, f"{what} failed: {first.error}", first.code or "reference-not-found")
            out.append(res)
        return out + self.nested

    async def _one(self, occ: Occurrence, stack: tuple[str, ...]) -> ReferenceResult:
        raw = raw_text(occ)
        if occ.kind not in self.enabled:
            res = ReferenceResult(kind=occ.kind, target=occ.target, raw=raw, span=occ.span)
            res.warning = f"{occ.kind} references are turned off (references.enabled)"
            return res
        if occ.kind == "file":
            return await self._file(
                occ.target, occ.untrimmed, self.base_dir, 0, None, occ.span, stack, raw
            )
        if occ.kind == "url":
            return await self._url(occ.target, occ.span, raw)
        if occ.kind == "variable":
            return await self._variable(occ, stack, raw)
        res = ReferenceResult(kind=occ.kind, target=occ.target, raw=raw, span=occ.span)
        return fail(
            res,
            PromptTokensError(f"Unknown reference kind '{occ.kind}'", code="reference-not-found"),
        )

    def _cycle_error(self, stack: tuple[str, ...], real: str) -> PromptTokensError:
        chain = [*stack[stack.index(real) :], real]
        described = " → ".join(short_path(p, self.base_dir) for p in chain)
        return PromptTokensError(
            f"Reference cycle: {described}; not followed", code="reference-cycle"
        )

    async def _counted_file(
        self, res: ReferenceResult, real: str, raw: str, depth: int
    ) -> FileInfo | PromptTokensError:
        """The file's figures in ``res``, or the error to report (never raises)."""
        try:
            info = await self.leaves.file_info(real, raw, depth)
        except PromptTokensError as exc:
            return exc
        except Exception as exc:
            return unexpected(exc, real, "reference-not-found")
        fill_file(res, info, raw)
        return info

    async def _file(
        self,
        target: str,
        untrimmed: str | None,
        base_dir: str,
        depth: int,
        via: str | None,
        span: Span | None,
        stack: tuple[str, ...],
        raw: str,
    ) -> ReferenceResult:
        loc = self.leaves.locate(target, untrimmed, base_dir)
        res = ReferenceResult(
            kind="file",
            target=loc.real,
            raw=raw,
            span=extend(span, loc.extra),
            depth=depth,
            via=via,
        )
        if depth > 0:
            self.nested.append(res)  # pre-order: the parent before its children
        self.targets.add("file:" + loc.real)
        if loc.error is not None:
            return self._failed(res, loc.error)
        if loc.real in stack:
            return self._failed(res, self._cycle_error(stack, loc.real))
        info = await self._counted_file(res, loc.real, loc.raw, depth)
        if isinstance(info, PromptTokensError):
            return self._failed(res, info)
        if loc.real in self.seen:
            res.duplicate = True
            res.tokens = 0
            return res
        self.seen.add(loc.real)
        res.tokens = info.tokens
        await self._children(res, info, depth, (*stack, loc.real))
        return res

    async def _children(
        self, res: ReferenceResult, info: FileInfo, depth: int, stack: tuple[str, ...]
    ) -> None:
        if not info.nested:
            return
        if depth >= self.max_depth:
            n = len(info.nested)
            if self.max_depth > 0:
                warn(
                    res,
                    f"{n} reference{'s' if n != 1 else ''} inside {os.path.basename(info.path)} not followed: "
                    f"references.maxDepth ({self.max_depth}) reached",
                    "reference-depth",
                )
            return
        base = os.path.dirname(info.path)
        for occ in info.nested:
            await self._file(
                occ.target, occ.untrimmed, base, depth + 1, info.path, None, stack, raw_text(occ)
            )

    def _failed(self, res: ReferenceResult, exc: PromptTokensError) -> ReferenceResult:
        fail(res, exc)
        if res.depth > 0:
            self.nested_errors.append(res)
        return res

    async def _url(self, url: str, span: Span | None, raw: str) -> ReferenceResult:
        res = ReferenceResult(kind="url", target=url, raw=raw, span=span)
        self.targets.add(url_key(url))
        if not await self._fetch_into(res, url):
            return res
        if url_key(url) in self.seen:
            res.duplicate = True
            res.tokens = 0
            return res
        self.seen.add(url_key(url))
        return res

    async def _fetch_into(self, res: ReferenceResult, url: str) -> bool:
        """Fetch ``url`` and fill ``res`` with its figures, or with the error; True if fetched."""
        try:
            info = await self.leaves.url_info(url)
        except PromptTokensError as exc:
            fail(res, exc)
            return False
        except Exception as exc:
            fail(res, unexpected(exc, url, "reference-fetch-failed"))
            return False
        fill_url(res, info)
        return True

    async def _variable(self, occ: Occurrence, stack: tuple[str, ...], raw: str) -> ReferenceResult:
        name = occ.target
        res = ReferenceResult(kind="variable", target=name, raw=raw, span=occ.span)
        self.targets.add(var_key(name))
        value = self.variables.get(name)
        self.var_values[name] = value_hash(value) if value is not None else None
        if value is None:
            return fail(
                res,
                PromptTokensError(f"Variable '{name}' is not defined", code="variable-undefined"),
            )
        ref = reference_in_value(value)
        if ref is None or ref[0] not in self.enabled:
            res.tokens = res.own_tokens = self.count_value(value)
            res.bytes = len(value.encode("utf-8", "surrogatepass"))
            return res
        kind, target = ref
        if kind == "url":
            self.targets.add(url_key(target))
            await self._fetch_into(res, target)
            return res
        loc = self.leaves.locate(target, None, self.base_dir)
        self.targets.add("file:" + loc.real)
        if loc.error is not None:
            return fail(res, loc.error)
        if loc.real in stack:
            return fail(res, self._cycle_error(stack, loc.real))
        info = await self._counted_file(res, loc.real, loc.raw, 0)
        if isinstance(info, PromptTokensError):
            return fail(res, info)
        res.tokens = info.tokens
        await self._children(res, info, 0, (*stack, loc.real))
        return res
