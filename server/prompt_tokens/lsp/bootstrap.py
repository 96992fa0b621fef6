"""Answer ``initialize`` before the heavy imports, then hand the session to pygls.

Importing pygls and lsprotocol costs ~0.35 s of CPU here (lsprotocol defines ~1,000 attrs
classes at import), more than the whole budget for answering ``initialize``. The answer only
depends on the client's offered position encodings, so on stdio this module (standard library
only) reads the first message, and when it is ``initialize`` writes the answer at once; then it
imports the server, *replays* the same message into pygls (which sets up its workspace and
capabilities and runs our ``initialize`` handler as usual) and drops pygls's own response to it.

``tests/e2e/test_lifecycle.py`` checks that this answer is exactly what pygls computes for the
registered features. ``PROMPT_TOKENS_EARLY_INIT=0`` turns the shortcut off; TCP never uses it.
"""

from __future__ import annotations

import sys
from typing import Any, BinaryIO

from prompt_tokens import __version__, environment
from prompt_tokens.lsp.capabilities import NAME, initialize_result
from prompt_tokens.lsp.stdio import FdReader, SkipResponseWriter, frame, read_message


def answer_initialize(stdin: Any, stdout: BinaryIO) -> tuple[bytes, Any]:
    """Read the first message; if it is ``initialize``, answer it now.

    Returns (the bytes to replay into pygls, the answered request id or None)."""
    raw, message = read_message(stdin)
    if message is None or message.get("method") != "initialize" or "id" not in message:
        return raw, None
    params = message.get("params")
    result = initialize_result(params if isinstance(params, dict) else {}, NAME, __version__)
    stdout.write(frame({"jsonrpc": "2.0", "id": message["id"], "result": result}))
    stdout.flush()
    return raw, message["id"]


def start(tcp: bool = False, host: str = "127.0.0.1", port: int = 2087) -> None:
    """``prompt-tokens lsp``: serve on stdio (answering ``initialize`` early) or TCP."""
    if tcp or not environment.early_init():
        # the server (pygls, the engine) is imported only now: see the module docstring
        from prompt_tokens.lsp.server import run

        run(tcp, host, port)
        return
    stdout = sys.stdout.buffer
    fd = FdReader(sys.stdin.fileno())
    raw, answered = answer_initialize(fd, stdout)
    from prompt_tokens.lsp.server import run  # only now: the answer is out (module docstring)

    replay = raw + fd.pending  # the first message (pygls handles it too) and anything after
    out: Any = stdout if answered is None else SkipResponseWriter(stdout, answered)
    run(replay=replay, stdout=out)
