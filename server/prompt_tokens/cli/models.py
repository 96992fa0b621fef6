"""``prompt-tokens models``, and what the CLI asks of the model table.

The table itself lives in ``prompt_tokens.models``. Everything the CLI reads of it goes through
:func:`model_rows` (one row per model, in SPEC's ``models --json`` shape) and
:func:`check_model`, so a new table (more fields, aliases, prices, estimated tokenizers) is
wired in by changing those two functions.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import attrs
import cattrs

from prompt_tokens.cli.output import print_json
from prompt_tokens.cli.table import print_rows
from prompt_tokens.errors import UnknownModelError, UsageError
from prompt_tokens.models import lookup_model
from prompt_tokens.models import model_rows as table_rows


@attrs.frozen
class ModelRow:
    """One model as ``models --json`` prints it (SPEC "Models and tokenizers")."""

    name: str
    aliases: tuple[str, ...]
    tokenizer: str
    exact: bool
    context_window: int | None
    max_input: int | None
    max_output: int | None
    input_usd_per_mtok: float | None
    source: str | None

    def to_json(self) -> dict[str, Any]:
        out = attrs.asdict(self)
        out["aliases"] = list(self.aliases)
        return out


def model_rows() -> list[ModelRow]:
    """The adapter from the model table's rows (``prompt_tokens.models.model_rows``)."""
    fields = attrs.fields_dict(ModelRow)
    return [
        cattrs.structure({k: v for k, v in row.items() if k in fields}, ModelRow)
        for row in table_rows()
    ]


def check_model(name: str) -> str:
    """The table's name for ``name`` (``gpt-4o-2024-08-06`` → ``gpt-4o``); an unknown one is a
    usage error: ``--model`` is the user's own choice, not a file's, so a typo stops the run."""
    try:
        return lookup_model(name).name
    except UnknownModelError as exc:
        raise UsageError(f"--model: {exc} (see 'prompt-tokens models')") from None


def row_for(name: str | None) -> ModelRow | None:
    """The row of a model name as files write it; None for no name or an unknown one."""
    if not name:
        return None
    try:
        canonical = lookup_model(name).name
    except UnknownModelError:
        return None
    return next((r for r in model_rows() if r.name == canonical), None)


def price_for(name: str) -> float | None:
    """USD per million input tokens (for ``[[budgets]]`` in dollars); None when unknown."""
    row = row_for(name)
    return row.input_usd_per_mtok if row is not None else None


def cmd_models(args: argparse.Namespace) -> int:
    rows = model_rows()
    if args.json:
        print_json({"models": [r.to_json() for r in rows]})
        return 0
    headers = [
        ("model", "left"), ("tokenizer", "left"), ("count", "left"), ("window", "right"),
        ("max input", "right"), ("max output", "right"),
    ]  # fmt: skip
    table = [
        [
            r.name,
            r.tokenizer,
            "exact" if r.exact else "estimate",
            _number(r.context_window),
            _number(r.max_input),
            _number(r.max_output),
        ]
        for r in rows
    ]
    print_rows(headers, table, sys.stdout)
    return 0


def _number(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"
