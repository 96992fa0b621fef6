"""A warm ``count`` run (same SQLite cache, nothing changed) writes nothing and parses no
front matter again; checked through the file's bytes and a YAML parse counter."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from prompt_tokens.cli.discovery import walk
from prompt_tokens.cli.main import main
from prompt_tokens.doc_config import is_neutral
from prompt_tokens.doc_loader import HEAD_BYTES
from prompt_tokens.references import frontmatter
from prompt_tokens.references.frontmatter import parse_front_matter
from prompt_tokens.text.markdown import front_matter_open
from prompt_tokens.tokenizer.textio import decode_bytes
from tests.unit.cli_helpers import run
from tests.unit.shared_corpus import corpus_dir


def _db_state(db: Path) -> dict[str, str]:
    """sha256 of the cache file and its side files (WAL, shared memory index)."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(db.parent.glob(db.name + "*"))
        if not p.name.endswith("-shm")  # the WAL index, rewritten by readers too
    }


def _non_neutral(files: list[Path]) -> int:
    """Files whose front matter sets something (parsed on every run, by design)."""
    n = 0
    for path in files:
        with path.open("rb") as fh:
            head, _ = decode_bytes(fh.read(HEAD_BYTES))
        if front_matter_open(head) is not None and not is_neutral(parse_front_matter(head)):
            n += 1
    return n


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "work"
    shutil.copytree(corpus_dir(), root)
    (root / ".git").mkdir()
    return root


def _count(
    capsys: pytest.CaptureFixture[str], root: Path, db: Path, *flags: str
) -> dict[str, object]:
    capsys.readouterr()
    assert main(["count", "--json", "--cache", str(db), *flags, str(root)]) == 0
    out: dict[str, object] = json.loads(capsys.readouterr().out)
    return out


def test_warm_run_writes_nothing_and_parses_no_neutral_yaml(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    parses = 0
    real = frontmatter._compose  # one call per YAML block parsed, whichever loader reads it

    def counting(source: str) -> tuple[object, object]:
        nonlocal parses
        parses += 1
        return real(source)

    monkeypatch.setattr(frontmatter, "_compose", counting)
    monkeypatch.setenv("PROMPT_TOKENS_WORKERS", "1")  # parses are counted in this process
    # A SKILL.md's result also carries its skill summary (agents.skills), which reads the
    # skill's own front matter on every run by design; this test is about document settings.
    shutil.rmtree(tree / "skills")
    db = tmp_path / "cache.sqlite3"
    files = list(walk(tree))
    assert len(files) > 100
    non_neutral = _non_neutral(files)
    parses = 0

    cold = _count(capsys, tree, db)
    cold_parses = parses
    assert cold_parses > non_neutral  # neutral front matter exists in the corpus, and was parsed
    before = _db_state(db)
    assert before

    parses = 0
    warm = _count(capsys, tree, db)
    assert warm == cold
    assert parses == 0  # every result was known: no front matter read at all
    assert _db_state(db) == before  # no row written, not even a last-use time

    # Other settings (another budget) make other results: the files are counted again, but
    # their fingerprints and counts are known, so only the documents that set something
    # have their front matter parsed again.
    parses = 0
    other = _count(capsys, tree, db, "--budget", "12345")
    assert other["total"] == cold["total"]
    assert parses == non_neutral


def _count_process(root: Path, db: Path) -> dict[str, object]:
    """The CLI as its own process (a warm run is a new process in real use)."""
    proc = run("count", "--json", "--no-references", "--cache", str(db), str(root), cwd=root)
    assert proc.returncode == 0, proc.stderr
    out: dict[str, object] = json.loads(proc.stdout)
    return out


def test_a_changed_file_is_recounted_on_a_warm_run(tree: Path, tmp_path: Path) -> None:
    db = tmp_path / "cache.sqlite3"
    cold = _count_process(tree, db)
    target = next(p for p in walk(tree) if p.suffix == ".md")
    target.write_text(target.read_text(encoding="utf-8") + "\nmore words here\n", "utf-8")
    warm = _count_process(tree, db)
    assert isinstance(cold["total"], int) and isinstance(warm["total"], int)
    assert warm["total"] > cold["total"]
    before = _db_state(db)
    again = _count_process(tree, db)
    assert again == warm
    assert _db_state(db) == before


_IMPORT_PROBE = """
import gc, sys
from prompt_tokens.cli.main import handler
frozen_before = gc.get_freeze_count()
fn = handler(sys.argv[1], own_process=sys.argv[2] == "own")
print(gc.isenabled(), gc.get_freeze_count() > frozen_before, callable(fn))
"""


@pytest.mark.parametrize(("own", "frozen"), [("own", True), ("borrowed", False)])
def test_the_executable_freezes_what_importing_its_command_made(own: str, frozen: bool) -> None:
    """In its own process the command's import is frozen for the collector (and the
    collector is on again after); called from someone else's process nothing is frozen."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE, "count", own],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == ["True", str(frozen), "True"]
