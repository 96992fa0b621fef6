"""Counting cl100k_base and o200k_base with ``rs_bpe``, 2–3× faster than tiktoken.

Counting is what this product does all day, and on code-heavy text tiktoken's pre-tokenizer
regex is most of every run. ``rs_bpe`` (the ``bpe``/``bpe-openai`` algorithm of GitHub's
rust-gems, compiled with its cl100k/o200k vocabularies) returns the number of tokens without
building a token list. It is an optimisation, not a second tokenizer: tests prove its count
equal to tiktoken's ``encode_ordinary`` on the shared corpus, on every vocabulary entry and by
hypothesis on adversarial text (``tests/unit/test_fastcount.py``), and the dependency is pinned
to the build those tests ran.

tiktoken stays the reference. It is still what ``encode_ordinary`` returns (token ids), it
counts text ``rs_bpe`` refuses (lone surrogates, which tiktoken replaces by U+FFFD), and
``PROMPT_TOKENS_FAST_COUNT=0`` makes it count everything. It loads only when one of those
needs it, which takes ~0.14 s off every cold start; ``rs_bpe`` loads cl100k in ~30 ms.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from prompt_tokens import environment

log = logging.getLogger(__name__)

# The encodings rs_bpe is proven equal on (its constructors share their names), and the release
# it was proven on (another release counts by tiktoken until the tests have run on it).
_FAST = frozenset({"cl100k_base", "o200k_base"})
PROVEN_VERSION = "0.1.0"
_MAIN = threading.main_thread()
YIELD_AFTER_CHARS = 8192
"""Counts of texts this long (~0.3 ms and more) are followed by a GIL hand-off (``sleep(0)``)."""


def load_fast(name: str) -> Any | None:
    """``rs_bpe``'s tokenizer for ``name``, or None when it is off, missing or not proven."""
    if not environment.fast_count() or name not in _FAST:
        return None
    try:
        # Lazy: a compiled optional speed-up; without it (a platform with no wheel) tiktoken counts.
        import rs_bpe
        from rs_bpe.bpe import openai
    except ImportError:
        log.debug("rs_bpe is not installed; %s is counted by tiktoken", name)
        return None
    version = getattr(rs_bpe, "__version__", None)
    if version != PROVEN_VERSION:
        log.debug("rs_bpe %s is not the proven %s; tiktoken counts", version, PROVEN_VERSION)
        return None
    return getattr(openai, name)()


class OpenAIEncoder:
    """An OpenAI encoding: counts by ``rs_bpe`` when it is there, token ids by tiktoken.

    ``load_reference`` builds the tiktoken ``Encoding`` (checked against its pinned sha256);
    it is called at most once, on the first call that needs it.
    """

    def __init__(self, name: str, load_reference: Callable[[], Any], fast: Any | None) -> None:
        self._name = name
        self._load_reference = load_reference
        self._reference: Any | None = None
        self._lock = threading.Lock()
        self._fast = fast
        if fast is None:
            self._reference = load_reference()

    @property
    def name(self) -> str:
        return self._name

    @property
    def fast(self) -> bool:
        """Whether counts come from ``rs_bpe`` (the benchmark headers say which counter ran)."""
        return self._fast is not None

    @property
    def releases_gil(self) -> bool:
        """``rs_bpe`` counts holding the GIL (and one thread of it beats two of tiktoken)."""
        return self._fast is None

    def reference(self) -> Any:
        """The tiktoken ``Encoding``, loaded on first use."""
        ref = self._reference
        if ref is None:
            with self._lock:
                ref = self._reference
                if ref is None:
                    ref = self._reference = self._load_reference()
        return ref

    def encode_ordinary(self, text: str) -> list[int]:
        ids: list[int] = self.reference().encode_ordinary(text)
        return ids

    def count(self, text: str) -> int:
        """The exact count. After a long text counted off the main thread, the GIL is offered
        to the main thread: rs_bpe holds it while it counts, and the language server's event
        loop would otherwise wait for the 5 ms switch interval on top of the count. On the
        main thread (a CLI worker process) there is no one to hand it to, and a hand-off to
        a background thread (the cache writer) costs ~0.3 ms."""
        fast = self._fast
        if fast is not None:
            try:
                n: int = fast.count(text)
            except UnicodeEncodeError:
                pass  # a lone surrogate: tiktoken's replacement rule decides its tokens
            else:
                if len(text) >= YIELD_AFTER_CHARS and threading.current_thread() is not _MAIN:
                    time.sleep(0)
                return n
        return len(self.reference().encode_ordinary(text))

    @property
    def n_vocab(self) -> int:
        n: int = self.reference().n_vocab
        return n
