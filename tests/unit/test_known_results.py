"""Whole-document results reused by a warm CLI run are never stale.

Each case runs the real CLI twice in-process on a real SQLite file: once to keep the results,
then after a change a user makes (a referenced file edited, a missing reference created, a
skill resource added, the settings changed); the second run must equal a run with no cache at
all, and must say through ``--stats`` whether it reused or recounted.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from prompt_tokens.cli.main import main
from tests.unit.cli_helpers import put


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    put(root, "AGENTS.md", "Read @docs/guide.py and @docs/missing.py first.\n")
    put(root, "docs/guide.py", "GUIDE = ' " + "words " * 50 + "\n")
    put(root, "plain.md", "No references here at all.\n")
    put(root, "skills/demo/SKILL.md", "---\nname: demo\ndescription: Does a demo.\n---\nBody.\n")
    return root


def _count(
    capsys: pytest.CaptureFixture[str], root: Path, *flags: str
) -> tuple[dict[str, object], dict[str, int]]:
    capsys.readouterr()
    code = main(["count", "--json", "--stats", *flags, str(root)])
    out = capsys.readouterr()
    assert code == 0, out.err
    stats, _ = json.JSONDecoder().raw_decode(out.err[out.err.index("{") :])
    return json.loads(out.out), stats["results"]


def _fresh(capsys: pytest.CaptureFixture[str], root: Path, *flags: str) -> dict[str, object]:
    capsys.readouterr()
    assert main(["count", "--json", "--no-cache", *flags, str(root)]) == 0
    out: dict[str, object] = json.loads(capsys.readouterr().out)
    return out


def _bump(path: Path, text: str) -> None:
    """Write ``text``, moving mtime on even where the clock is coarse."""
    st = path.stat() if path.exists() else None
    path.write_text(text, encoding="utf-8")
    if st is not None:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def test_an_unchanged_tree_is_all_known_and_equal(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "c.sqlite3")
    cold, first = _count(capsys, repo, "--cache", db)
    warm, second = _count(capsys, repo, "--cache", db)
    assert cold == warm == _fresh(capsys, repo)
    assert first == {"known": 0, "counted": 3, "stored": 3, "workers": 1}
    assert second == {"known": 3, "counted": 0, "stored": 0, "workers": 1}
    with sqlite3.connect(db) as conn:
        rows = [r[0] for r in conn.execute("SELECT result FROM results")]
    assert rows and not any("words words" in r for r in rows)  # no document text is kept


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda r: _bump(r / "docs/guide.py", "SHORT = 1\n"), id="edited-ref"),
        pytest.param(lambda r: put(r, "docs/missing.py", "EXISTS = 1\n"), id="created-ref"),
        pytest.param(lambda r: put(r, "skills/demo/run.py", "print(1)\n" * 9), id="skill-file"),
        pytest.param(lambda r: _bump(r / "plain.md", "Edited text here.\n"), id="edited-doc"),
    ],
)
def test_a_change_under_a_result_recounts_it(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], change: object
) -> None:
    db = str(tmp_path / "c.sqlite3")
    _count(capsys, repo, "--cache", db)
    assert callable(change)
    change(repo)
    warm, figures = _count(capsys, repo, "--cache", db)
    assert warm == _fresh(capsys, repo)
    assert figures["counted"] == 1 and figures["known"] == 2


def test_other_settings_make_other_results(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "c.sqlite3")
    _count(capsys, repo, "--cache", db)
    (repo / ".prompt-tokens.toml").write_text('encoding = "o200k_base"\n', encoding="utf-8")
    warm, figures = _count(capsys, repo, "--cache", db)
    assert warm == _fresh(capsys, repo)
    assert figures["known"] == 0
    _, no_refs = _count(capsys, repo, "--cache", db, "--no-references")
    assert no_refs["known"] == 0  # the flag is part of what a result depends on


def test_a_result_that_read_a_url_is_not_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    # A blocked address: nothing is fetched, but the result still rests on a URL.
    put(root, "a.md", "See @http://127.0.0.1:9/x.md please.\n")
    db = str(tmp_path / "c.sqlite3")
    _count(capsys, root, "--cache", db)
    _, figures = _count(capsys, root, "--cache", db)
    assert figures == {"known": 0, "counted": 1, "stored": 0, "workers": 1}


def test_an_unreadable_row_is_counted_again(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "c.sqlite3")
    cold, _ = _count(capsys, repo, "--cache", db)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE results SET result = '{\"broken\": 1}'")
    warm, figures = _count(capsys, repo, "--cache", db)
    assert warm == cold and figures["counted"] == 3
