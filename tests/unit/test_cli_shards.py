"""A big cold run counted in forked worker processes gives exactly what one process gives.

Real corpus files (with their references, front matter and skills), a file that cannot be
counted, and the chunking that spreads the bytes; the runs are real ``python -m prompt_tokens``
processes with real SQLite caches.
"""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from prompt_tokens.cli.shards import (
    FILE_COST,
    LAST_SHARE,
    MIN_FILES,
    chunks,
    start_workers,
    stop_workers,
    worth_sharding,
)
from tests.unit.cli_helpers import run
from tests.unit.shared_corpus import corpus_dir


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "work"
    shutil.copytree(corpus_dir(), root)
    (root / ".git").mkdir()
    (root / "broken.md").write_bytes(b"\x00\x01binary\xff" * 10)  # skipped with a warning
    return root


def _count(root: Path, db: Path, workers: str) -> tuple[dict[str, object], str]:
    env = {"PROMPT_TOKENS_WORKERS": workers}
    proc = run("count", "--json", "--stats", "--cache", str(db), ".", cwd=root, env=env)
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr
    start = err.index("{")
    stats, end = json.JSONDecoder().raw_decode(err[start:])
    figures = stats["results"]
    assert figures["workers"] == int(workers) or figures["counted"] < MIN_FILES
    return json.loads(proc.stdout), err[:start] + err[start + end :]


def test_workers_give_what_one_process_gives(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    assert len(list(root.rglob("*.md"))) >= MIN_FILES  # big enough to be sharded
    one, one_err = _count(root, tmp_path / "one.sqlite3", "1")
    two, two_err = _count(root, tmp_path / "two.sqlite3", "2")
    assert two == one
    assert sorted(two_err.splitlines()) == sorted(one_err.splitlines())
    assert "broken.md" in two_err and "Traceback" not in two_err
    # The results the workers made were kept: the next run knows every one.
    warm, _ = _count(root, tmp_path / "two.sqlite3", "2")
    assert warm == one


EARLY = "workers forked before the walk"


def _early_run(root: Path, db: Path | None) -> tuple[dict[str, object], str]:
    env = {"PROMPT_TOKENS_WORKERS": "2"}
    cache = ["--cache", str(db)] if db is not None else ["--no-cache"]
    proc = run("-vv", "count", "--json", *cache, ".", cwd=root, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc.stderr


def test_a_cold_run_over_folders_forks_its_workers_before_the_walk(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    one, _ = _count(root, tmp_path / "one.sqlite3", "1")
    early, err = _early_run(root, tmp_path / "fresh.sqlite3")
    assert EARLY in err and "Traceback" not in err
    assert early == one
    # A cache file exists now: the next run may be warm, so nothing is forked before the walk.
    _, err = _early_run(root, tmp_path / "fresh.sqlite3")
    assert EARLY not in err
    # The early workers only wrote their cache (they never read it): that run knew every
    # result but the unreadable file's.
    proc = run("count", "--json", "--stats", "--cache", str(tmp_path / "fresh.sqlite3"), ".",
               cwd=root, env={"PROMPT_TOKENS_WORKERS": "2"})  # fmt: skip
    figures, _ = json.JSONDecoder().raw_decode(proc.stderr[proc.stderr.index("{") :])
    assert figures["results"]["counted"] == 1 and json.loads(proc.stdout) == one
    # No cache at all is as cold as a new file.
    nocache, err = _early_run(root, None)
    assert EARLY in err and nocache == one


def test_workers_forked_early_for_a_small_folder_are_stopped(tmp_path: Path) -> None:
    root = tmp_path / "small"
    (root / ".git").mkdir(parents=True)
    (root / "a.md").write_text("Hello {{ name }} and see @b.md\n")
    (root / "b.md").write_text("World.\n")
    got, err = _early_run(root, tmp_path / "c.sqlite3")
    assert EARLY in err and "Traceback" not in err
    one = run("count", "--json", "--no-cache", ".", cwd=root, env={"PROMPT_TOKENS_WORKERS": "1"})
    assert got == json.loads(one.stdout)


def test_stopped_workers_are_gone() -> None:
    pool = start_workers(2)
    processes = list(pool._processes.values())
    assert len(processes) == 2
    stop_workers(pool)
    # ended by a signal, not after their warm-up (shutdown alone would wait for it)
    assert [p.exitcode for p in processes] == [-signal.SIGTERM] * 2
    stop_workers(pool)  # twice (a run's normal end after its workers were used): harmless


def test_small_runs_stay_in_one_process() -> None:
    assert worth_sharding(3, 1000) == 0


@given(
    st.lists(st.integers(0, 5 << 20), min_size=1, max_size=300),
    st.integers(1, 8),
)
def test_chunks_cover_every_file_once_and_shrink_towards_the_end(
    sizes: list[int], workers: int
) -> None:
    parts = chunks(sizes, workers)
    assert sorted(i for p in parts for i in p) == list(range(len(sizes)))
    costs = [sum(sizes[i] + FILE_COST for i in p) for p in parts]
    total = sum(costs)
    # no chunk but the first is more than half of what was left per worker (plus the file
    # that took it over): whoever takes the last chunks ends soon after the others
    for k in range(1, len(parts)):
        left = sum(costs[k:])
        biggest = max(sizes[i] + FILE_COST for i in parts[k])
        assert costs[k] <= max(left / (2 * workers), total / (workers * LAST_SHARE)) + biggest
    # and no more chunks than the smallest share allows (each costs a runtime)
    assert len(parts) <= workers * LAST_SHARE + 1


def test_chunks_hand_out_the_big_files_first() -> None:
    sizes = [1_000] * 200 + [4 << 20]
    parts = chunks(sizes, 2)
    assert 200 in parts[0]
    assert len(parts) > 2  # not one chunk per worker: the end is spread thin
