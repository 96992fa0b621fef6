"""The CLI as a user runs it: a real subprocess, real files, a real SQLite cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from prompt_tokens.ci.formats import FORMATS
from prompt_tokens.cli.args import FORMATS as FLAG_CHOICES
from tests.conftest import plain_count


def run(
    *args: str, cwd: Path, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "prompt_tokens", *args],
        cwd=cwd,
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
    )


SPEC = "# Spec\n\nThe service answers in JSON. Errors carry a `code` and a `message`.\n"
DOC = "You are a helpful assistant.\nRead @docs/spec.md first, then answer.\n"


@pytest.fixture
def ws(workspace: Path) -> Path:
    (workspace / "docs").mkdir()
    (workspace / "docs" / "spec.md").write_text(SPEC)
    (workspace / "prompt.md").write_text(DOC)
    return workspace


def test_count_json_shape_and_exact_totals(ws: Path) -> None:
    r = run("count", "--json", "--no-cache", "prompt.md", cwd=ws)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    (f,) = out["files"]
    text, refs = plain_count("cl100k_base", DOC), plain_count("cl100k_base", SPEC)
    assert f["path"] == "prompt.md"
    assert f["encoding"] == "cl100k_base" and f["budget"] == 8192 and f["status"] == "ok"
    assert f["tokens"] == {"text": text, "references": refs, "total": text + refs}
    assert f["references"] == [
        {
            "kind": "file",
            "target": str((ws / "docs" / "spec.md").resolve()),
            "tokens": refs,
            "status": "ok",
            "error": None,
        }
    ]
    assert out["total"] == text + refs


def test_no_references_flag(ws: Path) -> None:
    r = run("count", "--json", "--no-cache", "--no-references", "prompt.md", cwd=ws)
    f = json.loads(r.stdout)["files"][0]
    assert f["tokens"]["references"] == 0 and f["references"] == []
    assert f["tokens"]["text"] == plain_count("cl100k_base", DOC)


def test_model_and_encoding_flags(ws: Path) -> None:
    r = run("count", "--json", "--no-cache", "--model", "gpt-4o", "prompt.md", cwd=ws)
    f = json.loads(r.stdout)["files"][0]
    assert f["encoding"] == "o200k_base" and f["budget"] == 128_000
    assert f["tokens"]["text"] == plain_count("o200k_base", DOC)
    r = run(
        "count",
        "--json",
        "--no-cache",
        "--encoding",
        "o200k_base",
        "--budget",
        "10",
        "prompt.md",
        cwd=ws,
    )
    f = json.loads(r.stdout)["files"][0]
    assert f["encoding"] == "o200k_base" and f["budget"] == 10 and f["status"] == "exceeded"


def test_special_token_text_counts_as_text(workspace: Path) -> None:
    text = "Stop at <|endoftext|> and <|fim_prefix|> please.\n"
    (workspace / "s.md").write_text(text)
    r = run("count", "--json", "--no-cache", "s.md", cwd=workspace)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["files"][0]["tokens"]["text"] == plain_count("cl100k_base", text)


def test_check_exit_codes(ws: Path) -> None:
    assert run("check", "--no-cache", "prompt.md", cwd=ws).returncode == 0
    over = run("check", "--no-cache", "--budget", "5", "prompt.md", cwd=ws)
    assert over.returncode == 1
    assert "exceed the budget of 5" in over.stderr
    usage = run("check", "--bogus", "prompt.md", cwd=ws)
    assert usage.returncode == 2 and "Traceback" not in usage.stderr
    both = run("check", "--model", "gpt-4o", "--encoding", "o200k_base", "prompt.md", cwd=ws)
    assert both.returncode == 2


def test_front_matter_budget_and_warning_status(workspace: Path) -> None:
    body = "word " * 50
    doc = f"---\nmax_tokens: 60\n---\n{body}\n"
    (workspace / "w.md").write_text(doc)
    total = plain_count("cl100k_base", doc)
    assert 48 <= total <= 60  # warning zone (≥ 80 % of 60) but not exceeded
    f = json.loads(run("count", "--json", "--no-cache", "w.md", cwd=workspace).stdout)["files"][0]
    assert (f["budget"], f["status"], f["tokens"]["total"]) == (60, "warning", total)


def test_missing_file_is_one_clear_line_and_exit_2(ws: Path) -> None:
    r = run("count", "--no-cache", "nope.md", "prompt.md", cwd=ws)
    assert r.returncode == 2  # a typo, never confused with "over budget" (1)
    assert r.stderr == "prompt-tokens: nope.md: no such file or folder\n"
    assert "prompt.md" in r.stdout  # the good file is still counted


def test_binary_document_is_refused_clearly(workspace: Path) -> None:
    (workspace / "b.md").write_bytes(b"abc\x00def")
    r = run("count", "--no-cache", "b.md", cwd=workspace)
    assert r.returncode == 2 and "binary" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.splitlines()) == 1


def test_stdin(workspace: Path) -> None:
    r = run("count", "--json", "--no-cache", "-", cwd=workspace, stdin=b"hello world\r\n")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["files"][0]["tokens"]["text"] == plain_count(
        "cl100k_base", "hello world\r\n"
    )


def test_folder_walk_skips_git_ignored_and_other_files(ws: Path) -> None:
    subprocess.run(["git", "init", "-q", str(ws)], check=True)
    (ws / ".gitignore").write_text("ignored.md\n")
    (ws / "ignored.md").write_text("secret")
    (ws / "image.png").write_bytes(b"\x89PNG\x00")
    (ws / "sub").mkdir()
    (ws / "sub" / "t.prompty").write_text("---\nname: x\n---\nhi {{name}}\n")
    r = run("count", "--json", "--no-cache", ".", cwd=ws)
    assert r.returncode == 0, r.stderr
    paths = sorted(
        Path(f["path"]).relative_to(ws).as_posix()
        if Path(f["path"]).is_absolute()
        else Path(f["path"]).as_posix()
        for f in json.loads(r.stdout)["files"]
    )
    assert paths == ["docs/spec.md", "prompt.md", "sub/t.prompty"]


def test_toml_settings_and_flags_override(ws: Path) -> None:
    (ws / ".prompt-tokens.toml").write_text("budget = 20\nwarningRatio = 0.5\n")
    f = json.loads(run("count", "--json", "--no-cache", "prompt.md", cwd=ws).stdout)["files"][0]
    assert f["budget"] == 20
    f = json.loads(
        run("count", "--json", "--no-cache", "--budget", "30", "prompt.md", cwd=ws).stdout
    )["files"][0]
    assert f["budget"] == 30


def test_bad_toml_value_warns_and_uses_default(ws: Path) -> None:
    (ws / ".prompt-tokens.toml").write_text("warningRatio = 7\n")
    r = run("count", "--json", "--no-cache", "prompt.md", cwd=ws)
    assert r.returncode == 0
    assert "warningRatio" in r.stderr and "using the default" in r.stderr


def test_cache_persists_across_processes(ws: Path, tmp_path: Path) -> None:
    cache = tmp_path / "c" / "cache.sqlite3"
    first = run("count", "--json", "--cache", str(cache), "--stats", "prompt.md", cwd=ws)
    assert first.returncode == 0, first.stderr
    second = run("count", "--json", "--cache", str(cache), "--stats", "prompt.md", cwd=ws)
    assert json.loads(first.stdout) == json.loads(second.stdout)
    text, refs = plain_count("cl100k_base", DOC), plain_count("cl100k_base", SPEC)
    tokens = json.loads(second.stdout)["files"][0]["tokens"]
    assert tokens == {"text": text, "references": refs, "total": text + refs}
    assert cache.is_file()
    stats = run("cache", "stats", "--cache", str(cache), cwd=ws)
    assert stats.returncode == 0 and json.loads(stats.stdout)["persistent"] is True
    # The cache never holds document or referenced text.
    blob = b"".join(p.read_bytes() for p in cache.parent.iterdir())
    assert b"helpful assistant" not in blob and b"carry a" not in blob


def test_corrupt_cache_still_counts(ws: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite3"
    cache.write_bytes(b"this is not a database" * 100)
    r = run("count", "--json", "--cache", str(cache), "prompt.md", cwd=ws)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert json.loads(r.stdout)["files"][0]["tokens"]["text"] == plain_count("cl100k_base", DOC)


def test_cache_clear_and_prune(ws: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite3"
    run("count", "--cache", str(cache), "prompt.md", cwd=ws)
    assert (
        run("cache", "prune", "--cache", str(cache), "--max-age-days", "0", cwd=ws).returncode == 0
    )
    r = run("cache", "clear", "--cache", str(cache), cwd=ws)
    assert r.returncode == 0 and "cleared" in r.stdout


def test_examples_demo(tmp_path: Path) -> None:
    """The README's demo: examples/ counts cleanly and exactly one prompt fails the check."""
    examples = Path(__file__).resolve().parents[2] / "examples"
    r = run("check", "--json", "--no-cache", str(examples), cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    files = {Path(f["path"]).name: f for f in json.loads(r.stdout)["files"]}
    assert files["over-budget.md"]["status"] == "exceeded"
    assert [n for n, f in files.items() if f["status"] == "exceeded"] == ["over-budget.md"]
    refs = [ref for f in files.values() for ref in f["references"]]
    assert all(ref["status"] == "ok" for ref in refs if ref["kind"] != "variable"), refs
    # review.prompt.md's ${input:file} is only known when VS Code asks the user for it.
    undefined = [ref["target"] for ref in refs if ref["status"] == "error"]
    assert undefined == ["file"], refs


def test_warm_run_uses_the_fingerprint_and_count_cache(workspace: Path, tmp_path: Path) -> None:
    """A second process with the same cache neither re-encodes nor re-reads an unchanged file."""
    body = "Plain prompt text without references.\n" * 200
    (workspace / "p.md").write_text(body)
    cache = tmp_path / "cache.sqlite3"
    args = ("count", "--json", "--stats", "--cache", str(cache), "p.md")
    cold = run(*args, cwd=workspace)
    warm = run(*args, cwd=workspace)
    assert json.loads(cold.stdout) == json.loads(warm.stdout)
    assert json.loads(warm.stdout)["files"][0]["tokens"]["text"] == plain_count("cl100k_base", body)
    known = json.loads(warm.stderr[warm.stderr.index("{") :])["results"]
    assert (known["known"], known["counted"]) == (1, 0)  # the whole result was reused
    # Under other settings the result is made again, from the cached fingerprint and count.
    other = run(*args, "--budget", "999999", cwd=workspace)
    stats = json.loads(other.stderr[other.stderr.index("{") :])
    assert stats["results"]["counted"] == 1
    assert stats["cache"]["lookups"]["fingerprints"]["disk_hits"] >= 1
    assert stats["cache"]["lookups"]["counts"]["misses"] == 0
    # Changing the file changes the count: the cache is keyed by content, never stale.
    (workspace / "p.md").write_text(body + "More.\n")
    again = run(*args, cwd=workspace)
    assert json.loads(again.stdout)["files"][0]["tokens"]["text"] == plain_count(
        "cl100k_base", body + "More.\n"
    )


def test_unknown_model_flag_is_a_usage_error(ws: Path) -> None:
    r = run("count", "--json", "--no-cache", "--model", "gpt-9000", "prompt.md", cwd=ws)
    assert r.returncode == 2 and r.stdout == ""
    assert "Unknown model 'gpt-9000'" in r.stderr and "gpt-4o" in r.stderr
    assert "prompt-tokens models" in r.stderr and len(r.stderr.splitlines()) == 1


def test_unknown_model_in_front_matter_warns_and_falls_back(workspace: Path) -> None:
    doc = "---\nmodel: gpt-9000\n---\nHello.\n"
    (workspace / "m.md").write_text(doc)
    r = run("count", "--json", "--no-cache", "m.md", cwd=workspace)
    assert r.returncode == 0  # a file's model is the file's business: a warning, counted
    f = json.loads(r.stdout)["files"][0]
    assert (f["encoding"], f["budget"]) == ("cl100k_base", 8192)
    assert f["tokens"]["text"] == plain_count("cl100k_base", doc)
    assert "Unknown model 'gpt-9000'" in r.stderr and "[unknown-model]" in r.stderr


def test_bad_encoding_flag_is_a_usage_error(ws: Path) -> None:
    r = run("count", "--encoding", "p50k_base", "prompt.md", cwd=ws)
    assert r.returncode == 2 and "--encoding must be one of" in r.stderr


def test_help_documents_every_flag(tmp_path: Path) -> None:
    check = run("check", "--help", cwd=tmp_path)
    assert check.returncode == 0
    for flag in ("--format", "--base REV", "--max-increase N|P%", "--json", "--budget", "--model"):
        assert flag in check.stdout, flag
    for fmt in ("text", "json", "sarif", "junit", "github"):
        assert fmt in check.stdout
    context = run("context", "--help", cwd=tmp_path).stdout
    for flag in (
        "--agent",
        "claude-code|copilot|codex|cursor|all",
        "--json",
        "--no-user",
        "--model",
    ):
        assert flag in context, flag
    assert "--json" in run("models", "--help", cwd=tmp_path).stdout
    top = run("--help", cwd=tmp_path).stdout
    assert all(c in top for c in ("count", "check", "context", "models", "cache", "lsp"))


def test_format_names_match_the_renderers() -> None:
    assert FLAG_CHOICES == FORMATS


def test_starting_the_cli_loads_no_engine() -> None:
    """``prompt-tokens lsp`` must answer ``initialize`` fast: importing the CLI loads neither
    tiktoken nor rich nor the report renderers (each command imports its own module)."""
    code = (
        "import sys, prompt_tokens.cli; "
        "print(sorted(m for m in ('tiktoken', 'rich', 'prompt_tokens.ci.formats', "
        "'prompt_tokens.runtime') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
