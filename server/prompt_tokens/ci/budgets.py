"""``[[budgets]]`` in ``.prompt-tokens.toml``: token or dollar limits per glob of files.

One ``budget`` for the whole workspace does not fit how prompts are used: an agent loads all of
``.github/instructions/**`` together (so their *sum* matters), a system prompt has its own cap,
and a team often thinks in cost per call rather than tokens. Each table names a ``glob``
(gitignore syntax, relative to the workspace root) and either ``max`` (each matching file) or
``total`` (all matching files together), in tokens or as dollars ``"$0.05"`` (per call, input
side, priced from the model table). The first matching table of each kind wins. A bad table is
reported in one line and ignored, like every other setting: a typo never stops a count.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

import attrs
import cattrs
import pathspec

from prompt_tokens.results import BudgetStatus

PriceLookup = Callable[[str], float | None]
"""USD per million *input* tokens of a model name; None when the model table has no price."""

Scope = Literal["file", "total"]
MILLION = 1_000_000
_DOLLARS = re.compile(r"^\$\s*(\d+(?:\.\d*)?|\.\d+)\s*$")
_AMOUNT_HINT = 'must be a whole number of tokens or dollars such as "$0.05"'


# ---- the table as written -------------------------------------------------------------------


def _positive_ratio(_inst: Any, _attr: Any, value: float | None) -> None:
    if value is not None and not 0 < value <= 1:
        raise ValueError("warning: must be a ratio > 0 and ≤ 1 (e.g. 0.8)")


def _model_name(_inst: Any, _attr: Any, value: str | None) -> None:
    if value is not None and not value.strip():
        raise ValueError("model: must be a model name")


@attrs.frozen
class BudgetEntry:
    """One ``[[budgets]]`` table: its shape is checked by cattrs, its meaning here."""

    glob: str | list[str]
    max: int | str | None = None
    total: int | str | None = None
    warning: float | None = attrs.field(default=None, validator=_positive_ratio)
    model: str | None = attrs.field(default=None, validator=_model_name)

    def __attrs_post_init__(self) -> None:
        if (self.max is None) == (self.total is None):
            raise ValueError("needs exactly one of max (each file) or total (all matching files)")


def _structure_globs(value: Any, _type: Any) -> str | list[str]:
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return list(value)
    raise ValueError("must be a glob or a list of globs")


def _structure_amount(value: Any, _type: Any) -> int | str | None:
    if value is None or isinstance(value, str) or (type(value) is int):
        return value
    raise ValueError(_AMOUNT_HINT)


def _structure_ratio(value: Any, _type: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be a number")
    return float(value)


def _structure_name(value: Any, _type: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError("must be a string")


def _make_converter() -> cattrs.Converter:
    """Strict hooks: cattrs' defaults convert (``int("5")``, ``str(3)``, ``float(True)``), and a
    budget written as ``5.5`` or ``true`` is a mistake to report, not a value to round."""
    conv = cattrs.Converter(forbid_extra_keys=True)
    hooks: list[tuple[Any, Callable[[Any, Any], Any]]] = [
        (str | list[str], _structure_globs),
        (int | str | None, _structure_amount),
        (float | None, _structure_ratio),
        (str | None, _structure_name),
    ]
    for type_, hook in hooks:
        conv.register_structure_hook_func(_is(type_), hook)
    return conv


def _is(type_: Any) -> Callable[[Any], bool]:
    return lambda t: bool(t == type_)


_CONVERTER = _make_converter()


def _format_error(exc: BaseException, type_: Any) -> str:
    """cattrs' wording is generic ('invalid value for type'); say what a user must write."""
    if isinstance(exc, ValueError) and str(exc):
        return str(exc)
    return cattrs.v.format_exception(exc, type_)


def _entry_problem(exc: Exception) -> str:
    if not isinstance(exc, cattrs.BaseValidationError):
        return str(exc)
    parts = []
    for line in cattrs.transform_error(exc, format_exception=_format_error):
        text, _, path = line.rpartition(" @ $")
        field = path.lstrip(".").split("[")[0]
        parts.append(f"{field}: {text}" if field and not text.startswith(f"{field}:") else text)
    return "; ".join(parts)


# ---- the parsed table -------------------------------------------------------------------------


@attrs.frozen
class Budget:
    """A usable budget: where it applies, to what, and its limit in tokens or dollars."""

    index: int  # 1-based position among the ``[[budgets]]`` tables, for messages
    globs: tuple[str, ...]
    scope: Scope
    tokens: int | None  # limit in tokens, or None when given in dollars
    usd: Decimal | None  # limit in dollars per call, or None when given in tokens
    warning: float | None
    model: str | None
    spec: pathspec.PathSpec = attrs.field(eq=False, repr=False)

    @property
    def label(self) -> str:
        return ", ".join(self.globs)

    @property
    def usd_text(self) -> str:
        """The dollar limit as written (``$0.05``), without float noise; '' for tokens."""
        return "" if self.usd is None else f"${self.usd}"

    def matches(self, path: str) -> bool:
        """``path`` is relative to the workspace root with ``/`` separators."""
        return not path.startswith("../") and self.spec.match_file(path)


def _amount(raw: int | str) -> tuple[int | None, Decimal | None]:
    if isinstance(raw, int):
        if raw <= 0:
            raise ValueError("must be a positive number of tokens")
        return raw, None
    m = _DOLLARS.match(raw)
    if m is None:
        raise ValueError(_AMOUNT_HINT)
    usd = Decimal(m.group(1))
    if usd <= 0:
        raise ValueError("must be more than $0")
    return None, usd


def _budget(index: int, entry: BudgetEntry) -> Budget:
    globs = (entry.glob,) if isinstance(entry.glob, str) else tuple(entry.glob)
    try:
        spec = pathspec.GitIgnoreSpec.from_lines(globs)
    except ValueError as exc:
        raise ValueError(f"glob: {exc}") from None
    scope: Scope = "file" if entry.max is not None else "total"
    raw = entry.max if entry.max is not None else entry.total
    assert raw is not None  # BudgetEntry guarantees exactly one
    try:
        tokens, usd = _amount(raw)
    except ValueError as exc:
        raise ValueError(f"{'max' if scope == 'file' else 'total'}: {exc}") from None
    model = entry.model.strip() if entry.model else None
    return Budget(index, globs, scope, tokens, usd, entry.warning, model, spec)


def _describe(index: int, raw: Any) -> str:
    glob = raw.get("glob") if isinstance(raw, Mapping) else None
    if isinstance(glob, list) and all(isinstance(g, str) for g in glob):
        glob = ", ".join(glob)
    where = f' (glob "{glob}")' if isinstance(glob, str) and glob else ""
    return f"[[budgets]] #{index}{where}"


@attrs.frozen
class BudgetTable:
    """Every valid ``[[budgets]]`` table, in file order."""

    budgets: tuple[Budget, ...] = ()

    def _first(self, path: str, scope: Scope) -> Budget | None:
        return next((b for b in self.budgets if b.scope == scope and b.matches(path)), None)

    def for_file(self, path: str) -> Budget | None:
        """The first ``max`` table matching ``path``: it overrides front matter and settings."""
        return self._first(path, "file")

    def aggregate_for(self, path: str) -> Budget | None:
        """The first ``total`` table matching ``path``: the set it is summed in."""
        return self._first(path, "total")

    def model_for(self, path: str) -> str | None:
        """The ``model`` of the first matching table that names one (counts and prices)."""
        return next((b.model for b in self.budgets if b.model and b.matches(path)), None)


def parse_budgets(raw: Mapping[str, Any]) -> tuple[BudgetTable, list[str]]:
    """The budgets of a raw ``.prompt-tokens.toml`` dict, and one message per ignored table."""
    tables = raw.get("budgets")
    if tables is None:
        return BudgetTable(), []
    if not isinstance(tables, list):
        return BudgetTable(), ["budgets: must be an array of tables ([[budgets]]); ignored"]
    budgets: list[Budget] = []
    problems: list[str] = []
    for index, table in enumerate(tables, start=1):
        try:
            if not isinstance(table, Mapping):
                raise ValueError("must be a table with glob and max or total")
            budgets.append(_budget(index, _CONVERTER.structure(dict(table), BudgetEntry)))
        except (ValueError, cattrs.BaseValidationError) as exc:
            problems.append(f"{_describe(index, table)}: {_entry_problem(exc)}; ignored")
    return BudgetTable(tuple(budgets)), problems


# ---- evaluation -------------------------------------------------------------------------------


@attrs.frozen
class FileCount:
    """What the evaluation needs of one counted file."""

    path: str  # relative to the workspace root, '/' separators
    total: int
    model: str | None = None  # the model it was counted for: prices dollar budgets
    budget: int | None = None  # from front matter or settings, used when no table matches
    warning_ratio: float = 0.8


@attrs.frozen
class Verdict:
    """A file's budget: the numbers, which table set them, and the status."""

    path: str
    tokens: int
    limit: int | None  # tokens allowed (a dollar budget converted at the model's price)
    status: BudgetStatus
    warning_ratio: float
    budget: Budget | None = None  # None: front matter or settings
    usd_limit: Decimal | None = None
    cost_usd: float | None = None  # per call, input side; None without a price

    @property
    def percent(self) -> int | None:
        return round(100 * self.tokens / self.limit) if self.limit else None


@attrs.frozen
class AggregateVerdict:
    """A ``total`` table: the files it summed and the status of the sum."""

    budget: Budget
    paths: tuple[str, ...]
    tokens: int
    limit: int | None  # None for a dollar budget over files of different prices
    status: BudgetStatus
    warning_ratio: float
    usd_limit: Decimal | None = None
    cost_usd: float | None = None

    @property
    def percent(self) -> int | None:
        return round(100 * self.tokens / self.limit) if self.limit else None


@attrs.frozen
class Evaluation:
    files: tuple[Verdict, ...]
    aggregates: tuple[AggregateVerdict, ...]
    problems: tuple[str, ...]  # dollar budgets that could not be priced (the table is skipped)


def _status(used: Fraction, limit: Fraction, ratio: float) -> BudgetStatus:
    """Exact comparison: a dollar limit is a fraction of a token, floats would round it."""
    if used > limit:
        return "exceeded"
    if used >= Fraction(str(ratio)) * limit:
        return "warning"
    return "ok"


def _price(model: str | None, price_for: PriceLookup) -> Fraction | None:
    if model is None:
        return None
    price = price_for(model)
    return None if price is None or price < 0 else Fraction(str(price))


def _unpriced(budget: Budget, model: str | None) -> str:
    what = f"model '{model}' has no input price" if model else "no model is set"
    return (
        f'[[budgets]] #{budget.index} (glob "{budget.label}"): {budget.usd_text} needs a price, '
        f"but {what} in the model table; this budget is skipped"
    )


def _dollar_verdict(f: FileCount, budget: Budget, usd: Decimal, price: Fraction) -> Verdict:
    ratio = budget.warning if budget.warning is not None else f.warning_ratio
    cost = f.total * price / MILLION
    limit = math.floor(Fraction(usd) * MILLION / price) if price else None
    status = _status(cost, Fraction(usd), ratio)
    return Verdict(f.path, f.total, limit, status, ratio, budget, usd, float(cost))


def _file_verdict(
    f: FileCount, budget: Budget | None, price_for: PriceLookup, problems: dict[str, None]
) -> Verdict:
    if budget is not None and budget.usd is not None:
        model = budget.model or f.model
        price = _price(model, price_for)
        if price is not None:
            return _dollar_verdict(f, budget, budget.usd, price)
        problems[_unpriced(budget, model)] = None
        budget = None  # unusable: the file keeps its own budget
    ratio = f.warning_ratio
    limit = f.budget
    if budget is not None:
        ratio = budget.warning if budget.warning is not None else f.warning_ratio
        limit = budget.tokens
    cost_usd = _cost(f.total, f.model, price_for)
    if limit is None:
        return Verdict(f.path, f.total, None, "ok", ratio, budget, None, cost_usd)
    status = _status(Fraction(f.total), Fraction(limit), ratio)
    return Verdict(f.path, f.total, limit, status, ratio, budget, None, cost_usd)


def _cost(tokens: int, model: str | None, price_for: PriceLookup) -> float | None:
    price = _price(model, price_for)
    return None if price is None else float(tokens * price / MILLION)


def _aggregate(
    budget: Budget,
    members: Sequence[FileCount],
    price_for: PriceLookup,
    default_ratio: float,
    problems: dict[str, None],
) -> AggregateVerdict | None:
    ratio = budget.warning if budget.warning is not None else default_ratio
    tokens = sum(f.total for f in members)
    paths = tuple(f.path for f in members)
    if budget.usd is None:
        assert budget.tokens is not None
        status = _status(Fraction(tokens), Fraction(budget.tokens), ratio)
        costs = [_cost(f.total, f.model, price_for) for f in members]
        cost_usd = None if None in costs else sum(c for c in costs if c is not None)
        return AggregateVerdict(budget, paths, tokens, budget.tokens, status, ratio, None, cost_usd)
    prices: list[Fraction] = []
    for f in members:
        model = budget.model or f.model
        price = _price(model, price_for)
        if price is None:
            problems[_unpriced(budget, model)] = None
            return None
        prices.append(price)
    cost = sum((f.total * p for f, p in zip(members, prices, strict=True)), Fraction(0)) / MILLION
    same = len(set(prices)) == 1 and prices[0] > 0
    limit = math.floor(Fraction(budget.usd) * MILLION / prices[0]) if same else None
    status = _status(cost, Fraction(budget.usd), ratio)
    return AggregateVerdict(budget, paths, tokens, limit, status, ratio, budget.usd, float(cost))


def evaluate(
    files: Sequence[FileCount],
    table: BudgetTable,
    price_for: PriceLookup,
    *,
    default_warning_ratio: float = 0.8,
) -> Evaluation:
    """Per-file verdicts (first ``max`` table, else the file's own budget) and one verdict per
    ``total`` table that matched at least one file (each file counts in its first such table)."""
    problems: dict[str, None] = {}  # insertion-ordered set: one message per table and model
    verdicts = tuple(_file_verdict(f, table.for_file(f.path), price_for, problems) for f in files)
    groups: dict[int, list[FileCount]] = {}
    owners: dict[int, Budget] = {}
    for f in files:
        agg = table.aggregate_for(f.path)
        if agg is not None:
            groups.setdefault(agg.index, []).append(f)
            owners[agg.index] = agg
    aggregates = []
    for index in sorted(groups):
        verdict = _aggregate(
            owners[index], groups[index], price_for, default_warning_ratio, problems
        )
        if verdict is not None:
            aggregates.append(verdict)
    return Evaluation(verdicts, tuple(aggregates), tuple(problems))
