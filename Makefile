# Two entry points that work on a fresh machine (Python 3.11+, node 20 for the VS Code parts):
#   make demo   — local venv, count, check and show the agent context of the prompts in examples/
#   make test   — local venv with test extras, the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
PIPFLAGS ?= --disable-pip-version-check -q

.PHONY: demo test test-python test-editors lint bench vsix clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install $(PIPFLAGS) -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(PIP) install $(PIPFLAGS) -e '.[test,editors]'
	@touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	@echo "== prompt-tokens count examples/   (each prompt, what it references, its budget)"
	@$(BIN)/prompt-tokens count examples/
	@echo
	@echo "== prompt-tokens check --format github examples/   (the CI gate: annotations as a"
	@echo "   GitHub job shows them; over-budget.md is over its 400-token budget on purpose)"
	@$(BIN)/prompt-tokens check --format github examples/ ; status=$$?; \
	  if [ $$status -eq 1 ]; then echo "check exited 1 as expected: one prompt is over budget"; \
	  else echo "unexpected exit status $$status from check"; exit 1; fi
	@echo
	@echo "== prompt-tokens context --agent claude-code --no-user examples/   (what Claude Code loads)"
	@$(BIN)/prompt-tokens context --agent claude-code --no-user examples/

test: $(VENV)/.installed-test
	bash scripts/ci_editors.sh
	$(BIN)/ruff check server tests benchmarks
	$(BIN)/mypy
	$(BIN)/python scripts/import_graph.py > /dev/null
	$(BIN)/pytest -q -rs

test-python: $(VENV)/.installed-test
	$(BIN)/pytest -q -m "not editor"

lint: $(VENV)/.installed-test
	$(BIN)/ruff check server tests benchmarks
	$(BIN)/mypy

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/run_all.py

vsix:
	cd editors/vscode && npm ci --no-audit --no-fund && npm run package

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
