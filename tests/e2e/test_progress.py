"""``$/progress`` for counts that take longer than ~0.5 s, and cancelling one."""

from __future__ import annotations

import random
import string

from lsprotocol import types

from tests.e2e.conftest import Session, count


def big_text(mb: int) -> str:
    """Made-up words, so that counting takes well over 0.5 s under the 50 MB reference limit:
    rs_bpe counts such text at ~14 MB/s (repeated lines of prose go at ~60 MB/s)."""
    rng = random.Random(mb)
    letters = string.ascii_lowercase
    vocab = ["".join(rng.choices(letters, k=rng.randint(3, 12))) for _ in range(20_000)]
    words = rng.choices(vocab, k=mb * 1_000_000 // 8)
    return "\n".join(" ".join(words[i : i + 12]) for i in range(0, len(words), 12)) + "\n"


async def test_progress_for_a_large_referenced_file(session: Session) -> None:
    text = big_text(20)
    session.write("big.txt", text)
    uri = session.open("p.md", "Analyse @big.txt\n")
    status = await session.ready(uri, within=120)
    assert status["state"] == "ready"
    assert status["tokens"]["references"] == count(text)
    reports = [r for rs in session.client.progress_reports.values() for r in rs]
    assert reports, "no $/progress for a count that took more than 0.5 s"
    kinds = [r.kind for r in reports]
    assert kinds[0] == "begin" and kinds[-1] == "end"
    begin = reports[0]
    assert isinstance(begin, types.WorkDoneProgressBegin)
    assert "p.md" in begin.title and begin.cancellable


async def test_cancelling_the_progress_cancels_the_count(session: Session) -> None:
    session.write("huge.txt", big_text(40))
    uri = session.open("p.md", "Analyse @huge.txt\n")
    # cancel once the progress has begun, as a user can (an editor shows it only then); a
    # cancel sent as soon as the create request arrives can reach the server before the
    # token is registered there, and pygls ignores it
    token = await session.wait_for(
        lambda: next(
            (
                t
                for t, rs in session.client.progress_reports.items()
                if rs and rs[0].kind == "begin"
            ),
            None,
        ),
        within=60,
    )
    session.client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    status = await session.ready(uri, within=60)
    assert status["state"] == "error"
    await session.wait_for(
        lambda: any(r.kind == "end" for r in session.client.progress_reports[token])
    )
    # the server is fine: an edit recounts
    v = session.change(uri, "Short now\n")
    assert (await session.ready(uri, v, within=60))["state"] == "ready"
