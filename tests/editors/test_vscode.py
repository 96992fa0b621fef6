"""End to end in a real VS Code: code-server 4.100.3 (VS Code 1.100.3 web) in Debian's headless
Chromium, driven by playwright-core (tests/editors/vscode_e2e/drive.js), with the extension
installed from the built .vsix and the real language server (`python -m prompt_tokens lsp`).

Prerequisites (scripts/ci_editors.sh installs them all): apt chromium; code-server in
$PROMPT_TOKENS_EDITOR_TOOLS (default ~/.cache/prompt-tokens-editors); npm deps of
editors/vscode and tests/editors/vscode_e2e; editors/vscode/prompt-tokens.vsix. Without them
the test is skipped and says what is missing; with CI=true it fails instead.

The status bar item shows the server's verdict (colour), percent and exactness: the texts
expected are built from what the running server sends for the same documents
(`server_statuses`), the counts in them checked against plain tiktoken.

Environment: CODE_SERVER, CHROMIUM, PROMPT_TOKENS_VSIX override the paths;
PROMPT_TOKENS_EDITOR_ARTIFACTS=DIR copies the screenshots and result.json there;
PROMPT_TOKENS_TEST_SERVER_CMD='["cmd", ...]' overrides the server command.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.editors._support import (
    TOOLS,
    budget_text,
    count,
    missing_part,
    pct,
    server_cmd,
    server_statuses,
)

pytestmark = [pytest.mark.editor, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
EXT_DIR = ROOT / "editors" / "vscode"
E2E_DIR = Path(__file__).resolve().parent / "vscode_e2e"
CODE_SERVER = Path(
    os.environ.get(
        "CODE_SERVER", TOOLS / "code-server-4.100.3" / "node_modules" / ".bin" / "code-server"
    )
)
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
VSIX = Path(os.environ.get("PROMPT_TOKENS_VSIX", EXT_DIR / "prompt-tokens.vsix"))
NODE = shutil.which("node")


def _runs(binary: Path) -> bool:
    try:
        proc = subprocess.run(
            [str(binary), "--version"], capture_output=True, timeout=60, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def _missing() -> list[str]:
    out = []
    if NODE is None:
        out.append("node (apt nodejs)")
    if not CHROMIUM.exists():
        out.append(f"{CHROMIUM} (apt chromium)")
    elif not _runs(CHROMIUM):
        out.append(f"a {CHROMIUM} that runs ('{CHROMIUM} --version' fails)")
    if not CODE_SERVER.exists():
        out.append(f"{CODE_SERVER} (code-server 4.100.3)")
    if not (E2E_DIR / "node_modules" / "playwright-core").exists():
        out.append("tests/editors/vscode_e2e/node_modules/playwright-core (npm ci)")
    if not VSIX.exists() and not (EXT_DIR / "node_modules").exists():
        out.append(f"{VSIX} (npm run package in editors/vscode)")
    return out


MISSING = _missing()
SKIP_REASON = (
    f"VS Code end-to-end prerequisites missing: {', '.join(MISSING)} — run scripts/ci_editors.sh"
)


def _require_parts() -> None:
    if MISSING:
        missing_part(SKIP_REASON)


def _ensure_vsix() -> None:
    """Rebuild the .vsix when the extension's sources are newer (or it is missing)."""
    if "PROMPT_TOKENS_VSIX" in os.environ:
        return
    sources = [*EXT_DIR.glob("src/**/*.*"), EXT_DIR / "package.json"]
    if VSIX.exists() and VSIX.stat().st_mtime >= max(p.stat().st_mtime for p in sources):
        return
    subprocess.run(
        ["npm", "run", "--silent", "package"],
        cwd=EXT_DIR,
        check=True,
        capture_output=True,
        timeout=300,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SPEC_MD = """# Service spec

The service accepts JSON requests on `/v1/items` and answers with a paged list.
Each item has an id, a title, tags and an owner. Errors use RFC 9457 problem details.
Rate limits: 100 requests per minute per token; bursts of 20 are allowed.
"""

NORMAL = """You are a careful reviewer of API designs.
Read the design in @docs/spec.md before you answer.

## Task
List the three biggest risks, most severe first, in short bullet points.
"""

OVER = """---
max_tokens: 50
---
Summarise the following meeting notes for an executive audience. Keep every decision,
owner and deadline, drop the small talk, and flag anything that contradicts last week's plan.
The notes cover hiring, the Q3 roadmap, the office move and the vendor contract renewal.
"""

TYPED = "Add a table of mitigations."

RULE = """---
description: API style
globs: src/api/**
alwaysApply: false
---
Use plural resource names and RFC 9457 problem details for errors.
"""


USER_SETTINGS = {
    "security.workspace.trust.enabled": False,
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": False,
    "workbench.enableExperiments": False,
    "telemetry.telemetryLevel": "off",
    "update.mode": "none",
    "extensions.autoCheckUpdates": False,
    "extensions.autoUpdate": False,
    "files.hotExit": "off",
    "editor.inlayHints.enabled": "on",
    "editor.quickSuggestions": {"other": False, "comments": False, "strings": False},
    "editor.wordBasedSuggestions": "off",
    "editor.minimap.enabled": False,
    "chat.commandCenter.enabled": False,
    "workbench.colorTheme": "Default Light Modern",
    "window.commandCenter": False,
}


def _workspace(tmp_path: Path, workspace_settings: dict[str, object]) -> Path:
    ws = tmp_path / "ws"
    (ws / ".git").mkdir(parents=True)
    (ws / "docs").mkdir()
    (ws / ".vscode").mkdir()
    (ws / "docs" / "spec.md").write_text(SPEC_MD, encoding="utf-8")
    # A Markdown prompt: `@docs/spec.md` is a file there (in a dotprompt `.prompt` it is text).
    (ws / "review.md").write_text(NORMAL, encoding="utf-8")
    (ws / "meeting.md").write_text(OVER, encoding="utf-8")
    (ws / ".cursor" / "rules").mkdir(parents=True)
    (ws / ".cursor" / "rules" / "style.mdc").write_text(RULE, encoding="utf-8")
    (ws / ".vscode" / "settings.json").write_text(json.dumps(workspace_settings), encoding="utf-8")
    return ws


def _run(
    tmp_path: Path, ws: Path, user_settings: dict[str, object], spec: dict, *, trusted: bool = True
) -> tuple[dict, str]:
    """Install the .vsix into a fresh code-server profile, start it on ws, run drive.js with spec.
    Returns (result.json, timing text)."""
    t_start = time.monotonic()
    ud = tmp_path / "ud"
    (ud / "User").mkdir(parents=True)
    (ud / "User" / "settings.json").write_text(json.dumps(user_settings), encoding="utf-8")
    env = dict(
        os.environ,
        XDG_CONFIG_HOME=str(tmp_path / "xdg" / "config"),
        XDG_DATA_HOME=str(tmp_path / "xdg" / "data"),
        XDG_CACHE_HOME=str(tmp_path / "xdg" / "cache"),
        PROMPT_TOKENS_CACHE_DIR=str(tmp_path / "pt-cache"),
    )
    common = ["--user-data-dir", str(ud), "--extensions-dir", str(tmp_path / "exts")]
    t_install = time.monotonic()
    inst = subprocess.run(
        [str(CODE_SERVER), *common, "--install-extension", str(VSIX)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    install_s = time.monotonic() - t_install
    assert inst.returncode == 0, inst.stdout + inst.stderr
    assert "prompt-tokens" in inst.stdout + inst.stderr

    port = _free_port()
    spec = dict(
        spec,
        url=f"http://127.0.0.1:{port}/?folder={ws}",
        out=str(tmp_path / "out"),
        timeoutMs=30000,
        chromium=str(CHROMIUM),
    )
    log = (tmp_path / "code-server.log").open("w")
    trust_flags = [] if not trusted else ["--disable-workspace-trust"]
    proc = subprocess.Popen(
        [
            str(CODE_SERVER),
            *common,
            "--bind-addr",
            f"127.0.0.1:{port}",
            "--auth",
            "none",
            "--disable-telemetry",
            "--disable-update-check",
            *trust_flags,
            "--disable-getting-started-override",
            str(ws),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail(
                        "code-server did not come up:\n"
                        + (tmp_path / "code-server.log").read_text()
                    )
                time.sleep(0.3)
        (tmp_path / "spec.json").write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
        t_drive = time.monotonic()
        assert NODE is not None
        drive = subprocess.run(
            [NODE, str(E2E_DIR / "drive.js"), str(tmp_path / "spec.json")],
            cwd=E2E_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )
        drive_s = time.monotonic() - t_drive
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)
        log.close()

    out = tmp_path / "out"
    artifacts = os.environ.get("PROMPT_TOKENS_EDITOR_ARTIFACTS")
    if artifacts:
        dest = Path(artifacts) / tmp_path.name
        shutil.copytree(out, dest, dirs_exist_ok=True)
        shutil.copy(tmp_path / "code-server.log", dest / "code-server.log")
        for p in (ud / "logs").rglob("*Prompt Tokens*.log"):
            shutil.copy(p, dest / "output-channel.log")
    res_file = out / "result.json"
    assert res_file.exists(), drive.stdout + drive.stderr
    data = json.loads(res_file.read_text(encoding="utf-8"))
    timing = (
        f"vsix install {install_s:.1f}s, browser run {drive_s:.1f}s, "
        f"whole test {time.monotonic() - t_start:.1f}s"
    )
    print(
        f"VS Code e2e ({'trusted' if trusted else 'untrusted'}): {timing}; artifacts in {artifacts or out}"
    )
    channel = _output_channel(tmp_path)
    assert drive.returncode == 0 and data["ok"], (
        f"{timing}\n{json.dumps(data, indent=1, ensure_ascii=False)}\n{drive.stderr}\n{channel[-6000:]}"
    )
    return data, timing


def _output_channel(tmp_path: Path) -> str:
    """The extension's "Prompt Tokens" output channel (client log, server stderr, LSP trace)."""
    text = ""
    for p in sorted((tmp_path / "ud" / "logs").rglob("*Prompt Tokens.log")):
        text += p.read_text(encoding="utf-8", errors="replace")
    return text


LEVEL = {"warning": "warning", "exceeded": "error"}  # the server's verdict -> the item's colour


def _expected(ws: Path, budget: int = 8192) -> dict[str, dict[str, str]]:
    ref = count(SPEC_MD)
    total = count(NORMAL) + ref
    total_after = count(NORMAL + TYPED) + ref
    over_total = count(OVER)
    assert over_total > 50
    st = server_statuses(
        ws,
        {
            "review.md": NORMAL,
            "review.after.md": NORMAL + TYPED,
            "meeting.md": OVER,
            ".cursor/rules/style.mdc": RULE,
        },
        {"cache": {"path": None}},
        dict(os.environ),
    )
    for rel, want in [
        ("review.md", (total, budget)),
        ("review.after.md", (total_after, budget)),
        ("meeting.md", (over_total, 50)),
        (".cursor/rules/style.mdc", (count(RULE), budget)),
    ]:
        assert (st[rel]["tokens"]["total"], st[rel]["budget"]) == want, (rel, st[rel])
    return {
        "normal": {
            "file": "review.md",
            "firstLine": "You are a careful reviewer",
            "totalHint": f"{total:,} tokens · {pct(total, budget)}% of {budget:,}",
            "refLine": "@docs/spec.md",
            "refHint": f"+{ref:,}",
            "status": budget_text(st["review.md"]),
            "statsRow": "docs/spec.md",
            "statsDescription": f"+{ref:,} tokens",
            "typed": TYPED,
            "totalHintAfter": f"{total_after:,} tokens · {pct(total_after, budget)}% of {budget:,}",
            "statusAfter": budget_text(st["review.after.md"]),
        },
        "over": {
            "file": "meeting.md",
            "firstLine": "max_tokens",
            "problem": f"Prompt uses {over_total:,} of 50 tokens ({pct(over_total, 50)}%)",
            "status": budget_text(st["meeting.md"]),
            "level": LEVEL.get(str(st["meeting.md"].get("status")), "none"),
        },
        "rule": {
            "file": "style.mdc",
            "firstLine": "Use plural resource names",
            "status": budget_text(st[".cursor/rules/style.mdc"]),
        },
    }


def test_vscode_extension_end_to_end(tmp_path: Path) -> None:
    """Total hint, reference hint, status bar, quick pick, Problems panel, live edit, commands,
    a Cursor rule (a file kind VS Code calls plain text)."""
    _require_parts()
    _ensure_vsix()
    ws = _workspace(tmp_path, {"promptTokens.cache.path": None})
    data, _ = _run(
        tmp_path,
        ws,
        {**USER_SETTINGS, "promptTokens.server.command": server_cmd()},
        _expected(ws),
    )
    assert [s["name"] for s in data["steps"]] == [
        "load workbench",
        "open review.md",
        "total inlay hint on line 1",
        "reference inlay hint",
        "status bar item",
        "status bar click -> per-reference quick pick",
        "open meeting.md (over budget)",
        "over-budget status bar item: the server's verdict's colour",
        "Problems panel shows the budget error",
        "live edit in review.md",
        "command: Show Server Jobs -> JSON output channel",
        "command: Clear the Token Count Cache -> notification",
        "open style.mdc (Cursor rule)",
        "Cursor rule status bar item",
    ]
    assert (tmp_path / "out" / "1_prompt.png").exists() and (
        tmp_path / "out" / "4_after_edit.png"
    ).exists()
    channel = _output_channel(tmp_path)
    assert "server running" in channel, channel[-3000:]
    assert "invalid settings" not in channel and "unknown setting" not in channel, channel[-3000:]
    # the language client registered the server's commands beside the extension's own
    assert "already exists" not in channel, channel[-3000:]


def _traced_params(channel: str, what: str) -> list[dict]:
    """Params of every traced message starting with `what` (e.g. "Sending request 'initialize")."""
    out, i = [], 0
    while (i := channel.find(what, i)) >= 0:
        j = channel.index("Params: ", i) + len("Params: ")
        params, _ = json.JSONDecoder().raw_decode(channel[j:])
        out.append(params)
        i = j
    return out


def _sent_settings(channel: str) -> list[dict]:
    """Every settings object the extension sent: initializationOptions, didChangeConfiguration."""
    init = [
        p["initializationOptions"] for p in _traced_params(channel, "Sending request 'initialize")
    ]
    pushed = [
        p["settings"]["promptTokens"]
        for p in _traced_params(channel, "Sending notification 'workspace/didChangeConfiguration'")
    ]
    return init + pushed


def test_vscode_untrusted_workspace(tmp_path: Path) -> None:
    """SPEC "Trust": in Restricted Mode the extension still counts, sends http.enabled=false and
    references.allowOutsideWorkspace=false, and ignores the workspace's own server command."""
    _require_parts()
    _ensure_vsix()
    ws = _workspace(
        tmp_path,
        {
            "promptTokens.cache.path": None,
            # restricted settings: ignored by VS Code in an untrusted workspace (this command is
            # told apart from the user's by its env marker; it is honoured once the folder is trusted)
            "promptTokens.server.command": ["env", "PT_WORKSPACE_CMD=1", *server_cmd()],
            "promptTokens.http.enabled": True,
            "promptTokens.references.allowOutsideWorkspace": True,
        },
    )
    user = {
        **USER_SETTINGS,
        "security.workspace.trust.enabled": True,
        "security.workspace.trust.startupPrompt": "never",
        "security.workspace.trust.banner": "always",
        "promptTokens.trace.server": "verbose",
    }
    user["promptTokens.server.command"] = server_cmd()
    data, _ = _run(tmp_path, ws, user, {**_expected(ws), "mode": "quick"}, trusted=False)
    assert [s["name"] for s in data["steps"]] == [
        "load workbench",
        "open review.md",
        "quick: total inlay hint",
        "quick: status bar item",
        "grant workspace trust",
    ]
    channel = _output_channel(tmp_path)
    assert "workspace untrusted" in channel, channel[-3000:]
    before, _, after = channel.partition("workspace trusted: re-sending settings")
    assert after, "trust grant not seen:\n" + channel[-3000:]
    assert len(_traced_params(before, "Sending request 'initialize")) == 1, before[-3000:]
    sent = _sent_settings(before)
    assert len(sent) >= 2, before[
        -3000:
    ]  # initializationOptions + the initial didChangeConfiguration
    for settings in sent:
        assert settings["http"]["enabled"] is False, settings
        assert settings["references"]["allowOutsideWorkspace"] is False, settings
        assert "server" not in settings and "trace" not in settings and "model" not in settings, (
            settings
        )
    assert "PT_WORKSPACE_CMD" not in before, "the untrusted workspace's server command was run"
    # once trusted, the workspace's own values count (restricted settings are honoured again):
    # its server command (so a restart), and its http.enabled / allowOutsideWorkspace
    assert "restarting the server" in after and "starting env PT_WORKSPACE_CMD=1 " in after, after[
        -3000:
    ]
    assert "server running" in after, after[-3000:]
    resent = _sent_settings(after)
    assert resent and all(x["http"]["enabled"] is True for x in resent), after[-3000:]
    assert all(x["references"]["allowOutsideWorkspace"] is True for x in resent), resent
    assert "Restarting server failed" not in channel, channel[-3000:]
    assert "invalid settings" not in channel and "unknown setting" not in channel, channel[-3000:]


def test_vscode_server_not_found(tmp_path: Path) -> None:
    """A server command that does not exist: notification with the fix + "Restart server"."""
    _require_parts()
    _ensure_vsix()
    ws = _workspace(tmp_path, {})
    user = {
        **USER_SETTINGS,
        "promptTokens.server.command": [str(tmp_path / "nowhere" / "prompt-tokens"), "lsp"],
    }
    spec = {
        **_expected(ws),
        "mode": "broken",
        "broken": {"message": "Prompt Tokens: could not start the language server"},
    }
    data, _ = _run(tmp_path, ws, user, spec)
    assert [s["name"] for s in data["steps"]] == [
        "load workbench",
        "open review.md",
        "notification: server cannot start",
        'notification offers "Restart server"',
        "status bar says the server is not running",
    ]
    toast = data["steps"][3]["data"]["text"]
    assert "command not found" in toast and "promptTokens.server.command" in toast, toast
    toasts = [t["text"] for t in data["steps"][2]["data"]]
    assert len(toasts) == 1, toasts  # one clear notification, not the client's generic one as well


def test_vscode_default_server_command(tmp_path: Path) -> None:
    """No promptTokens.server.command: the extension finds the server by itself — `prompt-tokens`
    on the extension host's PATH, else the trusted workspace's .venv/bin/prompt-tokens (here a
    wrapper around this Python; VS Code's server takes PATH from the login shell, not from us)."""
    _require_parts()
    _ensure_vsix()
    ws = _workspace(tmp_path, {"promptTokens.cache.path": None})
    exe = ws / ".venv" / "bin" / "prompt-tokens"
    exe.parent.mkdir(parents=True)
    exe.write_text(f'#!/bin/sh\nexec {sys.executable} -m prompt_tokens "$@"\n', encoding="utf-8")
    exe.chmod(0o755)
    data, _ = _run(tmp_path, ws, dict(USER_SETTINGS), {**_expected(ws), "mode": "quick"})
    assert [s["name"] for s in data["steps"]][:4] == [
        "load workbench",
        "open review.md",
        "quick: total inlay hint",
        "quick: status bar item",
    ]
    channel = _output_channel(tmp_path)
    assert (
        f"starting {exe} lsp (from workspace-venv;" in channel or " lsp (from path;" in channel
    ), channel[:3000]


CRASHING = """# A server that dies after a while: counts its launches, runs the real server, kills it.
import subprocess, sys
counter, life, cmd = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
try:
    n = int(open(counter).read() or 0)
except OSError:
    n = 0
open(counter, "w").write(str(n + 1))
proc = subprocess.Popen(cmd)
try:
    proc.wait(timeout=life)
except subprocess.TimeoutExpired:
    proc.kill()
    proc.wait()
sys.exit(1)
"""


def test_vscode_server_crashes_restart_then_give_up(tmp_path: Path) -> None:
    """The language client's own restart policy: a crashed server is started again (the status
    bar comes back); after 3 restarts within 3 minutes it stops, with the extension's
    notification (the fix) and the status bar saying so — exactly 4 launches."""
    _require_parts()
    _ensure_vsix()
    ws = _workspace(tmp_path, {"promptTokens.cache.path": None})
    script = tmp_path / "crashing_server.py"
    script.write_text(CRASHING, encoding="utf-8")
    counter = tmp_path / "launches"
    user = {
        **USER_SETTINGS,
        "promptTokens.server.command": [
            sys.executable,
            str(script),
            str(counter),
            "8",
            *server_cmd(),
        ],
    }
    spec = {
        **_expected(ws),
        "mode": "crash",
        "crash": {
            "counter": str(counter),
            "message": "stopped repeatedly and is not restarted",
        },
    }
    data, _ = _run(tmp_path, ws, user, spec)
    assert [s["name"] for s in data["steps"]] == [
        "load workbench",
        "open review.md",
        "status bar item (first server)",
        "server restarted by the client after a crash",
        "status bar item (restarted server)",
        "notification: the server keeps crashing",
        "status bar says the server is not running",
    ]
    toasts = data["steps"][5]["data"]  # ours only, not the client's own as well
    assert len(toasts) == 1 and "stopped repeatedly" in toasts[0], toasts
    assert "promptTokens.server.command" in toasts[0], toasts
    time.sleep(2)  # a fifth launch would come within this
    assert counter.read_text() == "4", counter.read_text()
    channel = _output_channel(tmp_path)
    assert channel.count("server stopped unexpectedly; restarting") == 3, channel[-3000:]
