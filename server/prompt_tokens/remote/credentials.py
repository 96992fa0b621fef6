"""Which key and address a vendor count uses, held so that no log or message can show the key.

Keys come from the user's own settings (``remote.anthropicApiKey``, ``remote.geminiApiKey``,
``${env:NAME}`` expanded) or the environment the vendors' SDKs read (``ANTHROPIC_API_KEY``;
``GOOGLE_API_KEY``, else ``GEMINI_API_KEY``); addresses from ``remote.*BaseUrl`` or
``ANTHROPIC_BASE_URL`` / ``GEMINI_BASE_URL``. A workspace file can set none of them
(``settings.restrict_workspace``). The key is wrapped in :class:`Secret`, whose ``repr`` and
``str`` never show it; only :meth:`Secret.reveal` does, for the one header it goes in.
"""

from __future__ import annotations

import hashlib

import attrs

from prompt_tokens import environment
from prompt_tokens.errors import RemoteNotConfigured
from prompt_tokens.remote.vendors import DEFAULT_BASE, KEY_SETTINGS, NAMES, Vendor
from prompt_tokens.settings import RemoteSettings
from prompt_tokens.settings_schema import SettingError, base_url


class Secret:
    """A value that is never printed: ``repr`` and ``str`` are ``***``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def fingerprint(self) -> str:
        """A short hash to tell keys apart in memory (never written anywhere)."""
        return hashlib.sha256(self._value.encode("utf-8", "surrogatepass")).hexdigest()[:16]

    def scrub(self, text: str) -> str:
        """``text`` with the key replaced by ``***`` (a server may echo what it was sent)."""
        return text.replace(self._value, "***") if self._value else text

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@attrs.frozen
class Credentials:
    vendor: Vendor
    key: Secret
    base_url: str


def credentials_for(
    vendor: Vendor, remote: RemoteSettings, environ: environment.EnvMap | None = None
) -> Credentials:
    """The key and address for ``vendor``; ``RemoteNotConfigured`` when there is no key."""
    if vendor == "anthropic":
        key = remote.expand(remote.anthropic_api_key, environ) or environment.anthropic_api_key(
            environ
        )
        base, base_var = remote.anthropic_base_url, "ANTHROPIC_BASE_URL"
        env_base = environment.anthropic_base_url(environ)
    else:
        key = remote.expand(remote.gemini_api_key, environ) or environment.gemini_api_key(environ)
        base, base_var = remote.gemini_base_url, "GEMINI_BASE_URL"
        env_base = environment.gemini_base_url(environ)
    if base is None and env_base is not None:
        try:
            base = base_url(env_base)
        except SettingError as exc:
            raise RemoteNotConfigured(f"{base_var} {exc}; showing the estimate") from None
    if not key:
        raise RemoteNotConfigured(
            f"exact counts from the {NAMES[vendor]} need an API key: set "
            f"{KEY_SETTINGS[vendor]}; showing the estimate"
        )
    return Credentials(vendor, Secret(key), (base or DEFAULT_BASE[vendor]).rstrip("/"))


__all__ = ["Credentials", "Secret", "credentials_for"]
