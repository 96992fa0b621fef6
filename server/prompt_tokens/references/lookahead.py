"""How far the reference scanner's decisions looked ahead, so a piece of text can be scanned
on its own exactly when no decision crosses where it was cut.

A decision at ``p`` (is this ``{#`` a comment? does this backtick run close?) reads the text
from ``p`` up to a horizon ``q`` (exclusive). A cut ``b`` with ``p < b < q`` is crossed: text
after ``b`` changed what was decided before it. A decision that needs text after the scanned
window gets the horizon ``BEYOND``; then either the closer it looks for appears nowhere after
the window (``absent``: the decision is final, and it *depends* on that absence) or the window
must grow (``pending``).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence

from prompt_tokens.text.code import BEYOND


class Horizons:
    """The decisions of one window scan."""

    def __init__(self, more: bool, absent: Callable[[str], bool]) -> None:
        self.more = more
        """Text follows the window (it does not end the document)."""
        self._absent = absent
        self.decisions: list[tuple[int, int]] = []
        self.deps: set[str] = set()
        """Closers whose absence after the window a final decision relied on."""
        self.pending = False
        """Some decision needs text after the window."""

    def read(self, p: int, q: int) -> None:
        """The decision at ``p`` read the text before ``q``."""
        if q > p + 1:
            self.decisions.append((p, q))

    def beyond(self, p: int, closer: str | None) -> bool:
        """The decision at ``p`` found no ``closer`` in the window. True when that is final
        (the window ends the document, or ``closer`` appears nowhere after it)."""
        self.decisions.append((p, BEYOND))
        if not self.more:
            return True
        if closer is not None and self._absent(closer):
            self.deps.add(closer)
            return True
        self.pending = True
        return False

    def clean(self, cuts: Sequence[int]) -> list[bool]:
        """For each cut (sorted offsets into the window, the last one its end): crossed by no
        decision. At the window's end a ``BEYOND`` decision counts as ``pending`` or
        ``deps`` say, not as a crossing."""
        out = [True] * len(cuts)
        last = len(cuts) - 1
        for p, q in self.decisions:
            i = bisect.bisect_right(cuts, p)
            j = bisect.bisect_left(cuts, q)
            if q == BEYOND:
                j = min(j, last)
            for k in range(i, j):
                out[k] = False
        return out
