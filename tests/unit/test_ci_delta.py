"""``old → new (+Δ, +%)`` and ``--max-increase N|P%``."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prompt_tokens.ci.delta import (
    FileDelta,
    deleted_delta,
    file_delta,
    parse_max_increase,
    signed_percent,
    totals,
)
from prompt_tokens.errors import UsageError


@pytest.mark.parametrize(
    ("raw", "tokens", "percent"),
    [("500", 500, None), ("1,000", 1000, None), ("2_000", 2000, None), ("0", 0, None),
     ("10%", None, Decimal(10)), ("2.5 %", None, Decimal("2.5")), (" 0% ", None, Decimal(0))],
)  # fmt: skip
def test_parse(raw: str, tokens: int | None, percent: Decimal | None) -> None:
    limit = parse_max_increase(raw)
    assert (limit.tokens, limit.percent, limit.raw) == (tokens, percent, raw)


@pytest.mark.parametrize("raw", ["", "-5", "ten", "5%%", "%", "1e3", "5 tokens"])
def test_bad_values_are_usage_errors(raw: str) -> None:
    with pytest.raises(
        UsageError, match=r"--max-increase must be a number of tokens \(500\) or a percentage"
    ):
        parse_max_increase(raw)


def test_token_limit() -> None:
    limit = parse_max_increase("100")
    assert not file_delta("a.md", 1100, "a.md", 1000, limit).exceeded
    assert file_delta("a.md", 1101, "a.md", 1000, limit).exceeded
    assert file_delta("new.md", 101, None, None, limit).exceeded  # grew from nothing
    assert not file_delta("new.md", 100, None, None, limit).exceeded
    assert not file_delta("a.md", 10, "a.md", 5000, limit).exceeded  # shrinking never fails


def test_percent_limit() -> None:
    limit = parse_max_increase("10%")
    assert not file_delta("a.md", 1100, "a.md", 1000, limit).exceeded  # exactly 10%
    assert file_delta("a.md", 1101, "a.md", 1000, limit).exceeded
    assert not file_delta("new.md", 10**6, None, None, limit).exceeded  # no base to compare
    assert not file_delta("empty.md", 50, "empty.md", 0, limit).exceeded
    assert file_delta("a.md", 1, "a.md", 0, parse_max_increase("0")).exceeded


def test_kinds_and_descriptions() -> None:
    modified = file_delta("a.md", 1200, "a.md", 1100, None)
    assert (modified.kind, modified.change) == ("modified", 100)
    assert modified.describe() == "1,100 → 1,200 (+100, +9.1%)"
    renamed = file_delta("b.md", 900, "old/b.md", 1000, None)
    assert (renamed.kind, renamed.describe()) == ("renamed", "1,000 → 900 (-100, -10%)")
    added = file_delta("n.md", 1234, "ignored.md", None, None)
    assert (added.kind, added.old_path, added.describe()) == ("added", None, "new → 1,234 (+1,234)")
    same = file_delta("s.md", 7, "s.md", 7, None)
    assert (same.kind, same.describe()) == ("unchanged", "7 → 7 (+0, +0%)")
    gone = deleted_delta("g.md", 300)
    assert (gone.kind, gone.exceeded, gone.describe()) == (
        "deleted",
        False,
        "300 → deleted (-300, -100%)",
    )
    t = totals([modified, renamed, added, same, gone])
    assert (t.old, t.new, t.change) == (2407, 3341, 934)
    assert t.describe() == "2,407 → 3,341 (+934, +38.8%)"


def test_signed_percent_rounding() -> None:
    assert signed_percent(12.25) == "+12.2%"  # one decimal, as printed
    assert signed_percent(-0.04) == "+0%"  # no "-0%"
    assert signed_percent(-33.333) == "-33.3%"
    assert signed_percent(100.0) == "+100%"


@given(old=st.integers(1, 10**7), new=st.integers(0, 10**7), pct=st.integers(0, 500))
def test_percent_limit_is_exact(old: int, new: int, pct: int) -> None:
    d: FileDelta = file_delta("f", new, "f", old, parse_max_increase(f"{pct}%"))
    assert d.exceeded == ((new - old) * 100 > pct * old)
