"""``[[budgets]]``: parsing (one message per bad table), glob matching, per-file and total verdicts."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prompt_tokens.ci.budgets import BudgetTable, FileCount, evaluate, parse_budgets

PRICES = {"gpt-4o": 2.5, "gpt-4o-mini": 0.15, "free-model": 0.0}.get

CONFIG = """
budget = 8192

[[budgets]]
glob = "prompts/system.md"
max = 1000
warning = 0.5

[[budgets]]
glob = "prompts/**"
max = "$0.01"
model = "gpt-4o"

[[budgets]]
glob = ".github/instructions/**"
total = 300

[[budgets]]
glob = ["docs/**", "!docs/drafts/**"]
max = 200
"""


def table() -> BudgetTable:
    parsed, problems = parse_budgets(tomllib.loads(CONFIG))
    assert problems == []
    return parsed


def test_first_matching_table_wins_per_kind() -> None:
    t = table()
    assert [b.index for b in t.budgets] == [1, 2, 3, 4]
    system = t.for_file("prompts/system.md")
    assert system is not None and system.index == 1 and system.tokens == 1000
    other = t.for_file("prompts/deep/other.md")
    assert other is not None and other.index == 2 and other.usd == Decimal("0.01")
    assert t.for_file(".github/instructions/a.md") is None  # only a total applies there
    agg = t.aggregate_for(".github/instructions/a/b.instructions.md")
    assert agg is not None and agg.index == 3
    assert t.for_file("docs/guide.md") is not None
    assert t.for_file("docs/drafts/wip.md") is None  # negated inside the same table
    assert t.for_file("elsewhere/prompts/x.md") is None  # 'prompts/**' is anchored at the root
    assert t.for_file("../prompts/x.md") is None  # outside the workspace never matches
    assert t.model_for("prompts/deep/other.md") == "gpt-4o"
    assert t.model_for("docs/guide.md") is None


def test_unanchored_glob_matches_at_any_depth() -> None:
    t, _ = parse_budgets({"budgets": [{"glob": "*.prompt.md", "max": 10}]})
    assert t.for_file("a/b/review.prompt.md") is not None
    assert t.for_file("review.prompt.md") is not None
    assert t.for_file("review.md") is None


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"max": 1}, "#1: glob: required field missing"),
        ({"glob": 3, "max": 1}, "#1: glob: must be a glob or a list of globs"),
        ({"glob": ["a", ""], "max": 1}, "glob: must be a glob or a list of globs"),
        ({"glob": "a"}, 'glob "a"): needs exactly one of max (each file) or total'),
        ({"glob": "a", "max": 1, "total": 2}, "needs exactly one of max"),
        (
            {"glob": "a", "max": 5.5},
            'max: must be a whole number of tokens or dollars such as "$0.05"',
        ),
        ({"glob": "a", "max": True}, "max: must be a whole number of tokens"),
        ({"glob": "a", "max": "5 dollars"}, "max: must be a whole number of tokens"),
        ({"glob": "a", "max": 0}, "max: must be a positive number of tokens"),
        ({"glob": "a", "total": "$0"}, "total: must be more than $0"),
        ({"glob": "a", "max": 1, "warning": 1.5}, "warning: must be a ratio > 0 and ≤ 1"),
        ({"glob": "a", "max": 1, "warning": "high"}, "warning: must be a number"),
        ({"glob": "a", "max": 1, "model": 4}, "model: must be a string"),
        ({"glob": "a", "max": 1, "model": " "}, "model: must be a model name"),
        ({"glob": "a", "max": 1, "maxx": 2}, "extra fields found (maxx)"),
        ({"glob": "\\", "max": 1}, "glob: Invalid git pattern"),
        ("docs/**", "#1: must be a table with glob and max or total"),
    ],
)
def test_each_bad_table_is_one_message_and_ignored(entry: object, message: str) -> None:
    good = {"glob": "ok/**", "max": 7}
    t, problems = parse_budgets({"budgets": [entry, good]})
    assert len(problems) == 1
    assert message in problems[0], problems[0]
    assert problems[0].startswith("[[budgets]] #1") and problems[0].endswith("; ignored")
    assert [b.index for b in t.budgets] == [2]  # the good table still applies


def test_not_an_array_and_absent() -> None:
    assert parse_budgets({}) == (BudgetTable(), [])
    t, problems = parse_budgets({"budgets": {"glob": "a", "max": 1}})
    assert t.budgets == () and problems == [
        "budgets: must be an array of tables ([[budgets]]); ignored"
    ]


def test_per_file_verdicts() -> None:
    files = [
        FileCount("prompts/system.md", 600, budget=8192),  # 60% of 1000 ≥ its 0.5 warning
        FileCount("prompts/a.md", 4000, model="gpt-4o-mini", budget=8192),  # priced at gpt-4o
        FileCount("prompts/b.md", 4001, budget=8192),
        FileCount("docs/guide.md", 201, budget=8192),
        FileCount("notes/free.md", 7000, budget=8192, warning_ratio=0.9),  # no table: own budget
    ]
    verdicts = {v.path: v for v in evaluate(files, table(), PRICES).files}
    system = verdicts["prompts/system.md"]
    assert (system.limit, system.status, system.warning_ratio) == (1000, "warning", 0.5)
    a = verdicts["prompts/a.md"]
    # $0.01 at $2.50 per million input tokens = exactly 4,000 tokens
    assert (a.limit, a.status, a.usd_limit) == (4000, "warning", Decimal("0.01"))
    assert a.cost_usd == pytest.approx(0.01)
    assert verdicts["prompts/b.md"].status == "exceeded"
    guide = verdicts["docs/guide.md"]
    assert (guide.limit, guide.status, guide.percent) == (200, "exceeded", 100)
    free = verdicts["notes/free.md"]
    assert (free.limit, free.status, free.budget) == (8192, "ok", None)


def test_total_budgets_sum_their_files() -> None:
    files = [
        FileCount(".github/instructions/a.instructions.md", 120),
        FileCount(".github/instructions/b/c.instructions.md", 150),
        FileCount("docs/guide.md", 10),
    ]
    result = evaluate(files, table(), PRICES)
    (agg,) = result.aggregates
    assert agg.paths == (
        ".github/instructions/a.instructions.md",
        ".github/instructions/b/c.instructions.md",
    )
    assert (agg.tokens, agg.limit, agg.status, agg.percent) == (270, 300, "warning", 90)
    files.append(FileCount(".github/instructions/d.md", 31))
    (agg,) = evaluate(files, table(), PRICES).aggregates
    assert (agg.tokens, agg.status) == (301, "exceeded")
    assert evaluate(files[2:3], table(), PRICES).aggregates == ()  # no member: no verdict


def test_dollar_total_over_files_priced_differently() -> None:
    t, _ = parse_budgets({"budgets": [{"glob": "**", "total": "$0.001"}]})
    files = [FileCount("a.md", 200, model="gpt-4o"), FileCount("b.md", 2000, model="gpt-4o-mini")]
    (agg,) = evaluate(files, t, PRICES).aggregates
    # 200 × 2.5 + 2000 × 0.15 = 800 millionths of a dollar: 80% of $0.001
    assert agg.cost_usd == pytest.approx(0.0008)
    assert (agg.limit, agg.status) == (None, "warning")  # no single token limit exists


def test_unpriced_dollar_budget_is_reported_and_skipped() -> None:
    t, _ = parse_budgets(
        {"budgets": [{"glob": "a.md", "max": "$0.05"}, {"glob": "*.md", "total": "$1"}]}
    )
    files = [FileCount("a.md", 100, model="mystery-model", budget=50)]
    result = evaluate(files, t, PRICES)
    (v,) = result.files
    assert (v.limit, v.status, v.budget) == (50, "exceeded", None)  # falls back to its own budget
    assert result.aggregates == ()
    assert result.problems == (
        "[[budgets]] #1 (glob \"a.md\"): $0.05 needs a price, but model 'mystery-model' has no "
        "input price in the model table; this budget is skipped",
        "[[budgets]] #2 (glob \"*.md\"): $1 needs a price, but model 'mystery-model' has no "
        "input price in the model table; this budget is skipped",
    )
    nomodel = evaluate([FileCount("a.md", 1, budget=50)], t, PRICES)
    assert "no model is set" in nomodel.problems[0]


def test_free_model_never_exceeds_a_dollar_budget() -> None:
    t, _ = parse_budgets({"budgets": [{"glob": "*.md", "max": "$0.01"}]})
    (v,) = evaluate([FileCount("a.md", 10**9, model="free-model")], t, PRICES).files
    assert (v.limit, v.status, v.cost_usd) == (None, "ok", 0.0)


@given(
    cents=st.integers(1, 100_000),
    price_milli=st.integers(1, 100_000),
    tokens=st.integers(0, 10**9),
)
def test_dollar_budgets_are_exact(cents: int, price_milli: int, tokens: int) -> None:
    """The token limit is floor(usd / price per token): the limit itself passes, one more fails,
    and the status agrees with exact arithmetic on the cost (floats would misjudge the edge)."""
    usd = Decimal(cents) / 10_000
    price = price_milli / 1000
    lookup = {"m": price}.get
    t, problems = parse_budgets({"budgets": [{"glob": "*", "max": f"${usd}", "warning": 1}]})
    assert problems == []
    (v,) = evaluate([FileCount("f", tokens, model="m")], t, lookup).files
    exact_cost = Fraction(tokens) * Fraction(str(price)) / 1_000_000
    assert (v.status == "exceeded") == (exact_cost > Fraction(usd))
    assert v.limit is not None
    (at,) = evaluate([FileCount("f", v.limit, model="m")], t, lookup).files
    (over,) = evaluate([FileCount("f", v.limit + 1, model="m")], t, lookup).files
    assert at.status != "exceeded" and over.status == "exceeded"
