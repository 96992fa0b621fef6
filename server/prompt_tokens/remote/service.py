"""Exact counts from the model vendor, on demand: the one entry point both front ends use.

``RemoteCounts.count`` answers "how many tokens does the vendor say this text is for this
model" and is careful about everything around the request:

- **Only when asked**: ``remote.enabled`` (the CLI's ``--exact-remote``) and URL fetching
  allowed (``http.enabled``: an untrusted workspace turns it off; a workspace file can
  neither enable remote counting nor name keys or addresses). Otherwise, or without a key,
  ``RemoteNotConfigured`` with one clear line; the caller keeps showing the estimate.
- **Never twice for the same content**: the answer is cached in the counts table of the
  SQLite cache under the pseudo-encoding ``remote:<vendor>:<model id>`` and the sha256 of the
  text sent (the hash, never the text or the key), so reopening, undoing an edit or another
  run asks nothing; concurrent asks for the same content share one request.
- **Low priority, bounded**: each HTTP attempt is a ``BACKGROUND`` job on the shared job queue
  (superseded by a newer ask of the same ``group``); the waits between attempts
  (``backoff.Backoff``: exponential with jitter, ``Retry-After`` obeyed up to a cap) happen
  outside the queue, so a vendor that is down never holds a worker while we wait.
- **A refused key is not tried again**: after a 401/403 the same key is refused at once (by a
  fingerprint kept in memory only) until the settings or environment give another one.
- **Each problem said once**: an error whose message was raised before has ``repeated`` set.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import attrs

from prompt_tokens.backoff import Backoff
from prompt_tokens.environment import EnvMap
from prompt_tokens.errors import (
    RemoteAuthError,
    RemoteCountError,
    RemoteNotConfigured,
    TransientError,
    TransientRemoteError,
)
from prompt_tokens.estimates import Calibration
from prompt_tokens.jobs.queue import JobContext, JobQueue, Priority
from prompt_tokens.models import ModelInfo
from prompt_tokens.references.inflight import Inflight
from prompt_tokens.remote.credentials import Credentials, credentials_for
from prompt_tokens.remote.vendors import (
    NAMES,
    Vendor,
    VendorRequest,
    api_model_id,
    build_request,
    source,
    vendor_for,
)
from prompt_tokens.settings import Settings

if TYPE_CHECKING:
    from prompt_tokens.cache.tiered import TieredCache
    from prompt_tokens.remote.client import VendorClient

log = logging.getLogger(__name__)


@attrs.frozen
class ExactCount:
    """The vendor's count of one text for one model."""

    tokens: int
    model: str
    """The model table's name."""
    api_model: str
    """The id sent to the vendor."""
    vendor: Vendor
    cache: str
    """``memory`` / ``disk``: from the cache, no request; ``miss``: asked now."""

    @property
    def source(self) -> str:
        return source(self.vendor, self.api_model)

    def calibration(self, local: int, version: int | None = None) -> Calibration:
        """For ``estimates``: ``local`` is the local count of the same text."""
        return Calibration(self.model, local, self.tokens, self.source, version)


def remote_wanted(settings: Settings, model: ModelInfo | None) -> bool:
    """Whether counting ``model`` remotely is switched on and possible in principle."""
    return settings.remote.enabled and settings.http.enabled and vendor_for(model) is not None


class RemoteCounts:
    """Vendor counts for one front end (see the module docstring)."""

    def __init__(
        self,
        queue: Callable[[], JobQueue],
        *,
        backoff_base: float = 0.5,
        max_backoff: float = 30.0,
        max_retry_after: float = 60.0,
        environ: EnvMap | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        client: VendorClient | None = None,
    ) -> None:
        self._queue = queue
        self._backoff_base = backoff_base
        self._max_backoff = max_backoff
        self._max_retry_after = max_retry_after
        self._environ = environ
        self._sleep = sleep
        self._client = client
        self._inflight: Inflight[tuple[str, str], int] = Inflight("vendor count")
        self._rejected: set[tuple[Vendor, str]] = set()
        self._said: set[str] = set()

    def _http(self) -> VendorClient:
        if self._client is None:
            # lazy: httpx and the address checks cost start-up time; most sessions never count
            # remotely
            from prompt_tokens.remote.client import VendorClient

            self._client = VendorClient()
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    def _once(self, exc: RemoteCountError) -> RemoteCountError:
        exc.repeated = str(exc) in self._said
        self._said.add(str(exc))
        return exc

    async def count(
        self,
        settings: Settings,
        cache: TieredCache,
        model: ModelInfo | None,
        written: str | None,
        text: str,
        *,
        label: str = "",
        group: str | None = None,
    ) -> ExactCount | None:
        """The vendor's count of ``text`` for ``model`` (``written``: the name as the document
        or settings give it); None when no vendor counts this model. Raises
        ``RemoteCountError`` (or a subclass) when it cannot be had; the estimate stands."""
        vendor = vendor_for(model)
        if vendor is None or model is None:
            return None
        creds = self._credentials(settings, vendor)
        model_id = api_model_id(written, model)
        data = text.encode("utf-8", "surrogatepass")
        sha = hashlib.sha256(data).hexdigest()
        key = f"remote:{vendor}:{model_id}"
        known, state = cache.lookup_count(key, sha)
        if known is not None:
            return ExactCount(known, model.name, model_id, vendor, state)
        task = self._inflight.running((key, sha))
        if task is None:
            request = build_request(vendor, creds.base_url, model_id, text)
            what = label or f"exact count ({model_id})"

            async def ask_and_keep() -> int:
                # cached here, not by the caller: an answer that arrives after its asker has
                # gone (the document changed again) is still worth keeping
                tokens = await self._ask(settings, creds, request, what, group)
                cache.put_count(key, sha, tokens, len(data))
                return tokens

            task = self._inflight.start((key, sha), asyncio.ensure_future(ask_and_keep()))
        tokens = await asyncio.shield(task)
        return ExactCount(tokens, model.name, model_id, vendor, "miss")

    def _credentials(self, settings: Settings, vendor: Vendor) -> Credentials:
        if not settings.remote.enabled:
            raise self._once(
                RemoteNotConfigured(
                    "remote counting is off: turn on remote.enabled in your settings "
                    "(CLI: --exact-remote); showing the estimate"
                )
            )
        if not settings.http.enabled:
            raise self._once(
                RemoteNotConfigured(
                    "remote counting needs network access, and http.enabled is false (an "
                    "untrusted workspace turns it off); showing the estimate"
                )
            )
        try:
            creds = credentials_for(vendor, settings.remote, self._environ)
        except RemoteNotConfigured as exc:
            raise self._once(exc) from None
        if (vendor, creds.key.fingerprint()) in self._rejected:
            raise self._once(
                RemoteAuthError(
                    f"{NAMES[vendor]} refused this API key before; not asked again until the "
                    "key changes. Showing the estimate"
                )
            )
        return creds

    async def _ask(
        self,
        settings: Settings,
        creds: Credentials,
        request: VendorRequest,
        label: str,
        group: str | None,
    ) -> int:
        """The count, each attempt a queue job, retried on what may pass."""
        remote = settings.remote
        backoff = Backoff(
            retries=remote.retries,
            base_s=self._backoff_base,
            max_s=self._max_backoff,
            max_retry_after_s=self._max_retry_after,
            what=label,
        )
        blocked = list(settings.http.blocked_networks)

        async def one(ctx: JobContext) -> int:
            try:
                async with asyncio.timeout(remote.timeout_s):
                    return await self._http().attempt(
                        creds, request, blocked_networks=blocked, timeout_s=remote.timeout_s
                    )
            except TimeoutError:
                raise TransientRemoteError(
                    f"{NAMES[creds.vendor]}: timed out after {remote.timeout_s:g} s"
                ) from None

        async def attempt() -> int:
            job = self._queue().submit(
                one, priority=Priority.BACKGROUND, supersede=group, label=label
            )
            return await job

        try:
            return await backoff.call_async(attempt, sleep=self._sleep)
        except RemoteAuthError as exc:
            self._rejected.add((creds.vendor, creds.key.fingerprint()))
            raise self._once(exc) from None
        except RemoteCountError as exc:
            raise self._once(exc) from None
        except TransientError as last:
            tries = 1 + max(0, remote.retries)
            raise self._once(
                RemoteCountError(
                    f"{creds.key.scrub(str(last))} (after {tries} attempts); showing the estimate"
                )
            ) from None


__all__ = ["ExactCount", "RemoteCounts", "remote_wanted"]
