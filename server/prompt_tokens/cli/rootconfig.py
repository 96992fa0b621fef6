"""Where each file of a CLI run belongs: its real path, its settings root, and that root's
settings (its ``.prompt-tokens.toml`` with the flags over it).

Kept apart from ``count`` because two steps need them before any counting starts: planning
the run (``count.plan``) and deciding, before the folders are walked, whether the run is
surely cold (``prefork``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import attrs

from prompt_tokens.errors import UsageError
from prompt_tokens.settings import Settings, deep_merge, parse_settings
from prompt_tokens.tokenizer.encodings import TOKENIZERS
from prompt_tokens.workspace import CONFIG_FILE, load_config

CLI_ONLY_KEYS = ("budgets",)
"""Keys of ``.prompt-tokens.toml`` only the CLI reads (``check``'s ``[[budgets]]``): not
settings of the engine, so they are taken out before the settings are checked."""


def flag_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the flags set, over each root's ``.prompt-tokens.toml``."""
    raw: dict[str, Any] = {}
    if args.model:
        from prompt_tokens.cli.models import check_model  # the model table, only when asked

        check_model(args.model)
        raw["model"] = args.model
    if args.encoding:
        if args.encoding not in TOKENIZERS:
            raise UsageError(f"--encoding must be one of {', '.join(TOKENIZERS)}")
        raw["encoding"] = args.encoding
        raw["model"] = None
    if getattr(args, "exact_remote", False):
        raw["remote"] = {"enabled": True}
    if getattr(args, "budget", None) is not None:
        raw["budget"] = args.budget
    if getattr(args, "no_cache", False):
        raw["cache"] = {"path": None}
    elif getattr(args, "cache", None):
        raw["cache"] = {"path": args.cache}
    return raw


@attrs.frozen
class RootConfig:
    """A workspace root's settings and the raw file they came from (``check`` reads its
    ``[[budgets]]``)."""

    settings: Settings
    raw: dict[str, Any]
    problems: list[str]


def settings_for(root: Path, flags: dict[str, Any]) -> RootConfig:
    """``root``'s ``.prompt-tokens.toml`` with the flags over it; problems name the file."""
    toml, problems = load_config(root)
    engine_raw = {k: v for k, v in toml.items() if k not in CLI_ONLY_KEYS}
    settings, more = parse_settings(deep_merge(engine_raw, flags))
    where = f"{root / CONFIG_FILE}: "
    return RootConfig(
        settings, toml, problems + [p.replace("promptTokens.", where, 1) for p in more]
    )


def root_of(given: Path | None, doc_path: str, memo: dict[str, str | None]) -> str:
    """The settings root of ``doc_path`` (a real path, or ``cwd/-``), as ``str(Path)``
    spells it: ``--root`` when given; ``memo``: by folder, so a run over thousands of files
    looks at each folder once (and builds no ``Path`` for each)."""
    if given is not None:
        return str(given)
    found = _nearest_root(os.path.dirname(doc_path), memo)
    return found if found is not None else os.getcwd()


def _nearest_root(folder: str, memo: dict[str, str | None]) -> str | None:
    """``find_root`` of ``folder``, one folder at a time, each answer remembered."""
    chain: list[str] = []
    found: str | None = None
    here = folder
    while True:
        if here in memo:
            found = memo[here]
            break
        chain.append(here)
        # find_root's test for one folder, on strings (os.path never raises)
        marked = os.path.isfile(os.path.join(here, CONFIG_FILE))
        if marked or os.path.exists(os.path.join(here, ".git")):
            found = here
            break
        parent = os.path.dirname(here)
        if parent == here:
            break
        here = parent
    for seen in chain:
        memo[seen] = found
    return found


def real_path(label: str, dirs: dict[str, str], *, link: bool | None = None) -> str:
    """``str(Path(label).resolve())``, resolving each folder once (a file that is itself a
    link is resolved whole). ``link``: whether ``label`` is a link, when the caller's walk
    already knows (None: asked here)."""
    folder, name = os.path.split(label)
    if name in ("", ".", ".."):
        return os.path.realpath(label)
    real = os.path.join(_real_folder(folder, dirs), name)
    if link is None:
        link = os.path.islink(real)
    return os.path.realpath(real) if link else real


def _real_folder(folder: str, dirs: dict[str, str]) -> str:
    """``os.path.realpath(folder or ".")`` from its parent's, remembered: one ``lstat`` per
    folder, where ``realpath`` would look at every component of every folder again."""
    real = dirs.get(folder)
    if real is not None:
        return real
    parent, name = os.path.split(folder)
    if name in ("", ".", ".."):
        real = os.path.realpath(folder or ".")
    else:
        real = os.path.join(_real_folder(parent, dirs), name)
        if os.path.islink(real):  # a link: resolved from its real folder, as realpath does
            real = os.path.realpath(real)
    dirs[folder] = real
    return real
