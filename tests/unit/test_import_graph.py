"""The package's shape is checked, not just described: no import cycle, no import up a layer,
pygls and lsprotocol only under ``lsp/`` (ARCHITECTURE.md, "Invariants")."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "import_graph.py"


def _script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("import_graph", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["import_graph"] = module
    spec.loader.exec_module(module)
    return module


def test_the_package_has_no_cycle_and_keeps_its_layers(capsys: pytest.CaptureFixture[str]) -> None:
    assert _script().main([]) == 0, capsys.readouterr().err


def test_a_cycle_and_an_upward_import_are_caught(tmp_path: Path) -> None:
    pkg = tmp_path / "prompt_tokens"
    (pkg / "tokenizer").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "tokenizer" / "__init__.py").write_text("")
    (pkg / "tokenizer" / "a.py").write_text("from prompt_tokens.engine import x\n")
    (pkg / "engine.py").write_text("def f():\n    from prompt_tokens.tokenizer import a\n")
    (pkg / "cache").mkdir()
    (pkg / "cache" / "__init__.py").write_text("import pygls\n")
    g = _script()
    graph = g.build(pkg)
    assert g.strongly_connected(graph) == [["prompt_tokens.engine", "prompt_tokens.tokenizer.a"]]
    assert g.layer_problems(graph) == [
        "prompt_tokens.tokenizer.a -> prompt_tokens.engine: imports from a higher layer"
    ]
    assert g.external_problems(pkg) == ["prompt_tokens.cache: imports pygls (only lsp/ may)"]
    assert g.main(["--root", str(pkg)]) == 1
