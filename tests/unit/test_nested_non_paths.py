"""A file reached through a reference follows the same "can this be a path?" rule as the
document: ``@pytest.mark.asyncio`` inside an imported file is text, a missing
``@docs/missing-guide.md`` there still warns."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import plain_count
from tests.unit.cli_helpers import put, run

NOTES = "Mark tests @pytest.mark.asyncio and install @testing-library/react@16.\nSee @docs/missing-guide.md.\n"


def test_imported_file_non_paths_are_text(workspace: Path) -> None:
    put(workspace, "CLAUDE.md", "Project memory. @notes.md\n")
    put(workspace, "notes.md", NOTES)
    r = run(
        "count", "--json", "--no-cache", "--encoding", "cl100k_base", "CLAUDE.md", cwd=workspace
    )
    assert r.returncode == 0, r.stderr
    assert "pytest.mark" not in r.stderr and "testing-library" not in r.stderr
    assert "missing-guide.md" in r.stderr
    f = json.loads(r.stdout)["files"][0]
    assert f["tokens"]["references"] == plain_count("cl100k_base", NOTES)
