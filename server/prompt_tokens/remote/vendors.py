"""The two token-counting endpoints: which models they count, their request and answer shapes.

Pure: no network, no keys. The key travels only in the header named by ``key_header``, never
in the URL (so a URL in a log or an error message carries no secret).

- Anthropic ``POST {base}/v1/messages/count_tokens``, headers ``x-api-key``,
  ``anthropic-version: 2023-06-01``, body ``{"model", "messages": [{"role": "user",
  "content": text}]}`` → ``{"input_tokens": N}`` (N includes the few tokens the API adds to
  frame a user message: it is what the request would be billed as input).
- Gemini ``POST {base}/v1beta/models/{model}:countTokens``, header ``x-goog-api-key``, body
  ``{"contents": [{"parts": [{"text": text}]}]}`` → ``{"totalTokens": N}``.

What is sent is the document's text as one user message: its references are not (their text is
not kept once counted; see ``estimates`` for how they are shown).
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import quote

import attrs

from prompt_tokens.models import ModelInfo, normalise_name

Vendor = Literal["anthropic", "gemini"]

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_BASE: dict[Vendor, str] = {
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com",
}
_VENDOR_OF_PROVIDER: dict[str, Vendor] = {"anthropic": "anthropic", "google": "gemini"}
NAMES: dict[Vendor, str] = {
    "anthropic": "Anthropic count_tokens API",
    "gemini": "Gemini countTokens API",
}
KEY_SETTINGS: dict[Vendor, str] = {
    "anthropic": "ANTHROPIC_API_KEY (or remote.anthropicApiKey)",
    "gemini": "GOOGLE_API_KEY or GEMINI_API_KEY (or remote.geminiApiKey)",
}
_API_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@attrs.frozen
class VendorRequest:
    url: str
    headers: dict[str, str]
    """Everything but the key."""
    key_header: str
    body: dict[str, Any]


def vendor_for(model: ModelInfo | None) -> Vendor | None:
    """The vendor that can count ``model`` exactly; None for exact models and for estimates no
    vendor endpoint counts (Llama, Mistral's later tokenizers, ...)."""
    if model is None or model.exact:
        return None
    return _VENDOR_OF_PROVIDER.get(model.provider)


def api_model_id(written: str | None, model: ModelInfo) -> str:
    """The model id to send: the id as written when it is one for this model (a dated
    snapshot such as ``claude-sonnet-4-5-20250929``), else the table's name (display names
    like ``Claude Sonnet 4.5 (copilot)`` are not API ids)."""
    if written:
        last = written.strip().rsplit("/", 1)[-1]
        key = normalise_name(last)
        if _API_ID.fullmatch(last) and key.startswith(normalise_name(model.name)):
            return last
    return model.name


def build_request(vendor: Vendor, base_url: str, model_id: str, text: str) -> VendorRequest:
    base = base_url.rstrip("/")
    if vendor == "anthropic":
        return VendorRequest(
            url=f"{base}/v1/messages/count_tokens",
            headers={"anthropic-version": ANTHROPIC_VERSION, "content-type": "application/json"},
            key_header="x-api-key",
            body={"model": model_id, "messages": [{"role": "user", "content": text}]},
        )
    return VendorRequest(
        url=f"{base}/v1beta/models/{quote(model_id, safe='.-_')}:countTokens",
        headers={"content-type": "application/json"},
        key_header="x-goog-api-key",
        body={"contents": [{"parts": [{"text": text}]}]},
    )


def parse_count(vendor: Vendor, data: Any) -> int | None:
    """The count in a 200 answer; None when the answer does not have the expected shape."""
    field = "input_tokens" if vendor == "anthropic" else "totalTokens"
    value = data.get(field) if isinstance(data, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def error_message(data: Any) -> str | None:
    """The vendor's own explanation in an error answer (both vendors nest it the same way:
    ``{"error": {"message": ...}}``), if there is one."""
    err = data.get("error") if isinstance(data, dict) else None
    msg = err.get("message") if isinstance(err, dict) else None
    return msg if isinstance(msg, str) and msg.strip() else None


def source(vendor: Vendor, model_id: str) -> str:
    """Who counted, as ``method`` says it: ``Anthropic count_tokens API (claude-sonnet-4-5)``."""
    return f"{NAMES[vendor]} ({model_id})"


__all__ = [
    "DEFAULT_BASE",
    "KEY_SETTINGS",
    "NAMES",
    "Vendor",
    "VendorRequest",
    "api_model_id",
    "build_request",
    "error_message",
    "parse_count",
    "source",
    "vendor_for",
]
