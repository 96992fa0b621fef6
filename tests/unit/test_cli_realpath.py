"""How ``count`` resolves the files it names: the same real path ``os.path.realpath`` gives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prompt_tokens.cli.rootconfig import real_path as _real


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("real")
    (root / "a" / "b").mkdir(parents=True)
    (root / "c").mkdir()
    (root / "a" / "b" / "f.md").write_text("x")
    (root / "c" / "g.md").write_text("y")
    (root / "link-to-a").symlink_to(root / "a")  # a folder reached through a link
    (root / "a" / "up").symlink_to("..")  # a link that goes back up
    (root / "c" / "file-link.md").symlink_to(root / "a" / "b" / "f.md")
    (root / "dangling").symlink_to(root / "nowhere")
    return root


PARTS = ["a", "b", "c", "link-to-a", "up", ".", "..", "", "nowhere", "dangling"]
NAMES = ["f.md", "g.md", "file-link.md", "missing.md"]


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    parts=st.lists(st.sampled_from(PARTS), max_size=5),
    name=st.sampled_from(NAMES),
    absolute=st.booleans(),
)
def test_same_as_realpath(tree: Path, parts: list[str], name: str, absolute: bool) -> None:
    old = os.getcwd()
    os.chdir(tree)
    try:
        label = os.path.join(*parts, name) if parts else name
        if absolute:
            label = os.path.join(str(tree), label)
        dirs: dict[str, str] = {}
        assert _real(label, dirs) == str(Path(label).resolve())
        # and again with what the first call remembered
        assert _real(label, dirs) == str(Path(label).resolve())
    finally:
        os.chdir(old)
