"""Variables (values, hashes, references in values, change detection) and the dependency graph:
a changed value recounts exactly the documents that use it."""

from __future__ import annotations

import datetime
from pathlib import Path

from prompt_tokens.cache.tiered import TieredCache
from prompt_tokens.references.graph import DependencyGraph, file_key, url_key, var_key
from prompt_tokens.references.resolver import ReferenceResolver
from prompt_tokens.references.syntax import scan
from prompt_tokens.references.variables import (
    changed_variables,
    reference_in_value,
    value_hash,
    value_to_text,
)
from prompt_tokens.settings import parse_settings


def test_value_to_text() -> None:
    assert value_to_text("x") == "x"
    assert value_to_text(3) == "3"
    assert value_to_text(1.5) == "1.5"
    assert value_to_text(True) == "true"
    assert value_to_text(None) == ""
    assert value_to_text([1, "é"]) == '[1, "é"]'
    assert value_to_text({"a": {"b": 1}}) == '{"a": {"b": 1}}'
    assert value_to_text(datetime.date(2024, 1, 2)) == "2024-01-02"


def test_reference_in_value() -> None:
    assert reference_in_value("@docs/a.md") == ("file", "docs/a.md")
    assert reference_in_value("  #file:Makefile \n") == ("file", "Makefile")
    assert reference_in_value("@https://x.org/a") == ("url", "https://x.org/a")
    assert reference_in_value("#fetch:http://x.org") == ("url", "http://x.org")
    assert reference_in_value("@john") is None
    assert reference_in_value("see @docs/a.md") is None
    assert reference_in_value("https://x.org") is None
    assert reference_in_value("") is None


def test_changed_variables() -> None:
    old = {"a": "1", "b": "2", "c": "3"}
    new = {"a": "1", "b": "two", "d": "4"}
    assert changed_variables(old, new) == {"b", "c", "d"}
    assert changed_variables(old, dict(old)) == set()
    assert value_hash("x") == value_hash("x") != value_hash("y")


def test_graph_reverse_index() -> None:
    g = DependencyGraph()
    g.set_dependencies("/d1", ["file:/a", "url:u", "var:x"])
    g.set_dependencies("/d2", ["file:/a", "var:y"])
    assert g.dependents("file:/a") == {"/d1", "/d2"}
    assert g.dependents("url:u") == {"/d1"}
    assert g.dependents_of(["var:x", "var:y"]) == {"/d1", "/d2"}
    g.set_dependencies("/d1", ["var:x"])
    assert g.dependents("file:/a") == {"/d2"} and g.dependents("url:u") == set()
    g.remove("/d2")
    assert g.dependents("file:/a") == set() and g.documents() == {"/d1"}
    assert len(g) == 1


async def test_changed_value_recounts_exactly_its_users(workspace: Path) -> None:
    settings, _ = parse_settings({})
    r = ReferenceResolver(settings, TieredCache(None), roots=[workspace])
    shared = {"product": "Acme", "tone": "calm", "unused": "z"}
    docs = {
        "uses_product.md": ("{{ product }}", {}),
        "uses_tone.md": ("${input:tone}", {}),
        "uses_both.md": ("{{ product }} {{ tone }}", {}),
        "shadows_product.md": ("{{ product }}", {"product": "Own value"}),  # front matter wins
        "uses_nothing.md": ("plain text", {}),
        "uses_undefined.md": ("{{ later }}", {}),
    }
    for name, (text, own) in docs.items():
        await r.resolve(
            workspace / name, scan(text), encoding="cl100k_base", variables={**shared, **own}
        )
    g = r.graph

    def names(paths: set[str]) -> set[str]:
        return {Path(p).name for p in paths}

    assert names(g.documents_to_recount(shared, {**shared, "product": "Acme 2"})) == {
        "uses_product.md",
        "uses_both.md",
    }
    assert names(g.documents_to_recount(shared, {**shared, "tone": "warm"})) == {
        "uses_tone.md",
        "uses_both.md",
    }
    assert names(g.documents_to_recount(shared, {**shared, "unused": "q"})) == set()
    assert names(g.documents_to_recount(shared, {**shared, "later": "now defined"})) == {
        "uses_undefined.md"
    }
    assert names(g.dependents(var_key("product"))) == {
        "uses_product.md",
        "uses_both.md",
        "shadows_product.md",
    }


def test_keys() -> None:
    assert file_key("/tmp/../tmp/x") == "file:" + str(Path("/tmp/x").resolve())
    assert url_key("https://x") == "url:https://x"
    assert var_key("a.b") == "var:a.b"
