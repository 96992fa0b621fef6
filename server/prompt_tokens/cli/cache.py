"""``prompt-tokens cache stats|clear|prune``: look after the SQLite cache file.

The cache holds only hashes, sizes and counts (never text), so clearing it loses nothing but
time; pruning keeps the file small on machines that count many repositories.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from prompt_tokens.cli.output import print_json, warn
from prompt_tokens.errors import UsageError
from prompt_tokens.runtime import Runtime
from prompt_tokens.settings import Settings, parse_settings


def cmd_cache(args: argparse.Namespace) -> int:
    settings, problems = parse_settings({"cache": {"path": args.cache}} if args.cache else {})
    for msg in problems:
        warn(msg)
    if settings.cache.path is None:
        raise UsageError("no cache file: --cache must name a SQLite file")
    return asyncio.run(_cache_action(args, settings))


async def _cache_action(args: argparse.Namespace, settings: Settings) -> int:
    rt = Runtime()
    root = os.getcwd()
    rt.set_settings(root, settings)
    try:
        if args.action == "stats":
            print_json(rt.cache_stats(root), sys.stdout)
        elif args.action == "clear":
            rt.clear_cache(root)
            print(f"cleared {settings.cache.path}")
        else:
            removed = rt.prune_cache(
                root, max_age_s=args.max_age_days * 86400, max_rows=args.max_rows
            )
            print(f"pruned {removed} entries from {settings.cache.path}")
    finally:
        await rt.aclose()
    return 0
