"""File references on real files: nesting, cycles, depth, duplicates, workspace boundary
(symlinks included), binary / invalid UTF-8 / CRLF / BOM content, trailing punctuation,
overlays and caching. Every expected count is computed here with plain tiktoken."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from prompt_tokens.cache.tiered import TieredCache
from prompt_tokens.references.graph import file_key, var_key
from prompt_tokens.references.resolver import ReferenceResolver
from prompt_tokens.references.syntax import markdown_links_enabled, scan
from prompt_tokens.results import ReferenceResult
from prompt_tokens.settings import parse_settings
from tests.conftest import plain_count

ENC = "cl100k_base"


def make_resolver(
    roots: Sequence[Path], cache: TieredCache | None = None, **raw: Any
) -> ReferenceResolver:
    settings, problems = parse_settings(raw)
    assert not problems
    return ReferenceResolver(settings, cache or TieredCache(None), roots=list(roots))


async def resolve(
    r: ReferenceResolver,
    doc: Path | None,
    text: str,
    variables: dict[str, str] | None = None,
    overlay: dict[str, str] | None = None,
    encoding: str = ENC,
) -> list[ReferenceResult]:
    refs = r.settings.references
    occ = scan(
        text,
        kinds=refs.enabled,
        markdown_links=markdown_links_enabled(refs.markdown_links, str(doc or "")),
    )
    return await r.resolve(doc, occ, encoding=encoding, variables=variables or {}, overlay=overlay)


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_bytes(text.encode())
    return path


def total(results: Sequence[ReferenceResult]) -> int:
    return sum(r.tokens for r in results)


A = "Alpha notes: the API returns JSON.\n"
B = "Beta: retries use exponential backoff.\n"
C = "Gamma — unicode é 😀 and <|endoftext|> stays text.\n"


async def test_single_file_exact(workspace: Path) -> None:
    write(workspace / "docs/a.md", A)
    doc = write(workspace / "doc.md", "Read @docs/a.md now.")
    r = make_resolver([workspace])
    (res,) = await resolve(r, doc, doc.read_text())
    assert res.status == "ok" and res.code is None
    assert res.tokens == res.own_tokens == plain_count(ENC, A)
    assert res.target == str((workspace / "docs/a.md").resolve())
    assert res.raw == "@docs/a.md"
    assert res.bytes == len(A.encode())
    assert res.cache == "miss"
    assert res.span is not None and res.span.start == 5


async def test_nested_references_followed_and_counted_once(workspace: Path) -> None:
    write(workspace / "a.md", A + "See @sub/b.md and #file:c.txt\n")
    write(workspace / "sub/b.md", B + "Also [c](../c.txt) and @../c.txt.\n")
    write(workspace / "c.txt", C)
    write(workspace / "code.py", "@app.route('/x')\ndef f(): ...\n")
    doc = write(workspace / "doc.md", "@a.md @c.txt @code.py")
    r = make_resolver([workspace], references={"markdownLinks": True})
    results = await resolve(r, doc, doc.read_text())
    a_text = (workspace / "a.md").read_text()
    b_text = (workspace / "sub/b.md").read_text()
    py_text = (workspace / "code.py").read_text()
    expected = plain_count(ENC, a_text) + plain_count(ENC, b_text) + plain_count(ENC, C)
    expected += plain_count(ENC, py_text)  # counted, but its "@app.route" is code, not followed
    assert total(results) == expected
    top = results[:3]
    assert [x.depth for x in top] == [0, 0, 0]
    # c.txt was already pulled in through a.md → the top-level @c.txt is a duplicate.
    assert top[1].duplicate and top[1].tokens == 0 and top[1].own_tokens == plain_count(ENC, C)
    nested = results[3:]
    assert [
        (Path(x.target).name, x.depth, Path(x.via or "").name, x.duplicate) for x in nested
    ] == [
        ("b.md", 1, "a.md", False),
        ("c.txt", 2, "b.md", False),
        ("c.txt", 2, "b.md", True),
        ("c.txt", 1, "a.md", True),
    ]
    assert all(x.span is None for x in nested)
    assert all(x.status == "ok" for x in results)


async def test_cycle_reported_not_followed(workspace: Path) -> None:
    write(workspace / "a.md", "A @b.md\n")
    write(workspace / "b.md", "B @a.md and @doc.md\n")
    doc = write(workspace / "doc.md", "@a.md")
    r = make_resolver([workspace])
    results = await resolve(r, doc, doc.read_text())
    top, b, a_again, doc_again = results
    assert top.status == "ok" and top.tokens == plain_count(ENC, "A @b.md\n")
    assert b.tokens == plain_count(ENC, "B @a.md and @doc.md\n")
    assert (a_again.status, a_again.code, a_again.tokens) == ("error", "reference-cycle", 0)
    assert a_again.error is not None and "a.md → b.md → a.md" in a_again.error
    assert doc_again.code == "reference-cycle"
    # The nested failures surface on the reference the user wrote.
    assert top.warning_code == "reference-cycle" and "2 nested references failed" in (
        top.warning or ""
    )


async def test_document_referencing_itself_is_a_cycle(workspace: Path) -> None:
    doc = write(workspace / "doc.md", "me: @doc.md")
    r = make_resolver([workspace])
    (res,) = await resolve(r, doc, doc.read_text())
    assert (res.status, res.code, res.tokens) == ("error", "reference-cycle", 0)


async def test_depth_limit(workspace: Path) -> None:
    for i in range(6):
        write(workspace / f"d{i}.md", f"level {i} @d{i + 1}.md\n")
    write(workspace / "d6.md", "bottom\n")
    doc = write(workspace / "doc.md", "@d0.md")
    r = make_resolver([workspace], references={"maxDepth": 2})
    results = await resolve(r, doc, doc.read_text())
    assert [Path(x.target).name for x in results] == ["d0.md", "d1.md", "d2.md"]
    assert [x.depth for x in results] == [0, 1, 2]
    assert total(results) == sum(plain_count(ENC, f"level {i} @d{i + 1}.md\n") for i in range(3))
    assert results[2].warning_code == "reference-depth"
    assert "maxDepth (2)" in (results[2].warning or "")

    r0 = make_resolver([workspace], references={"maxDepth": 0})
    results = await resolve(r0, doc, doc.read_text())
    assert len(results) == 1 and results[0].warning is None


async def test_duplicates_counted_once(workspace: Path) -> None:
    write(workspace / "a.md", A)
    doc = write(workspace / "doc.md", "@a.md then @./a.md and #file:a.md and @a.md.")
    r = make_resolver([workspace])
    results = await resolve(r, doc, doc.read_text())
    assert len(results) == 4
    assert total(results) == plain_count(ENC, A)
    assert [x.duplicate for x in results] == [False, True, True, True]
    assert all(x.own_tokens == plain_count(ENC, A) for x in results)


async def test_trailing_punctuation_rule(workspace: Path) -> None:
    write(workspace / "a.md", A)
    write(workspace / "b.md,", B)  # a file whose name really ends with a comma
    write(workspace / "b.md", "not this one\n")
    text = "see @a.md, then @b.md, ok"
    doc = write(workspace / "doc.md", text)
    r = make_resolver([workspace])
    a, b = await resolve(r, doc, text)
    assert Path(a.target).name == "a.md" and a.tokens == plain_count(ENC, A)
    assert a.span is not None and text[a.span.offset : a.span.end_offset] == "@a.md"
    assert Path(b.target).name == "b.md," and b.tokens == plain_count(ENC, B)
    assert b.span is not None and text[b.span.offset : b.span.end_offset] == "@b.md,"
    assert b.span.end - b.span.start == len("@b.md,")


async def test_crlf_bom_and_lone_cr_counted_as_written(workspace: Path) -> None:
    crlf = "line one\r\nline two\r\n\r\nend\r"
    write(workspace / "crlf.md", crlf.encode())
    write(workspace / "bom.md", b"\xef\xbb\xbf" + B.encode())
    doc = write(workspace / "doc.md", "@crlf.md @bom.md")
    r = make_resolver([workspace])
    c, b = await resolve(r, doc, doc.read_text())
    assert c.tokens == plain_count(ENC, crlf)
    assert c.bytes == len(crlf.encode())  # no newline translation
    assert b.tokens == plain_count(ENC, B)
    assert b.bytes == len(B.encode()) + 3


async def test_binary_and_invalid_utf8(workspace: Path) -> None:
    write(workspace / "img.md", b"PNG\x00\x01\x02 binary")
    bad = b"caf\xe9 au lait \xff\xfe ok\n"
    write(workspace / "latin.md", bad)
    doc = write(workspace / "doc.md", "@img.md @latin.md")
    r = make_resolver([workspace])
    img, latin = await resolve(r, doc, doc.read_text())
    assert (img.status, img.code, img.tokens) == ("error", "reference-binary", 0)
    assert img.error is not None and "binary" in img.error
    assert latin.status == "ok"
    assert latin.tokens == plain_count(ENC, bad.decode("utf-8", "replace"))
    assert latin.warning_code == "reference-encoding"
    assert latin.warning is not None and "U+FFFD" in latin.warning


async def test_missing_folder_too_large_and_fifo(workspace: Path) -> None:
    (workspace / "folder.d").mkdir()
    write(workspace / "big.md", "x" * 5000)
    os.mkfifo(workspace / "pipe.md")
    doc = write(workspace / "doc.md", "@missing.md @folder.d @big.md @pipe.md")
    r = make_resolver([workspace], references={"maxBytes": 1000})
    missing, folder, big, pipe = await resolve(r, doc, doc.read_text())
    assert (missing.code, missing.status, missing.tokens) == ("reference-not-found", "error", 0)
    assert missing.error == "File not found: missing.md"
    assert folder.code == "reference-not-found" and "is a folder" in (folder.error or "")
    assert big.code == "reference-too-large" and "maxBytes" in (big.error or "")
    assert pipe.code == "reference-not-found" and "not a regular file" in (pipe.error or "")


async def test_outside_workspace_and_symlink_escape(
    workspace: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside")
    secret = write(outside / "secret.md", "top secret\n")
    ws = workspace / "ws"
    ws.mkdir()
    write(ws / "inside.md", A)
    (ws / "escape.md").symlink_to(secret)
    (ws / "alias.md").symlink_to(ws / "inside.md")
    (ws / "outdir").symlink_to(outside, target_is_directory=True)
    doc = write(ws / "doc.md", f"@escape.md @outdir/secret.md @../ws/inside.md @alias.md @{secret}")
    r = make_resolver([ws])
    esc, outdir, inside, alias, absolute = await resolve(r, doc, doc.read_text())
    assert esc.code == "reference-outside-workspace" and esc.tokens == 0
    assert str(secret.resolve()) in (esc.error or "")
    assert "allowOutsideWorkspace" in (esc.error or "")
    assert outdir.code == "reference-outside-workspace"
    assert absolute.code == "reference-outside-workspace"
    assert inside.status == "ok" and inside.tokens == plain_count(ENC, A)
    assert alias.status == "ok" and alias.duplicate  # same real file as inside.md

    allowed = make_resolver([ws], references={"allowOutsideWorkspace": True})
    esc, outdir, _inside, _alias, absolute = await resolve(allowed, doc, doc.read_text())
    assert esc.status == "ok" and esc.tokens == plain_count(ENC, "top secret\n")
    assert outdir.duplicate and absolute.duplicate


async def test_missing_file_outside_workspace_is_refused_not_probed(workspace: Path) -> None:
    doc = write(workspace / "doc.md", "@../../nope/x.md")
    r = make_resolver([workspace])
    (res,) = await resolve(r, doc, doc.read_text())
    assert res.code == "reference-outside-workspace"


async def test_home_and_absolute_paths(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(workspace))
    write(workspace / "notes/n.md", B)
    write(workspace / "abs.md", C)
    doc = write(workspace / "sub/doc.md", f"@~/notes/n.md @{workspace / 'abs.md'}")
    r = make_resolver([workspace])
    n, a = await resolve(r, doc, doc.read_text())
    assert n.tokens == plain_count(ENC, B)
    assert a.tokens == plain_count(ENC, C)


async def test_stdin_document_resolves_from_cwd(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(workspace / "a.md", A)
    monkeypatch.chdir(workspace)
    r = make_resolver([workspace])
    (res,) = await resolve(r, None, "@a.md")
    assert res.tokens == plain_count(ENC, A)


async def test_no_roots_uses_the_project_root(workspace: Path) -> None:
    write(workspace / "shared/a.md", A)
    doc = write(workspace / "prompts/doc.md", "@../shared/a.md")
    r = ReferenceResolver(parse_settings({})[0], TieredCache(None))
    (res,) = await resolve(r, doc, doc.read_text())
    assert res.status == "ok" and res.tokens == plain_count(ENC, A)


async def test_overlay_wins_over_disk(workspace: Path) -> None:
    a = write(workspace / "a.md", "on disk\n")
    doc = write(workspace / "doc.md", "@a.md @new.md")
    unsaved = "unsaved editor text, longer than the disk version @b.md\n"
    write(workspace / "b.md", B)
    r = make_resolver([workspace])
    results = await resolve(
        r,
        doc,
        doc.read_text(),
        overlay={str(a): unsaved, str(workspace / "new.md"): "brand new buffer"},
    )
    res, new, nested_b = results
    assert res.tokens == plain_count(ENC, unsaved) and res.cache == "open-buffer"
    assert new.tokens == plain_count(ENC, "brand new buffer") and new.cache == "open-buffer"
    assert nested_b.tokens == plain_count(ENC, B) and nested_b.via == str(a.resolve())
    # Without the overlay the disk wins again.
    (res, _new) = await resolve(r, doc, doc.read_text())
    assert res.tokens == plain_count(ENC, "on disk\n")


async def test_cache_states_and_no_reread_of_unchanged_files(workspace: Path) -> None:
    write(workspace / "a.md", A + "@b.md\n")
    write(workspace / "b.md", B)
    write(workspace / "c.json", '{"k": "v"}\n')
    doc = write(workspace / "doc.md", "@a.md @c.json")
    cache = TieredCache(None)
    r = make_resolver([workspace], cache)
    first = await resolve(r, doc, doc.read_text())
    assert [x.cache for x in first] == ["miss", "miss", "miss"]
    reads, tokenized = r.files.reads, r.files.tokenized
    assert (reads, tokenized) == (3, 3)
    second = await resolve(r, doc, doc.read_text())
    assert [x.cache for x in second] == ["memory", "memory", "memory"]
    assert total(second) == total(first)
    assert (r.files.reads, r.files.tokenized) == (reads, tokenized)  # nothing read again

    # A new resolver over the same cache: counts come from the cache; only a.md is read
    # again (its nested references are not stored, just that it has one), nothing is tokenized.
    r2 = make_resolver([workspace], cache)
    third = await resolve(r2, doc, doc.read_text())
    assert total(third) == total(first)
    assert [x.cache for x in third] == ["memory", "memory", "memory"]
    assert r2.files.tokenized == 0
    assert r2.files.reads == 1

    # Touch a file with new content: read and counted again.
    write(workspace / "b.md", B + B)
    fourth = await resolve(r, doc, doc.read_text())
    assert fourth[2].tokens == plain_count(ENC, B + B) and fourth[2].cache == "miss"


async def test_markdown_links_auto_in_prompt_files(workspace: Path) -> None:
    write(workspace / "docs/style.md", B)
    write(workspace / "inner.prompt.md", "[s](docs/style.md)\n")
    prompt = write(workspace / "review.prompt.md", "Use the [house style](docs/style.md).")
    plain_md = write(
        workspace / "readme.md", "Use the [house style](docs/style.md). @inner.prompt.md"
    )
    r = make_resolver([workspace])
    (res,) = await resolve(r, prompt, prompt.read_text())
    assert res.tokens == plain_count(ENC, B) and res.raw == "[house style](docs/style.md)"
    results = await resolve(r, plain_md, plain_md.read_text())
    # readme.md: its own link is plain text, but the nested prompt file's link is followed.
    assert [Path(x.target).name for x in results] == ["inner.prompt.md", "style.md"]


async def test_variables_text_and_reference_values(workspace: Path) -> None:
    write(workspace / "persona.md", A + "@b.md\n")
    write(workspace / "b.md", B)
    doc = write(
        workspace / "doc.md",
        "{{ tone }} and {{ tone }} {{ persona }} {{ persona }} {{ missing }} ${input:topic:what}",
    )
    r = make_resolver([workspace])
    variables = {"tone": "friendly but precise", "persona": " @persona.md ", "topic": "tea"}
    results = await resolve(r, doc, doc.read_text(), variables=variables)
    tone1, tone2, p1, p2, missing, topic, nested_b, nested_b_again = results
    assert nested_b_again.duplicate and nested_b_again.tokens == 0
    assert tone1.tokens == tone2.tokens == plain_count(ENC, "friendly but precise")
    persona_text = (workspace / "persona.md").read_text()
    assert p1.tokens == p2.tokens == plain_count(ENC, persona_text)  # substituted each time
    assert (missing.status, missing.code, missing.tokens) == ("error", "variable-undefined", 0)
    assert missing.error == "Variable 'missing' is not defined"
    assert topic.tokens == plain_count(ENC, "tea")
    assert Path(nested_b.target).name == "b.md" and nested_b.tokens == plain_count(ENC, B)
    assert total(results) == (
        2 * plain_count(ENC, "friendly but precise")
        + 2 * plain_count(ENC, persona_text)
        + plain_count(ENC, "tea")
        + plain_count(ENC, B)
    )
    deps = r.graph.targets(str(doc))
    assert {var_key("tone"), var_key("persona"), var_key("missing"), var_key("topic")} <= deps
    assert file_key(workspace / "persona.md") in deps and file_key(workspace / "b.md") in deps


async def test_graph_tracks_nested_and_missing_files(workspace: Path) -> None:
    write(workspace / "a.md", "@b.md @gone.md")
    write(workspace / "b.md", B)
    doc = write(workspace / "doc.md", "@a.md")
    other = write(workspace / "other.md", "@b.md")
    r = make_resolver([workspace])
    await resolve(r, doc, doc.read_text())
    await resolve(r, other, other.read_text())
    assert r.graph.dependents(file_key(workspace / "b.md")) == {str(doc), str(other)}
    assert r.graph.dependents(file_key(workspace / "gone.md")) == {str(doc)}
    # The document changes: dependencies follow.
    await resolve(r, doc, "nothing now")
    assert r.graph.dependents(file_key(workspace / "b.md")) == {str(other)}


async def test_kinds_turned_off_are_not_resolved(workspace: Path) -> None:
    write(workspace / "a.md", A)
    doc = write(workspace / "doc.md", "@a.md {{ v }}")
    r = make_resolver([workspace], references={"enabled": ["variable"]})
    occ = scan(doc.read_text())  # the engine would filter; the resolver copes anyway
    res = await r.resolve(doc, occ, encoding=ENC, variables={"v": "x"})
    assert res[0].tokens == 0 and res[0].status == "ok" and "turned off" in (res[0].warning or "")
    assert res[1].tokens == plain_count(ENC, "x")


async def test_o200k_counts(workspace: Path) -> None:
    write(workspace / "a.md", C * 50)
    doc = write(workspace / "doc.md", "@a.md")
    r = make_resolver([workspace])
    (res,) = await resolve(r, doc, doc.read_text(), encoding="o200k_base")
    assert res.tokens == plain_count("o200k_base", C * 50)


async def test_large_file_streams_exactly(workspace: Path) -> None:
    para = "".join(f"Line {i}: {C}" for i in range(40_000))  # ~2.4 MB, streamed in blocks
    write(workspace / "big.txt", para + "tail without newline")
    doc = write(workspace / "doc.md", "@big.txt")
    r = make_resolver([workspace])
    (res,) = await resolve(r, doc, doc.read_text())
    assert res.tokens == plain_count(ENC, para + "tail without newline")
