"""The incremental scan read in a dialect equals the whole-text scan read in it, edit after edit,
while files appear and disappear.

A dialect reads each unit's occurrences before they are moved and reuses a unit's answer while
the file-existence answers it rested on hold (``DialectScanner._kept``). Random edits on
adversarial text with ``@`` tokens shaped and not shaped like paths (``@app.route``,
``@types/node``, ``@a.md,``), and a set of existing files that changes between counts: after each
edit the occurrences equal the whole-text dialect scan with the files as they are then.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prompt_tokens.agents.dialects import Dialect
from prompt_tokens.agents.scanning import DialectScanner
from prompt_tokens.document import DocumentState
from prompt_tokens.references.blocks import BlockScanner
from tests.unit.prompt_pieces import STATE_PIECES
from tests.unit.test_incremental import occ_key

AT_PIECES = [
    "@app.route\n",
    "@types/node ",
    "@v1.2 ",
    " @a.md, ",
    "@docs/x.md ",
    "\n@foo.bar\n",
    "@b.txt,",
]
TOKENS = ["app.route", "types/node", "v1.2", "foo.bar", "a.md,", "a.md", "b.txt,", "b.txt"]
PIECES = [*STATE_PIECES, *AT_PIECES, *AT_PIECES]
DIALECTS: list[Dialect] = ["markdown", "cursor-rule", "claude-memory", "copilot", "jinja"]


@st.composite
def scripts(draw: st.DrawFn) -> tuple[str, list[tuple[float, float, str, frozenset[str], bool]]]:
    text = "".join(draw(st.lists(st.sampled_from(PIECES), max_size=60)))
    edits = draw(
        st.lists(
            st.tuples(
                st.floats(0, 1, allow_nan=False),
                st.floats(0, 0.2, allow_nan=False),
                st.lists(st.sampled_from(PIECES), max_size=3).map("".join),
                st.frozensets(st.sampled_from(TOKENS)),  # the files there at this count
                st.sampled_from([False, False, False, True]),  # True: no folder to look in
            ),
            max_size=8,
        )
    )
    return text, edits


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    script=scripts(),
    block_chars=st.sampled_from([1, 8, 64, 4096]),
    dialect=st.sampled_from(DIALECTS),
    first_files=st.frozensets(st.sampled_from(TOKENS)),
    no_folder=st.sampled_from([False, False, False, True]),
)
def test_random_edits_and_files_match_the_whole_text_dialect_scan(
    script: tuple[str, list[tuple[float, float, str, frozenset[str], bool]]],
    block_chars: int,
    dialect: Dialect,
    first_files: frozenset[str],
    no_folder: bool,
) -> None:
    text, edits = script
    blocks = BlockScanner()
    doc = DocumentState(text, block_chars=block_chars)

    def check(files: frozenset[str], no_folder: bool) -> None:
        # a scanner per count, as the server builds one: its own view of the files
        exists = None if no_folder else files.__contains__
        scanner = DialectScanner(blocks, dialect, exists)
        got = doc.occurrences(scanner, scanner.key)
        assert occ_key(got) == occ_key(scanner(text))

    check(first_files, no_folder)
    for where, width, new, files, folderless in edits:
        a = int(where * len(text))
        b = min(len(text), a + int(width * len(text)))
        if a == b and not new:
            continue  # no new version: its occurrences stay those counted for it
        doc.replace(a, b, new)
        text = text[:a] + new + text[b:]
        check(files, folderless)
