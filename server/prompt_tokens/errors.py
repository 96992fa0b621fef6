"""Typed errors: the only place that decides what is worth retrying.

Every failure a user can see is one of these, so the CLI and the language server can print one
clear line (``str(err)``) instead of a traceback, and the job queue can retry exactly the
transient ones.
"""

from __future__ import annotations


class PromptTokensError(Exception):
    """Base class. ``code`` is the diagnostic code users see (SPEC "LSP surface")."""

    code: str = "error"
    transient: bool = False

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class PermanentError(PromptTokensError):
    """Retrying cannot help (bad input, missing file, 4xx, refused by policy)."""


class TransientError(PromptTokensError):
    """May succeed later (timeouts, 5xx, 429, SQLite busy). ``retry_after`` is a hint in seconds."""

    transient = True

    def __init__(
        self, message: str, *, code: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class UnknownEncodingError(PermanentError):
    code = "unknown-encoding"


class UnknownModelError(PermanentError):
    code = "unknown-model"


class EncodingDataError(PermanentError):
    """Bundled or user-supplied BPE data is missing or does not match its published hash."""

    code = "encoding-data"


class UsageError(PermanentError):
    """Bad command-line usage: the CLI exits 2."""

    code = "usage"


class BinaryContentError(PermanentError):
    code = "reference-binary"


class TooLargeError(PermanentError):
    code = "reference-too-large"


class NotFoundError(PermanentError):
    code = "reference-not-found"


class OutsideWorkspaceError(PermanentError):
    code = "reference-outside-workspace"


class FetchError(PermanentError):
    code = "reference-fetch-failed"


class TransientFetchError(TransientError):
    code = "reference-fetch-failed"


class RemoteCountError(PermanentError):
    """The model vendor's token-counting API could not give a count (the estimate is kept).
    ``repeated``: this message was already raised once in this process (say it once)."""

    code = "remote-count-failed"
    repeated: bool = False


class RemoteNotConfigured(RemoteCountError):
    """Remote counting was asked for but cannot run: off, no key, or no network allowed."""

    code = "remote-not-configured"


class RemoteAuthError(RemoteCountError):
    """The vendor refused the key (401/403): asking again with the same key cannot help."""

    code = "remote-auth"


class TransientRemoteError(TransientError):
    """Timeouts, connection errors, 429 and 5xx from the vendor: retried with backoff."""

    code = "remote-count-failed"


class CacheBusyError(TransientError):
    """SQLite said ``database is locked``/``busy``: another process holds the write lock."""

    code = "cache-busy"


def is_transient(exc: BaseException) -> bool:
    """Whether a retry may help; unknown exceptions are treated as permanent bugs."""
    return isinstance(exc, TransientError)
