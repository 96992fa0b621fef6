"""Answer ``initialize`` before the heavy imports, then hand the session to pygls.

Importing pygls and lsprotocol costs ~0.35 s of CPU here (lsprotocol defines ~1,000 attrs
classes at import), more than the whole budget for answering ``initialize``. The answer only
depends on the client's offered position encodings, so on stdio this module (standard library
only) reads the first message with the same framing decoder the server uses, and when it is
``initialize`` writes the answer at once; then it imports the server and hands it the decoder
and the message, which pygls handles as usual (setting up its workspace and capabilities and
running our ``initialize`` handler) while its own response is dropped.

``tests/e2e/test_lifecycle.py`` checks that this answer is exactly what pygls computes for the
registered features. ``PROMPT_TOKENS_EARLY_INIT=0`` turns the shortcut off; TCP never uses it.

The exit status is the protocol's: 0 after ``shutdown``, 1 when the client exits or goes away
without it (LSP); a port that cannot be listened on is a :class:`UsageError` (exit 2).
"""

from __future__ import annotations

import os
import socket
from typing import Any

from prompt_tokens import __version__, environment
from prompt_tokens.errors import UsageError
from prompt_tokens.lsp.capabilities import NAME, initialize_result
from prompt_tokens.lsp.framing import Event, FrameDecoder, Message, body_limit
from prompt_tokens.lsp.stdio import FdWriter, frame, read_first

STDIN, STDOUT = 0, 1


def answer_initialize(events: list[Event], out: FdWriter) -> Any:
    """If the first message is a plausible ``initialize``, answer it now; returns its id."""
    first = next((e for e in events if isinstance(e, Message)), None)
    if first is None or not isinstance(first.value, dict):
        return None
    msg = first.value
    msg_id, params = msg.get("id"), msg.get("params")
    if (
        msg.get("jsonrpc") != "2.0"
        or msg.get("method") != "initialize"
        or isinstance(msg_id, bool)
        or not isinstance(msg_id, int | str)
        or not isinstance(params, dict)
        or not isinstance(params.get("capabilities"), dict)
    ):
        return None  # pygls answers it (or refuses it) itself
    result = initialize_result(params, NAME, __version__)
    out.write(frame({"jsonrpc": "2.0", "id": msg_id, "result": result}))
    return None if out.lost else msg_id


def listen(host: str, port: int) -> socket.socket:
    """A listening socket, or a :class:`UsageError` saying in one line why not."""
    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, not {port}")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        if os.name == "posix":  # restart at once on a port in TIME_WAIT (not one in use)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen()
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def start(tcp: bool = False, host: str = "127.0.0.1", port: int = 2087) -> None:
    """``prompt-tokens lsp``: serve on stdio (answering ``initialize`` early) or TCP.

    Returns when the session ended cleanly (status 0); otherwise ends the process with the
    protocol's status (1: the client exited or went away without ``shutdown``)."""
    decoder = FrameDecoder(body_limit(environment.max_document_chars()))
    if tcp:
        sock = listen(host, port)  # before the heavy import: a busy port fails at once
        from prompt_tokens.lsp.server import run_tcp  # only now: see the module docstring

        code = run_tcp(sock, decoder)
    else:
        events: list[Event] = []
        ended = False
        answered = None
        if environment.early_init():
            events, ended = read_first(decoder, STDIN)
            answered = answer_initialize(events, FdWriter(STDOUT, lambda exc: None))
        from prompt_tokens.lsp.server import run_stdio  # only now: the answer is out

        code = run_stdio(decoder, events, ended=ended, skip_id=answered)
    if code:
        raise SystemExit(code)
