"""Where an open buffer's recount runs: on the event loop, or on a worker thread.

A thread hop is not free: the job goes to a worker, which waits for the interpreter lock, and
its result comes back through the loop's wake-up pipe. In ``bench_lsp.py``'s 2 MB code-heavy
prompt a keystroke took ~3 ms while the document was under the old fixed 2,000,000-character
limit for running inline and ~4.5 ms once typing took it past, for the same work (~1.1 ms of
it counting and scanning). So what decides is what the count costs, not how big the document
is: a document's next recount runs inline when its new text is small and its last recount
took at most ``INLINE_MAX_S``, short enough that a hover or an inlay-hint request waiting
behind it does not notice. A document never measured yet (its open) runs inline only when
small, as before.
"""

from __future__ import annotations

from collections import OrderedDict

INLINE_MAX_CHARS = 32 * 1024
"""At most this much new text to count (a few milliseconds of tokenizing at most)."""
INLINE_MAX_DOCUMENT = 2_000_000
"""A document not measured yet runs inline up to this size."""
INLINE_MAX_S = 0.010
"""A measured document runs inline while its last recount took at most this long. On a
thread the recount's Python holds the interpreter lock all the same, so a request waiting
behind it gains at most the 5 ms switch interval; 4 ms put the 2 MB code-heavy prompt on the
wrong side whenever this shared machine slowed down (``bench_lsp.py --only "code 2"``,
alternating runs: edit→ready p50 4.7 and 6.1 ms at 4 ms, 4.4 and 4.4 ms at 10 ms)."""
REMEMBERED = 256
"""Documents whose last cost is kept (the least recently counted is forgotten first)."""


class InlinePolicy:
    """The last recount cost of each document (by its job group), and the choice it makes."""

    def __init__(self) -> None:
        self._cost: OrderedDict[str, float] = OrderedDict()

    def inline(self, group: str, pending_chars: int, chars: int) -> bool:
        """Whether a recount of ``group`` with ``pending_chars`` new characters in a
        ``chars``-character document should run on the event loop."""
        if pending_chars > INLINE_MAX_CHARS:
            return False
        cost = self._cost.get(group)
        if cost is None:
            return chars <= INLINE_MAX_DOCUMENT
        return cost <= INLINE_MAX_S

    def measured(self, group: str, pending_chars: int, seconds: float) -> None:
        """A recount of ``group`` with ``pending_chars`` new characters took ``seconds``
        (called from any thread). Only small ones say what the next keystroke will cost."""
        if pending_chars > INLINE_MAX_CHARS:
            return
        self._cost[group] = seconds
        self._cost.move_to_end(group)
        while len(self._cost) > REMEMBERED:
            self._cost.popitem(last=False)
