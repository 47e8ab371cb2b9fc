"""HTTP JSON API polled at an interval, with retries and conditional requests (ETag, dates)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType

import aiohttp

from worker.errors import (
    SourceError,
    SourceHttpError,
    SourcePayloadError,
    SourceUnavailableError,
)
from worker.sources.base import (
    Shape,
    Sink,
    SourceBatch,
    SourceStats,
    Validator,
    backoff_delay,
    decode_payload,
    require,
    wait_or_stop,
)

log = logging.getLogger(__name__)

# Statuses that a later attempt may cure: timeouts, rate limits and server-side failures.
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass
class HttpStats(SourceStats):
    """Counters of an `HttpSource`.

    Attributes:
        polls: Calls of `poll` (one poll may send several requests).
        requests: HTTP requests sent, retries included.
        retries: Requests sent again after a passing failure.
        not_modified: Polls answered 304 Not Modified (no new data).
        unchanged: Polls answered 200 with the same data as the last delivered batch.
        last_success_at: Unix time of the last poll that reached the API and got a usable answer.
    """

    polls: int = 0
    requests: int = 0
    retries: int = 0
    not_modified: int = 0
    unchanged: int = 0
    last_success_at: float | None = None


class _Retry(Exception):
    """A passing failure of one request; `poll` tries again after a backoff."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class HttpSource:
    """Polls one HTTP JSON API and hands each new document to a sink.

    New means: not answered 304 to the validators of the last delivered document, and not the
    same idempotency key (ETag, else a SHA-256 of the body) as that document.

    Args:
        url: Address of the API (GET).
        name: Name of the source in batches, logs and errors.
        interval: Seconds between the starts of two polls in `run`.
        timeout: Seconds allowed for one request, body included.
        max_attempts: Requests per poll before the API is reported unavailable.
        backoff_base: First retry delay in seconds; it doubles per attempt (with jitter).
        backoff_max: Cap of one retry delay in seconds (also caps a server's Retry-After).
        headers: Extra request headers (for example an API key); never logged.
        shape: Required top level of the JSON document: "object", "array" or "any".
        validate: Optional check of the decoded document; a `ValueError` rejects it.
        max_bytes: Largest body accepted.
    """

    def __init__(
        self,
        url: str,
        *,
        name: str = "http",
        interval: float = 60.0,
        timeout: float = 10.0,
        max_attempts: int = 4,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        headers: Mapping[str, str] | None = None,
        shape: Shape = "any",
        validate: Validator | None = None,
        max_bytes: int = 10 * 1024 * 1024,
    ) -> None:
        require(name, "url", url.startswith(("http://", "https://")), f"not an http(s) URL: {url}")
        require(name, "interval", interval > 0, f"must be > 0, got {interval}")
        require(name, "timeout", timeout > 0, f"must be > 0, got {timeout}")
        require(name, "max_attempts", max_attempts >= 1, f"must be >= 1, got {max_attempts}")
        require(name, "backoff_base", backoff_base >= 0, f"must be >= 0, got {backoff_base}")
        require(name, "backoff_max", backoff_max >= backoff_base, "must be >= backoff_base")
        require(name, "shape", shape in ("object", "array", "any"), f"unknown shape {shape!r}")
        require(name, "max_bytes", max_bytes > 0, f"must be > 0, got {max_bytes}")
        self.url = url
        self.name = name
        self.interval = interval
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.shape: Shape = shape
        self.validate = validate
        self.max_bytes = max_bytes
        self.stats = HttpStats()
        self._headers = {"Accept": "application/json", **(headers or {})}
        self._session: aiohttp.ClientSession | None = None
        self._stop: asyncio.Event | None = None
        self._etag: str | None = None
        self._last_modified: str | None = None
        self._last_key: str | None = None
        self._refused_key: str | None = None

    async def __aenter__(self) -> HttpSource:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Closes the HTTP session (a later poll opens a new one)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ---------------------------------------------------------------------------------------------
    # One poll
    # ---------------------------------------------------------------------------------------------

    async def poll(self) -> SourceBatch | None:
        """Fetches the document once, retrying passing failures with exponential backoff.

        Returns:
            A batch with the new document, or None when there is no new data (304, the same data
            again, or a stop requested during a backoff of `run`).

        Raises:
            SourceUnavailableError: Every attempt failed (unreachable, timed out, 5xx, 429, ...).
            SourceHttpError: The API answered a status that retrying cannot fix (such as 404).
            SourcePayloadError: The body is not JSON, has the wrong shape, or failed validation.
        """
        self.stats.polls += 1
        reason = ""
        retry_after: float | None = None
        for attempt in range(1, self.max_attempts + 1):
            if attempt > 1:
                delay = backoff_delay(attempt - 1, self.backoff_base, self.backoff_max)
                if retry_after is not None:
                    delay = max(delay, min(retry_after, self.backoff_max))
                log.info("source %r: %s; retry %d in %.2f s", self.name, reason, attempt, delay)
                if await wait_or_stop(self._stop, delay):
                    return None
                self.stats.retries += 1
            try:
                return await self._fetch()
            except _Retry as failure:
                reason, retry_after = failure.reason, failure.retry_after
        raise SourceUnavailableError(self.name, f"API {self.url}", self.max_attempts, reason)

    def forget(self) -> None:
        """Drops the validators of the last document, so the next poll delivers it again."""
        self._etag = self._last_modified = self._last_key = None

    async def _fetch(self) -> SourceBatch | None:
        session = self._session_for_loop()
        headers = {}
        if self._etag is not None:
            headers["If-None-Match"] = self._etag
        if self._last_modified is not None:
            headers["If-Modified-Since"] = self._last_modified
        self.stats.requests += 1
        try:
            async with session.get(self.url, headers=headers) as response:
                if response.status == 304:
                    self.stats.not_modified += 1
                    self.stats.last_success_at = time.time()
                    return None
                if response.status in RETRYABLE_STATUSES:
                    raise _Retry(
                        f"HTTP {response.status} {response.reason or ''}".rstrip(),
                        _retry_after(response.headers.get("Retry-After")),
                    )
                if not 200 <= response.status < 300:
                    raise SourceHttpError(
                        self.name, self.url, response.status, response.reason or ""
                    )
                body = await self._read_body(response)
                etag = response.headers.get("ETag")
                last_modified = response.headers.get("Last-Modified")
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise _Retry(_describe(error, self.timeout)) from error
        received_at = time.time()
        self.stats.last_success_at = received_at
        key = f"etag:{etag}" if etag else f"sha256:{hashlib.sha256(body).hexdigest()}"
        if key in (self._last_key, self._refused_key):
            self.stats.unchanged += 1
            return None
        try:
            payload = decode_payload(self.name, body, shape=self.shape, validate=self.validate,
                                     key=key, max_bytes=self.max_bytes)  # fmt: skip
        except SourcePayloadError:
            # NOTE: reported once: the same bad document served again counts as unchanged. Its
            # validators are not sent, so the API answers in full and a new document is seen.
            self._refused_key = key
            raise
        self._etag, self._last_modified, self._last_key = etag, last_modified, key
        return SourceBatch(source=self.name, key=key, payload=payload, received_at=received_at)

    async def _read_body(self, response: aiohttp.ClientResponse) -> bytes:
        if response.content_length is not None and response.content_length > self.max_bytes:
            raise SourceHttpError(
                self.name, self.url, response.status, f"body over {self.max_bytes} bytes"
            )
        body = bytearray()
        async for chunk in response.content.iter_chunked(64 * 1024):
            body.extend(chunk)
            if len(body) > self.max_bytes:
                raise SourceHttpError(
                    self.name, self.url, response.status, f"body over {self.max_bytes} bytes"
                )
        return bytes(body)

    def _session_for_loop(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            )
        return self._session

    # ---------------------------------------------------------------------------------------------
    # The polling loop
    # ---------------------------------------------------------------------------------------------

    async def run(self, sink: Sink, stop_event: asyncio.Event) -> None:
        """Polls every `interval` seconds until `stop_event` is set, handing new data to `sink`.

        Failures are logged and counted in `stats` and polling carries on: an unreachable API, a bad
        status, a bad payload, or a sink that raises (the same data is then delivered again by the
        next poll, because its validators are forgotten).

        Args:
            sink: Async callable that stores a batch durably.
            stop_event: Set it to stop; the loop returns after the current poll.
        """
        loop = asyncio.get_running_loop()
        self._stop = stop_event
        try:
            while not stop_event.is_set():
                started = loop.time()
                await self.poll_into(sink)
                if await wait_or_stop(stop_event, self.interval - (loop.time() - started)):
                    break
        finally:
            self._stop = None
            await self.aclose()

    async def poll_into(self, sink: Sink) -> SourceBatch | None:
        """Polls once and hands new data to `sink`, reporting failures instead of raising them.

        Returns:
            The batch the sink stored, or None (no new data, or a failure that was reported).
        """
        try:
            batch = await self.poll()
        except SourcePayloadError as error:
            self.stats.record_refused(error)
            log.warning("%s", error)
            return None
        except SourceError as error:
            self.stats.record_error(error)
            log.warning("%s", error)
            return None
        if batch is None:
            return None
        try:
            await sink(batch)
        except SourcePayloadError as error:  # NOTE: refused by the sink for good: not again
            self.stats.record_refused(error)
            log.warning("%s", error)
            return None
        except Exception as error:
            self.forget()
            self.stats.sink_errors += 1
            self.stats.record_error(f"source {self.name!r}: sink failed for {batch.key}: {error}")
            log.exception("source %r: sink failed for %s; will deliver again", self.name, batch.key)
            return None
        self.stats.batches += 1
        return batch


def _retry_after(value: str | None) -> float | None:
    """Seconds of a Retry-After header given in seconds (the HTTP-date form is ignored)."""
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _describe(error: BaseException, timeout: float) -> str:
    if isinstance(error, asyncio.TimeoutError):
        return f"no complete answer within {timeout} s"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
