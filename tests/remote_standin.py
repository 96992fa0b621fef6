"""A stand-in for the vendors' token-counting endpoints: a real HTTP server on 127.0.0.1
(pytest-httpserver) speaking the request and answer shapes of Anthropic's
``/v1/messages/count_tokens`` and Gemini's ``/v1beta/models/{model}:countTokens``.

Its count is deliberately not any local tokenizer's: ``words + FRAMING`` (the vendor adds a few
tokens to frame a message), so a test can tell the vendor's number from an estimate. Failures
to serve before answering are queued with :meth:`StandIn.fail`; every request is recorded.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

FRAMING = 7
ANTHROPIC_PATH = "/v1/messages/count_tokens"


def vendor_count(text: str) -> int:
    return len(text.split()) + FRAMING


class StandIn:
    def __init__(self, server: HTTPServer, key: str) -> None:
        self.server = server
        self.key = key
        self.requests: list[dict[str, Any]] = []
        self._failures: deque[tuple[int, dict[str, str], dict[str, Any]]] = deque()
        server.expect_request(ANTHROPIC_PATH, method="POST").respond_with_handler(self._anthropic)
        server.expect_request(
            "/v1beta/models/gemini-2.5-pro:countTokens", method="POST"
        ).respond_with_handler(self._gemini)

    @property
    def base_url(self) -> str:
        return self.server.url_for("/").rstrip("/")

    def fail(self, status: int, times: int = 1, headers: dict[str, str] | None = None) -> None:
        """Answer the next ``times`` requests with ``status`` (an error body)."""
        for _ in range(times):
            body = {"type": "error", "error": {"type": "test", "message": f"stand-in {status}"}}
            self._failures.append((status, headers or {}, body))

    def _record(self, request: Request, key_header: str) -> Response | None:
        body = json.loads(request.get_data())
        self.requests.append({"path": request.path, "headers": dict(request.headers), "json": body})
        if self._failures:
            status, headers, err = self._failures.popleft()
            return Response(
                json.dumps(err), status=status, headers=headers, mimetype="application/json"
            )
        if request.headers.get(key_header) != self.key:
            err = {
                "type": "error",
                "error": {"type": "authentication_error", "message": "invalid x-api-key"},
            }
            return Response(json.dumps(err), status=401, mimetype="application/json")
        return None

    def _anthropic(self, request: Request) -> Response:
        refused = self._record(request, "x-api-key")
        if refused is not None:
            return refused
        text = self.requests[-1]["json"]["messages"][0]["content"]
        return Response(
            json.dumps({"input_tokens": vendor_count(text)}), mimetype="application/json"
        )

    def _gemini(self, request: Request) -> Response:
        refused = self._record(request, "x-goog-api-key")
        if refused is not None:
            return refused
        text = self.requests[-1]["json"]["contents"][0]["parts"][0]["text"]
        answer = {"totalTokens": vendor_count(text), "promptTokensDetails": []}
        return Response(json.dumps(answer), mimetype="application/json")
