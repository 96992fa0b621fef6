"""Reading the base revision from a real git repository: revisions, renames, deletions, blobs."""

from __future__ import annotations

from pathlib import Path

import pytest

from prompt_tokens.ci.gitbase import (
    GitBaseError,
    open_base,
    read_blobs,
    read_texts,
    repo_prefix,
    repo_root,
    resolve,
)
from prompt_tokens.errors import UsageError
from tests.unit.ci_repo import git, make_repo, write


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


def sha(repo: Path, rev: str) -> str:
    return git(repo, "rev-parse", rev).strip()


def test_revisions_resolve_like_git(repo: Path) -> None:
    branch_point = sha(repo, "main~1")
    assert resolve("main", repo) == sha(repo, "main")
    assert resolve("main...HEAD", repo) == branch_point != sha(repo, "main")
    assert resolve("main...", repo) == branch_point  # an empty side is HEAD
    assert resolve("main..HEAD", repo) == sha(repo, "main")  # A..B compares with A
    assert resolve(sha(repo, "HEAD")[:10], repo) == sha(repo, "HEAD")
    git(repo, "tag", "-a", "v1", "-m", "tag", "main~1")
    assert resolve("v1", repo) == branch_point  # an annotated tag peels to its commit


@pytest.mark.parametrize("rev", ["nope", "main...nope", "HEAD~99", "--output=x", "a\nb"])
def test_unknown_revisions_are_one_line_usage_errors(repo: Path, rev: str) -> None:
    with pytest.raises(GitBaseError) as info:
        resolve(rev, repo)
    message = str(info.value)
    assert isinstance(info.value, UsageError)  # the CLI maps these to exit 2
    assert "\n" not in message
    assert ("nope" in message) or ("HEAD~99" in message) or ("not a git revision" in message)


def test_unrelated_histories_say_so(repo: Path) -> None:
    git(repo, "checkout", "-q", "--orphan", "other")
    git(repo, "commit", "-q", "-m", "unrelated", "--allow-empty")
    with pytest.raises(GitBaseError, match="share no history"):
        resolve("main...other", repo)


def test_not_a_repository(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(GitBaseError, match="not inside a git work tree"):
        open_base("HEAD", plain)


def test_shallow_clone_names_the_fix(repo: Path, tmp_path: Path) -> None:
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", "--branch", "feature", repo.as_uri(), str(clone))
    with pytest.raises(GitBaseError, match=r"shallow.*fetch-depth: 0"):
        resolve("HEAD~1", clone)


def test_snapshot_pairs_renames_and_deletions(repo: Path) -> None:
    snap = open_base("main...HEAD", repo)
    assert snap.commit == sha(repo, "main~1")
    assert snap.repo_root == repo_root(repo)
    assert set(snap.files) == {
        "docs/guide.md",
        "docs/style.md",
        "docs/gone.md",
        "notes/old-name.md",
        ".github/instructions/python.instructions.md",
        ".github/instructions/web.instructions.md",
    }
    assert snap.renames == {"notes/new-name.md": "notes/old-name.md"}
    assert snap.deleted == ("docs/gone.md",)
    assert snap.base_path("notes/new-name.md") == "notes/old-name.md"
    assert snap.base_path("docs/guide.md") == "docs/guide.md"
    assert snap.base_path("docs/added.md") is None
    entry = snap.entry_for(repo / "notes" / "new-name.md")
    assert entry is not None and entry.blob == sha(repo, "main~1:notes/old-name.md")
    assert snap.entry_for(repo / "docs" / "added.md") is None


def test_base_texts_are_the_base_version_not_main(repo: Path) -> None:
    snap = open_base("main...HEAD", repo)
    texts, problems = read_texts(snap, ["docs/style.md", "docs/gone.md", "notes/old-name.md"])
    assert problems == []
    assert texts["docs/style.md"] == git(repo, "show", "main~1:docs/style.md")
    assert "active voice" not in texts["docs/style.md"]  # main's later edit is not the base
    assert texts["docs/gone.md"] == git(repo, "show", "main~1:docs/gone.md")
    assert texts["notes/old-name.md"] == (repo / "notes" / "new-name.md").read_text()


def test_blobs_come_from_one_batch_and_match_cat_file(repo: Path) -> None:
    snap = open_base("HEAD", repo)
    oids = [e.blob for e in snap.files.values()]
    blobs = read_blobs(repo, [*oids, oids[0]])  # duplicates are asked once
    assert set(blobs) == set(oids)
    for e in snap.files.values():
        assert blobs[e.blob] == (repo / e.path).read_bytes()
        assert len(blobs[e.blob]) == e.size
    with pytest.raises(GitBaseError, match="no object"):
        read_blobs(repo, ["0" * 40])
    assert read_blobs(repo, []) == {}


def test_uncommitted_work_tree_changes_count(repo: Path) -> None:
    write(repo, "docs/style.md", "changed, not committed\n")
    git(repo, "mv", "docs/added.md", "docs/renamed-later.md")
    (repo / ".github/instructions/web.instructions.md").unlink()
    snap = open_base("HEAD", repo)
    assert snap.renames == {"docs/renamed-later.md": "docs/added.md"}
    assert snap.deleted == (".github/instructions/web.instructions.md",)
    kinds = {c.path: c.kind for c in snap.changes}
    assert kinds["docs/style.md"] == "modified"


def test_binary_and_large_blobs_are_left_out_with_a_message(repo: Path) -> None:
    (repo / "docs" / "blob.md").write_bytes(b"text\x00binary")
    write(repo, "docs/big.md", "x" * 5000)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "odd files")
    snap = open_base("HEAD", repo)
    texts, problems = read_texts(
        snap, ["docs/blob.md", "docs/big.md", "docs/style.md"], max_bytes=4000
    )
    assert set(texts) == {"docs/style.md"}
    assert len(problems) == 2
    assert any("docs/big.md at HEAD: larger than 4,000 bytes" in p for p in problems)
    assert any("binary" in p and "docs/blob.md" in p for p in problems)


def test_strange_file_names_survive_the_z_format(repo: Path) -> None:
    odd = "docs/we ird\tname\n\u00e9.md"
    write(repo, odd, "odd\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "odd name")
    git(repo, "mv", odd, "docs/plain.md")
    snap = open_base("HEAD", repo)
    assert odd in snap.files
    assert snap.renames == {"docs/plain.md": odd}


def test_workspace_in_a_subfolder(repo: Path) -> None:
    sub = repo / "docs"
    assert repo_prefix(sub) == "docs/"
    assert repo_prefix(repo) == ""
    snap = open_base("main...HEAD", sub)  # any folder inside the work tree finds the repository
    assert snap.repo_path(sub / "guide.md") == "docs/guide.md"
    assert snap.repo_path(repo.parent / "elsewhere.md") is None
    assert snap.deleted_within([sub], (".md",)) == ["docs/gone.md"]
    assert snap.deleted_within([repo / "notes"], (".md",)) == []
    assert snap.deleted_within([repo], (".txt",)) == []
    assert repo_prefix(repo.parent) == ""  # outside git: no prefix, no error
