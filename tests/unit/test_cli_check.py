"""``prompt-tokens check`` as CI runs it: a real git repository with a base and a change, every
``--format`` checked for its numbers, paths and lines against plain tiktoken over git's own
copies of the files."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from tests.unit.ci_repo import count, git, make_repo, write
from tests.unit.cli_helpers import one_line, run

SCHEMA = json.loads((Path(__file__).parent.parent / "data" / "sarif-2.1.0-rtm.5.json").read_text())
BASE = "main...HEAD"
FILES = [
    ".github/instructions/python.instructions.md",
    ".github/instructions/web.instructions.md",
    "docs/added.md",
    "docs/guide.md",
    "docs/style.md",
    "notes/new-name.md",
]


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo(tmp_path_factory.mktemp("check") / "repo")


def at(repo: Path, rev: str, path: str) -> int:
    """Tokens of ``path`` as git holds it at ``rev``."""
    return count(git(repo, "show", f"{rev}:{path}"))


def now(repo: Path, path: str) -> int:
    return count((repo / path).read_text(encoding="utf-8"))


def merge_base(repo: Path) -> str:
    return git(repo, "merge-base", "main", "HEAD").strip()


def pct(old: int, new: int) -> str:
    p = 100 * (new - old) / old
    return ("+" if p >= 0 else "-") + f"{abs(p):.1f}".removesuffix(".0") + "%"


def check(repo: Path, *args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return run("check", "--no-cache", "--base", BASE, *args, ".", cwd=repo, env=env)


def test_text_shows_old_new_and_change_per_file(repo: Path) -> None:
    r = check(repo)
    assert r.returncode == 0, r.stderr
    mb = merge_base(repo)
    rows = {
        line.split()[0]: line
        for line in r.stdout.splitlines()[1:]
        if not line[0].isdigit() and not line.startswith("deleted ")
    }
    assert sorted(rows) == FILES
    old, new = at(repo, mb, "docs/guide.md"), now(repo, "docs/guide.md")
    assert rows["docs/guide.md"].endswith(f"{old:,} → {new:,} (+{new - old:,}, {pct(old, new)})")
    assert rows["docs/added.md"].endswith(
        f"new → {now(repo, 'docs/added.md'):,} (+{now(repo, 'docs/added.md'):,})"
    )
    renamed = rows["notes/new-name.md"]
    assert "notes/new-name.md (was notes/old-name.md)" in renamed
    same = at(repo, mb, "notes/old-name.md")
    assert renamed.endswith(f"{same:,} → {same:,} (+0, +0%)")
    gone = at(repo, mb, "docs/gone.md")
    assert f"deleted docs/gone.md: {gone:,} → deleted (-{gone:,}, -100%)" in r.stdout.splitlines()
    old_sum = sum(
        at(repo, mb, p)
        for p in [*FILES[:2], "docs/guide.md", "docs/style.md", "notes/old-name.md", "docs/gone.md"]
    )
    new_sum = sum(now(repo, p) for p in FILES)
    summary = r.stdout.splitlines()[-1]
    assert summary.startswith(
        f"6 files, {new_sum:,} tokens; against {BASE} ({mb[:12]}): {old_sum:,} → {new_sum:,}"
    )
    assert summary.endswith("all within budget")
    # docs/guide.md is a real Cursor rule (`globs: **/*.py`: not strict YAML, read as its agent
    # reads it): no finding on stderr
    assert "Invalid front matter" not in r.stderr


def test_json_base_delta_and_max_increase(repo: Path) -> None:
    r = check(repo, "--format", "json", "--max-increase", "10%")
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    mb = merge_base(repo)
    files = {f["path"]: f for f in doc["files"]}
    guide = files["docs/guide.md"]
    old, new = at(repo, mb, "docs/guide.md"), now(repo, "docs/guide.md")
    assert guide["tokens"]["total"] == new
    assert guide["base"] == {"total": old, "path": "docs/guide.md"}
    assert (guide["delta"], guide["max_increase_exceeded"]) == (new - old, True)
    assert files["docs/added.md"]["base"] is None
    assert files["notes/new-name.md"]["base"] == {
        "total": at(repo, mb, "notes/old-name.md"),
        "path": "notes/old-name.md",
    }
    assert files["notes/new-name.md"]["delta_kind"] == "renamed"
    assert [f for f, v in files.items() if v["max_increase_exceeded"]] == ["docs/guide.md"]
    assert doc["base"]["commit"] == mb and doc["base"]["revision"] == BASE
    gone = at(repo, mb, "docs/gone.md")
    assert doc["deleted"] == [
        {"path": "docs/gone.md", "base": {"total": gone, "path": "docs/gone.md"}, "delta": -gone}
    ]
    assert doc["exit_code"] == 1 and doc["max_increase"] == "10%"
    assert f"docs/guide.md: Prompt grew {old:,} → {new:,}" in r.stderr


def test_json_is_count_json_plus_the_verdict(repo: Path) -> None:
    counted = json.loads(run("count", "--json", "--no-cache", ".", cwd=repo).stdout)
    checked = json.loads(run("check", "--json", "--no-cache", ".", cwd=repo).stdout)
    assert checked["total"] == counted["total"] == sum(now(repo, p) for p in FILES)
    for c, k in zip(counted["files"], checked["files"], strict=True):
        assert c["path"] == k["path"]
        assert {key: k[key] for key in c} == c  # every count key, unchanged


def test_sarif_valid_and_located(repo: Path) -> None:
    r = check(repo, "--format", "sarif", "--max-increase", "100")
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    jsonschema.Draft4Validator(SCHEMA).validate(doc)
    (run_,) = doc["runs"]
    rules = [rule["id"] for rule in run_["tool"]["driver"]["rules"]]
    found = [
        (
            res["ruleId"],
            rules[res["ruleIndex"]],
            res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            res["locations"][0]["physicalLocation"]["region"]["startLine"],
            res["level"],
        )
        for res in run_["results"]
    ]
    assert found == [
        ("max-increase-exceeded", "max-increase-exceeded", "docs/guide.md", 1, "error")
    ]
    assert run_["originalUriBaseIds"]["%SRCROOT%"]["uri"] == repo.resolve().as_uri() + "/"


def test_junit_one_case_per_file_failure_on_growth(repo: Path) -> None:
    r = check(repo, "--format", "junit", "--max-increase", "100")
    assert r.returncode == 1
    suites = ET.fromstring(r.stdout)
    cases = {c.get("name"): c for c in suites.iter("testcase")}
    assert sorted(cases) == FILES
    failed = {n for n, c in cases.items() if c.find("failure") is not None}
    assert failed == {"docs/guide.md"}
    failure = cases["docs/guide.md"].find("failure")
    assert failure is not None and failure.get("type") == "max-increase-exceeded"
    props = {p.get("name"): p.get("value") for p in suites.iter("property")}
    assert props["base.commit"] == merge_base(repo)
    assert props["total"] == str(sum(now(repo, p) for p in FILES))


def test_github_annotations_and_step_summary(repo: Path, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    r = check(
        repo,
        "--format",
        "github",
        "--max-increase",
        "10%",
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert r.returncode == 1
    mb = merge_base(repo)
    old, new = at(repo, mb, "docs/guide.md"), now(repo, "docs/guide.md")
    assert (
        f"::error file=docs/guide.md,line=1,col=1,title=prompt-tokens max-increase-exceeded::"
        f"Prompt grew {old:,} → {new:,} (+{new - old:,}, {pct(old, new).replace('%', '%25')})"
    ) in r.stdout.splitlines()[0] + r.stdout
    table = summary.read_text()
    row = next(line for line in table.splitlines() if line.startswith("| docs/guide.md |"))
    assert f"| {new:,} |" in row and f"{old:,} → {new:,}" in row and "❌" in row


def test_budgets_per_glob_and_total(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / ".prompt-tokens.toml").write_text(
        '[[budgets]]\nglob = "docs/**"\nmax = 100\n\n'
        '[[budgets]]\nglob = ".github/instructions/**"\ntotal = 200\n'
    )
    r = run("check", "--json", "--no-cache", ".", cwd=repo)
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    files = {f["path"]: f for f in doc["files"]}
    assert (files["docs/guide.md"]["budget"], files["docs/guide.md"]["status"]) == (100, "exceeded")
    assert files["docs/guide.md"]["budget_glob"] == "docs/**"
    assert (files["docs/style.md"]["budget"], files["docs/style.md"]["status"]) == (100, "ok")
    assert files["notes/new-name.md"]["budget"] == 8192  # no table matches: the settings' budget
    (agg,) = doc["budgets"]
    instructions = FILES[:2]
    assert agg["files"] == instructions and agg["tokens"] == sum(now(repo, p) for p in instructions)
    assert (agg["budget"], agg["status"]) == (200, "exceeded")
    assert "budgets: unknown setting" not in r.stderr  # [[budgets]] is the CLI's, not an error
    assert (
        f"docs/guide.md: {now(repo, 'docs/guide.md'):,} tokens exceed the budget of 100" in r.stderr
    )


def test_base_counts_referenced_files_as_they_were(tmp_path: Path) -> None:
    """The base total of an unchanged prompt follows what its references held at the base:
    a referenced file edited since, a file it references in turn, one deleted since."""
    repo = tmp_path / "refs"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    texts = {
        "p.md": "Read @ref.md before answering.\n",
        "ref.md": "The reference, short. See @deep.md\n",
        "deep.md": "Deep notes, first version.\n",
        "q.md": "Also see @gone.md please.\n",
        "gone.md": "This file is deleted later, with several words in it.\n",
    }
    for rel, text in texts.items():
        write(repo, rel, text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    write(repo, "ref.md", "The reference, now much longer than it was at the base. See @deep.md\n")
    write(repo, "deep.md", "Deep notes, second version, with more words than before.\n")
    git(repo, "rm", "-q", "gone.md")
    git(repo, "commit", "-qam", "change")
    r = run("check", "--json", "--no-cache", "--base", "HEAD~1", "p.md", "q.md", cwd=repo)
    assert r.returncode == 0, r.stderr
    files = {f["path"]: f for f in json.loads(r.stdout)["files"]}
    c = {k: count(v) for k, v in texts.items()}
    assert files["p.md"]["base"]["total"] == c["p.md"] + c["ref.md"] + c["deep.md"]
    assert files["p.md"]["tokens"]["total"] == c["p.md"] + now(repo, "ref.md") + now(
        repo, "deep.md"
    )
    assert files["q.md"]["base"]["total"] == c["q.md"] + c["gone.md"]
    assert files["q.md"]["tokens"]["total"] == c["q.md"]  # gone now: not found, 0 tokens
    assert files["q.md"]["delta"] == -c["gone.md"]


def test_base_errors_are_usage_errors(repo: Path, workspace: Path) -> None:
    r = run("check", "--no-cache", "--base", "no-such-rev", ".", cwd=repo)
    assert r.returncode == 2 and r.stdout == ""
    assert one_line(r.stderr).startswith("prompt-tokens: unknown revision 'no-such-rev' in ")
    (workspace / "p.md").write_text("hello\n")
    r = run("check", "--no-cache", "--base", "HEAD", "p.md", cwd=workspace)
    assert r.returncode == 2
    assert "not inside a git work tree" in one_line(r.stderr)
    r = run("check", "--no-cache", "--base", "HEAD", "-", cwd=repo, stdin=b"hi")
    assert r.returncode == 2
    assert (
        one_line(r.stderr)
        == "prompt-tokens: --base compares files: standard input (-) has no base revision"
    )


def test_several_workspace_roots_in_one_report(tmp_path: Path) -> None:
    """A folder with its own ``.prompt-tokens.toml`` is a root of its own: its ``[[budgets]]``
    match paths relative to it; the report names every file from the common folder."""
    repo = tmp_path / "multi"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write(repo, "top.md", "A prompt at the top of the repository.\n")
    write(repo, "pkg/.prompt-tokens.toml", '[[budgets]]\nglob = "prompts/**"\nmax = 5\n')
    write(repo, "pkg/prompts/inner.md", "An inner prompt that is longer than five tokens.\n")
    r = run("check", "--json", "--no-cache", ".", cwd=repo)
    assert r.returncode == 1
    files = {f["path"]: f for f in json.loads(r.stdout)["files"]}
    assert sorted(files) == ["pkg/prompts/inner.md", "top.md"]
    inner = files["pkg/prompts/inner.md"]
    assert (inner["budget"], inner["status"], inner["budget_glob"]) == (5, "exceeded", "prompts/**")
    assert inner["tokens"]["total"] == now(repo, "pkg/prompts/inner.md")
    assert (files["top.md"]["budget"], files["top.md"]["status"]) == (8192, "ok")
