"""``prompt-tokens models``: the model table as the CLI shows it, rows in SPEC's JSON shape."""

from __future__ import annotations

import json
from pathlib import Path

from prompt_tokens.models import model_table
from tests.conftest import plain_count
from tests.unit.cli_helpers import run

SPEC_KEYS = {
    "name", "aliases", "tokenizer", "exact", "context_window", "max_input", "max_output",
    "input_usd_per_mtok", "source",
}  # fmt: skip


def test_json_rows_in_spec_shape(tmp_path: Path) -> None:
    r = run("models", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = {m["name"]: m for m in json.loads(r.stdout)["models"]}
    assert all(set(m) == SPEC_KEYS for m in rows.values())
    assert set(rows) == {m.name for m in model_table().models}
    gpt5 = rows["gpt-5"]
    assert (gpt5["tokenizer"], gpt5["exact"]) == ("o200k_base", True)
    assert (gpt5["context_window"], gpt5["max_input"], gpt5["max_output"]) == (
        400_000,
        272_000,
        128_000,
    )
    assert gpt5["input_usd_per_mtok"] is not None and gpt5["source"]
    claude = rows["claude-sonnet-4-5"]
    assert (claude["exact"], claude["tokenizer"]) == (False, "claude")
    assert "Claude Sonnet 4.5" in claude["aliases"]


def test_text_table(tmp_path: Path) -> None:
    r = run("models", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == [
        "model",
        "tokenizer",
        "count",
        "window",
        "max",
        "input",
        "max",
        "output",
    ]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["gpt-5"] == ["gpt-5", "o200k_base", "exact", "400,000", "272,000", "128,000"]
    assert rows["gpt-4"] == ["gpt-4", "cl100k_base", "exact", "8,192", "8,192", "8,192"]
    assert len(rows) == len(model_table().models)
    assert rows["claude-sonnet-4-5"][2] == "estimate"


def test_count_accepts_a_dated_name_of_a_listed_model(workspace: Path) -> None:
    (workspace / "p.md").write_text("Hello there.\n")
    r = run("count", "--json", "--no-cache", "--model", "gpt-4o-2024-08-06", "p.md", cwd=workspace)
    assert r.returncode == 0, r.stderr
    f = json.loads(r.stdout)["files"][0]
    assert (f["encoding"], f["budget"]) == ("o200k_base", 128_000)
    assert f["tokens"]["text"] == plain_count("o200k_base", "Hello there.\n")
