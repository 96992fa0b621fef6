"""The incremental reference scanner of one document, read in its dialect.

``DialectScanner`` wraps ``references.blocks.BlockScanner``: the block scanner keeps finding
every reference its settings enable, incrementally (an edit rescans only the blocks it touches),
and this wrapper then applies the dialect's rules to those occurrences — over the occurrences,
not the text: kinds the dialect does not read are dropped, ``@`` tokens that cannot be
paths are dropped (``plausible.looks_like_path``; a token naming an existing file next to the
document is kept whatever it looks like), and template includes are added. The result equals
``references.dialect_references`` on the whole text (tested). Incrementally the rules are
applied per scan unit, before the block scanner moves a unit's occurrences to where the unit
is now, and a unit's answer is reused while the file-existence answers it rested on hold: in
a code-heavy prompt most ``@`` are decorators the dialect drops, and moving them on every
keystroke, then dropping them, was ~0.2 ms of a 0.7 ms scan per keystroke in the 2 MB
code-heavy benchmark prompt (``tests/unit/test_dialect_incremental`` holds it equal to the
whole-text scan while files come and go).

Includes (dotprompt ``{{>``, Jinja ``{% include``, Prompty ``${file:``) are looked for only in
the template dialects that read them: a scan joins the blocks into the text (a C-speed copy; an
include may be written across a block boundary) and searches it with the include patterns
(``includes.may_include``); only a text with a match is scanned for includes in full. Every
other dialect never joins. Measured in ``benchmarks/bench_dialects.py``.

The file-existence check (``exists``) answers per scanner, memoised: a scanner is built for one
count, so a file created meanwhile is seen by the next count.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Sequence

import attrs

from prompt_tokens.agents.dialects import Dialect, DialectRules, rules_for
from prompt_tokens.agents.includes import may_include, scan_includes
from prompt_tokens.agents.plausible import Exists, looks_like_path
from prompt_tokens.agents.stream_includes import IncludeStream
from prompt_tokens.references.blocks import BlockScanner, ScanBlock, UnitRecord
from prompt_tokens.references.stream_scan import CHUNK, stream_scan
from prompt_tokens.references.window import Options
from prompt_tokens.results import Occurrence

_shaped_like_path = functools.lru_cache(maxsize=1 << 16)(looks_like_path)
"""``looks_like_path(token)`` remembered: a pure function of the token, asked for every ``@``
occurrence of a document on every keystroke."""


def keeps(occ: Occurrence, rules: DialectRules, exists: Exists | None) -> bool:
    """Whether ``rules``' dialect reads ``occ`` as a reference (see the module docstring)."""
    if _asks_the_disk(occ, rules):
        return exists is not None and _names_a_file(occ, exists)
    if occ.syntax == "at":
        if rules.at != "file":
            return False  # a chat participant, or plain text to a template engine
        if occ.kind == "url":
            return rules.urls
        return True  # shaped like a path: a missing one must warn
    if occ.syntax == "file":
        return rules.hash_file
    if occ.syntax == "fetch":
        return rules.urls
    if occ.syntax in ("mustache", "input"):
        return occ.syntax in rules.variables
    return True  # Markdown links: already decided by the scanner's ``markdown_links``


def _asks_the_disk(occ: Occurrence, rules: DialectRules) -> bool:
    """Whether :func:`keeps` of ``occ`` depends on a file existing: an ``@token`` not shaped
    like a path, in a dialect that reads ``@`` as a file."""
    return (
        occ.syntax == "at"
        and rules.at == "file"
        and occ.kind != "url"
        and not _shaped_like_path(occ.target)
    )


def _names_a_file(occ: Occurrence, exists: Exists) -> bool:
    return exists(occ.target) or (occ.untrimmed is not None and exists(occ.untrimmed))


def file_exists_near(path: str | None) -> Exists | None:
    """``exists(token)`` for a document at ``path``: a file at ``token`` relative to the
    document's folder (``~`` expanded, absolute paths as they are) — where the resolver will
    look. None for a document without a folder (standard input)."""
    if not path or path == "-":
        return None
    folder = os.path.dirname(os.path.abspath(path))
    memo: dict[str, bool] = {}

    def exists(token: str) -> bool:
        hit = memo.get(token)
        if hit is None:
            full = os.path.join(folder, os.path.expanduser(token))
            hit = memo[token] = os.path.isfile(full)
        return hit

    return exists


@attrs.frozen
class DialectScanner:
    """``BlockScanner`` plus one dialect's rules; a plain and an incremental scanner."""

    blocks: BlockScanner
    dialect: Dialect
    exists: Exists | None = attrs.field(default=None, eq=False, repr=False)

    @property
    def rules(self) -> DialectRules:
        return rules_for(self.dialect)

    @property
    def key(self) -> tuple[object, ...]:
        return (self.dialect, *self.blocks.key)

    def __call__(self, text: str) -> list[Occurrence]:
        """Every reference ``text`` holds in this dialect, in document order."""
        found = self._filter(self.blocks(text))
        if self._wants_includes(text):
            found = _merge(found, scan_includes(text, self.dialect))
        return found

    def scan_pieces(self, pieces: Iterable[str], *, chunk: int = CHUNK) -> list[Occurrence]:
        """``self("".join(pieces))`` for a text that arrives in pieces cut anywhere, holding
        only a window of it (``references.stream_scan``; includes: ``stream_includes``)."""
        rules, exists = self.rules, self.exists
        wants = bool(rules.includes) and "file" in self.blocks.kinds
        includes = IncludeStream(self.dialect, chunk) if wants else None
        options = Options.of(self.blocks.kinds, self.blocks.markdown_links)
        found: list[Occurrence] = []
        for part in stream_scan(pieces, options, chunk=chunk):
            found.extend(o for o in part.found if keeps(o, rules, exists))
            if includes is not None:
                includes.feed(part)
        return found if includes is None else _merge(found, includes.finish())

    def scan_blocks(
        self,
        blocks: Sequence[ScanBlock],
        units: list[object],
        starts: Sequence[int],
        lines: Sequence[int],
        fm_end: int,
        meta: object,
    ) -> tuple[list[Occurrence], object]:
        """``BlockScanner.scan_blocks``, read in this dialect (equal to ``self(whole text)``):
        each unit's occurrences are read before they are moved (:meth:`_kept`)."""
        found, meta = self.blocks.scan_blocks(
            blocks, units, starts, lines, fm_end, meta, keep=self._kept
        )
        if self.rules.includes and "file" in self.blocks.kinds:
            text = "".join(b.text for b in blocks)
            if self._wants_includes(text):
                found = _merge(found, scan_includes(text, self.dialect))
        return found, meta

    def _kept(self, rec: UnitRecord) -> list[Occurrence]:
        """What this dialect reads of the unit's occurrences: the same list as last time
        when the dialect is and every file-existence answer it rested on is the same
        (asked again of this scanner's ``exists``), so ``collect`` reuses what it moved and
        never moves an ``@decorator`` the dialect drops."""
        rules, exists = self.rules, self.exists
        key = (self.dialect, exists is None)
        last = rec.kept
        if last is not None and last[0] == key:
            asked = last[2]
            if exists is None or all(_names_a_file(o, exists) == was for o, was in asked):
                return last[1]
        kept: list[Occurrence] = []
        answers: list[tuple[Occurrence, bool]] = []
        for o in rec.found:
            if not _asks_the_disk(o, rules):
                if keeps(o, rules, None):
                    kept.append(o)
            elif exists is not None:
                named = _names_a_file(o, exists)
                answers.append((o, named))
                if named:
                    kept.append(o)
        rec.kept = (key, kept, tuple(answers))
        return kept

    def _filter(self, occ: list[Occurrence]) -> list[Occurrence]:
        rules, exists = self.rules, self.exists
        return [o for o in occ if keeps(o, rules, exists)]

    def _wants_includes(self, text: str) -> bool:
        return "file" in self.blocks.kinds and may_include(text, self.dialect)


def _merge(found: list[Occurrence], includes: list[Occurrence]) -> list[Occurrence]:
    if not includes:
        return found
    out = found + includes
    out.sort(key=lambda o: o.span.offset)
    return out
