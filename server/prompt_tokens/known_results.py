"""Whole-document results a CLI run can reuse: one row per file, valid while its files are.

A warm ``count``/``check`` over a repository should cost a folder walk, one ``stat`` per file
and a few batched queries, not a re-read of every prompt. So each document's last result is
kept under a key naming everything that decides it other than files: the product version, the
model table, the root's settings and the ``--no-references`` flag, and the document's path.
Next to it go the fingerprints (size, mtime_ns, inode) of the document and of every file its
count read or looked for (references, nested ones, missing ones; a skill's folder). The result
is reused only when every one of those still matches, so it is never stale; a result that
read a URL is not kept (a URL can change without a trace on disk).

What is stored is the result as the CLI shows it: counts, spans, reference targets and
diagnostic messages. Never document text.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import cattrs

from prompt_tokens import __version__
from prompt_tokens.cache.rows import ResultRow
from prompt_tokens.cache.store import SqliteStore
from prompt_tokens.results import DocumentResult
from prompt_tokens.settings import Settings, settings_to_json

RESULTS_VERSION = 1
"""Bumped whenever what a result holds, or how a document is counted, changes."""
MAX_DEPENDENCIES = 2_000
"""A result resting on more files than this is not kept (checking it would cost a walk)."""

Stat = tuple[int, int, int] | None
"""``(size, mtime_ns, inode)`` of a path, None when there is nothing there."""

_CONVERTER = cattrs.Converter(detailed_validation=False)  # rows are ours: speed over messages
_CONVERTER.register_unstructure_hook(Fraction, lambda f: [f.numerator, f.denominator])
_CONVERTER.register_structure_hook(Fraction, lambda v, _t: Fraction(int(v[0]), int(v[1])))


def _model_table() -> bytes:
    return (Path(__file__).parent / "data" / "models.toml").read_bytes()


def settings_digest(settings: Settings, *, references: bool) -> str:
    """What a root's results depend on besides files: version, model table, settings, flag."""
    blob = json.dumps(
        [RESULTS_VERSION, __version__, settings_to_json(settings), references],
        sort_keys=True,
        default=str,
    ).encode("utf-8")
    return hashlib.sha256(blob + hashlib.sha256(_model_table()).digest()).hexdigest()


def result_key(digest: str, path: str) -> str:
    return hashlib.sha256(f"{digest}\0{path}".encode("utf-8", "surrogatepass")).hexdigest()


def stat_of(path: str) -> Stat:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _still(fingerprint: Any, doc_stat: Stat) -> bool:
    """The stored fingerprints match the files now (the document's was taken by the caller)."""
    if not isinstance(fingerprint, dict) or doc_stat is None:
        return False
    if fingerprint.get("doc") != list(doc_stat):
        return False
    for path, was in fingerprint.get("deps", ()):
        now = stat_of(path)
        if (list(now) if now is not None else None) != was:
            return False
    return True


def lookup(store: SqliteStore, wanted: Mapping[str, tuple[str, Stat]]) -> dict[str, DocumentResult]:
    """The still-valid results among ``wanted`` (key → (path, its stat now)), by key."""
    out: dict[str, DocumentResult] = {}
    for key, fp_json, result_json in store.get_results(list(wanted)):
        try:
            if not _still(json.loads(fp_json), wanted[key][1]):
                continue
            out[key] = _CONVERTER.structure(json.loads(result_json), DocumentResult)
        except (ValueError, TypeError, KeyError, cattrs.BaseValidationError):
            continue  # a row this version cannot read: counted again, then replaced
    return out


def skill_files(skill_md: str) -> list[str]:
    """Every folder and file under a skill's folder: its resources are whatever lives there."""
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(os.path.dirname(skill_md), followlinks=True):
        out.append(dirpath)
        out.extend(os.path.join(dirpath, name) for name in filenames)
        if len(out) > MAX_DEPENDENCIES:
            break
        dirnames.sort()
    return out


def make_row(
    key: str, path: str, doc_stat: Stat, result: DocumentResult, deps: Iterable[str] | None
) -> ResultRow | None:
    """The row that keeps ``result``; None when it cannot be trusted later (``deps`` None:
    the count used something that is not a file)."""
    if deps is None or doc_stat is None:
        return None
    paths = sorted(set(deps))
    if result.agent is not None:
        paths = sorted({*paths, *skill_files(path)})
    if len(paths) > MAX_DEPENDENCIES:
        return None
    stats = [[p, list(s) if (s := stat_of(p)) is not None else None] for p in paths]
    fingerprint = json.dumps({"doc": list(doc_stat), "deps": stats}, separators=(",", ":"))
    data = _CONVERTER.unstructure(result)
    data["path"] = ""  # the caller names it (the label the command line used)
    return key, fingerprint, json.dumps(data, separators=(",", ":"), default=str)


def rows_for(
    items: Sequence[tuple[str, str, Stat, DocumentResult, Iterable[str] | None]],
) -> list[ResultRow]:
    """Rows for ``(key, path, stat before counting, result, deps)`` of the documents counted."""
    return [row for item in items if (row := make_row(*item)) is not None]
