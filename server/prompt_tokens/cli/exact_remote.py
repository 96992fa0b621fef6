"""``prompt-tokens count --exact-remote``: counted documents restated with the vendor's count.

The CLI counts as always (local tokenizer, estimates marked), then hands its requests and
results here: every result whose model a vendor counts (Claude, Gemini) is asked for again with
the document's text (from the cache when that content was counted before, so a second run
makes no request) and shown with ``estimates.restated``: the text's count exact, budget and
diagnostics judged on it. A problem (no key, refused key, vendor down after the retries) is one
line in ``messages``, each said once, and that document keeps its estimate.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from pathlib import Path

from prompt_tokens.errors import PromptTokensError, RemoteCountError
from prompt_tokens.estimates import restated
from prompt_tokens.models import resolve_model
from prompt_tokens.remote.vendors import vendor_for
from prompt_tokens.results import DocumentResult
from prompt_tokens.runtime import CountRequest, Runtime
from prompt_tokens.tokenizer.textio import decode_bytes

_LINE_BREAK = re.compile(r"\r\n|\r|\n")

Outcome = DocumentResult | BaseException


async def exact_remote(
    runtime: Runtime, requests: Sequence[CountRequest], results: Sequence[Outcome]
) -> tuple[list[Outcome], list[str]]:
    """``results`` (in the order of ``requests``, as ``Runtime.count_files`` returns them)
    with the vendor's counts applied where there is one, and the messages to print."""
    messages: list[str] = []
    done = await asyncio.gather(
        *(_one(runtime, req, res, messages) for req, res in zip(requests, results, strict=True))
    )
    return list(done), messages


async def _one(
    runtime: Runtime, request: CountRequest, result: Outcome, messages: list[str]
) -> Outcome:
    if not isinstance(result, DocumentResult) or not result.model:
        return result
    model = resolve_model(result.model)
    if vendor_for(model) is None:
        return result
    try:
        text = await asyncio.to_thread(_text, request)
        got = await runtime.count_exact(request.root, text, label=f"exact count {request.label}")
    except RemoteCountError as exc:
        if not exc.repeated:
            messages.append(f"{request.label}: {exc}")
        return result
    except (PromptTokensError, OSError) as exc:
        messages.append(f"{request.label}: no exact count: {exc}")
        return result
    if got is None:
        return result
    first = _LINE_BREAK.split(text, maxsplit=1)[0]
    calibration = got.calibration(result.local_tokens.text)
    return restated(result, model, calibration, current=True, first_line=first)


def _text(request: CountRequest) -> str:
    data = request.data if request.data is not None else Path(request.path).read_bytes()
    text, _ = decode_bytes(data, label=request.label)
    return text


__all__ = ["exact_remote"]
