"""``prompt-tokens lsp``: the language server on stdio (the default) or TCP.

Only the standard library is imported before the server answers ``initialize`` (see
``lsp.bootstrap``). A TCP address that cannot be listened on (port in use, an address this
machine does not have, a name that does not resolve) is the user's input: one line, exit 2.
"""

from __future__ import annotations

import argparse
import os

from prompt_tokens.errors import UsageError
from prompt_tokens.lsp.bootstrap import start


def cmd_lsp(args: argparse.Namespace) -> int:
    if not args.tcp:
        start()
        return 0
    try:
        start(True, args.host, args.port)
    except OSError as exc:  # raised by binding: the server never started
        # asyncio rewords a bind error ("error while attempting to bind on address …"); the
        # system's words for the errno are the clear ones ("Address already in use")
        code = exc.errno or 0
        reason = os.strerror(code) if code > 0 else (exc.strerror or str(exc))
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {reason}") from None
    return 0
