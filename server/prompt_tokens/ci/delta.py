"""What a change does to each prompt: ``old → new (+Δ, +%)``, and the ``--max-increase`` gate.

A budget says how big a prompt may be; a pull request reviewer also wants to know how much it
grew, because every token is paid on every call. Growth is judged per file: a limit in tokens
(``--max-increase 500``) also applies to a new file (it grew from nothing); a percentage
(``--max-increase 10%``) needs a base with tokens to be a percentage of, so a new or previously
empty file passes it. Shrinking, renaming and deleting never fail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from fractions import Fraction
from typing import Literal

import attrs

from prompt_tokens.errors import UsageError

DeltaKind = Literal["added", "deleted", "renamed", "modified", "unchanged"]
_TOKENS = re.compile(r"^\d[\d_,]*$")
_PERCENT = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)\s*%$")


@attrs.frozen
class MaxIncrease:
    """``--max-increase N`` (tokens) or ``--max-increase P%`` (of the base)."""

    raw: str
    tokens: int | None = None
    percent: Decimal | None = None

    def exceeded(self, old: int | None, new: int) -> bool:
        change = new - (old or 0)
        if self.tokens is not None:
            return change > self.tokens
        if self.percent is None or not old:
            return False
        return Fraction(change * 100) > Fraction(self.percent) * old


def parse_max_increase(raw: str) -> MaxIncrease:
    """Parse the flag's value; a bad one is a usage error (exit 2)."""
    text = raw.strip()
    if _TOKENS.match(text):
        return MaxIncrease(raw, tokens=int(text.replace("_", "").replace(",", "")))
    m = _PERCENT.match(text)
    if m:
        return MaxIncrease(raw, percent=Decimal(m.group(1)))
    raise UsageError(
        f"--max-increase must be a number of tokens (500) or a percentage (10%), not {raw!r}"
    )


@attrs.frozen
class FileDelta:
    """One file at the base and now. ``path`` is where it is now (for a deletion: where it was)."""

    path: str
    old_path: str | None  # at the base; None when the file is new
    old: int | None  # base total; None when new
    new: int | None  # total now; None when deleted
    exceeded: bool = False  # grew more than --max-increase allows

    @property
    def kind(self) -> DeltaKind:
        if self.old is None:
            return "added"
        if self.new is None:
            return "deleted"
        if self.old_path is not None and self.old_path != self.path:
            return "renamed"
        return "unchanged" if self.old == self.new else "modified"

    @property
    def change(self) -> int:
        return (self.new or 0) - (self.old or 0)

    @property
    def percent(self) -> float | None:
        """Change as a percentage of the base; None when the base had no tokens."""
        return 100 * self.change / self.old if self.old else None

    def describe(self) -> str:
        """``1,100 → 1,200 (+100, +9.1%)``; ``new → 1,200 (+1,200)``; ``1,100 → deleted (…)``."""
        old = "new" if self.old is None else f"{self.old:,}"
        new = "deleted" if self.new is None else f"{self.new:,}"
        parts = [signed(self.change)]
        if self.percent is not None:
            parts.append(signed_percent(self.percent))
        return f"{old} → {new} ({', '.join(parts)})"


def signed(n: int) -> str:
    return f"+{n:,}" if n >= 0 else f"-{-n:,}"


def signed_percent(p: float) -> str:
    text = f"{abs(p):.1f}".removesuffix(".0")
    return f"{'-' if p < 0 and text != '0' else '+'}{text}%"


def file_delta(
    path: str, new: int, old_path: str | None, old: int | None, limit: MaxIncrease | None
) -> FileDelta:
    """A file counted now; ``old_path``/``old`` are its base path and total (None: it is new)."""
    exceeded = limit.exceeded(old, new) if limit is not None else False
    return FileDelta(path, old_path if old is not None else None, old, new, exceeded)


def deleted_delta(old_path: str, old: int) -> FileDelta:
    """A file at the base that is gone now (never a failure)."""
    return FileDelta(old_path, old_path, old, None)


@attrs.frozen
class DeltaTotals:
    old: int
    new: int

    @property
    def change(self) -> int:
        return self.new - self.old

    @property
    def percent(self) -> float | None:
        return 100 * self.change / self.old if self.old else None

    def describe(self) -> str:
        parts = [signed(self.change)]
        if self.percent is not None:
            parts.append(signed_percent(self.percent))
        return f"{self.old:,} → {self.new:,} ({', '.join(parts)})"


def totals(deltas: Iterable[FileDelta]) -> DeltaTotals:
    """Base and current sums over every file, deleted and added ones included."""
    items = list(deltas)
    return DeltaTotals(sum(d.old or 0 for d in items), sum(d.new or 0 for d in items))
