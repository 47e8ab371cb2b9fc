"""HTTP JSON API polled at an interval, with retries and conditional requests (ETag, dates).

Besides its `url` (the latest data), a source may have a `window_url` template with `{start}`
and `{end}`: each poll then also fetches the windows that still wait for its data (a worker
catching up after a downtime asks for exactly the windows it missed). Each URL keeps its own
validators, so an unchanged window is not delivered twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Mapping
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
        no_data: Window fetches answered 404: no data for that window yet (not a failure).
        last_success_at: Unix time of the last poll that reached the API and got a usable answer.
    """

    polls: int = 0
    requests: int = 0
    retries: int = 0
    not_modified: int = 0
    unchanged: int = 0
    no_data: int = 0
    last_success_at: float | None = None


@dataclass(frozen=True)
class _Seen:
    """What one URL answered last: the validators and key of the document delivered, and the
    key of one refused since (neither is reported again)."""

    etag: str | None = None
    last_modified: str | None = None
    key: str | None = None
    refused: str | None = None


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
        url: Address of the API (GET) polled for its latest document; None: windows only.
        name: Name of the source in batches, logs and errors.
        window_url: Template of one window's URL with `{start}` and `{end}` (UTC epoch
            seconds), fetched for each window `windows()` names (catch-up).
        windows: The windows still waiting for this source's data, asked before every poll.
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
        url: str | None,
        *,
        name: str = "http",
        window_url: str | None = None,
        windows: Callable[[], list[tuple[int, int]]] | None = None,
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
        for field, value in (("url", url), ("window_url", window_url)):
            ok = value is None or value.startswith(("http://", "https://"))
            require(name, field, ok, f"not an http(s) URL: {value}")
        require(name, "url", url is not None or window_url is not None, "url or window_url needed")
        require(name, "interval", interval > 0, f"must be > 0, got {interval}")
        require(name, "timeout", timeout > 0, f"must be > 0, got {timeout}")
        require(name, "max_attempts", max_attempts >= 1, f"must be >= 1, got {max_attempts}")
        require(name, "backoff_base", backoff_base >= 0, f"must be >= 0, got {backoff_base}")
        require(name, "backoff_max", backoff_max >= backoff_base, "must be >= backoff_base")
        require(name, "shape", shape in ("object", "array", "any"), f"unknown shape {shape!r}")
        require(name, "max_bytes", max_bytes > 0, f"must be > 0, got {max_bytes}")
        self.url = url
        self.window_url = window_url
        self.windows = windows
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
        self._seen: dict[str, _Seen] = {}  # per URL: the last delivered or refused document

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

    async def poll(self, url: str | None = None) -> SourceBatch | None:
        """Fetches the document (of `url`, by default the source's) once, retrying passing
        failures with exponential backoff.

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
                return await self._fetch(url or self.url)
            except _Retry as failure:
                reason, retry_after = failure.reason, failure.retry_after
        raise SourceUnavailableError(self.name, f"API {url or self.url}", self.max_attempts, reason)

    def forget(self, url: str | None = None) -> None:
        """Drops the validators of the last document (of `url`, by default every URL's), so the
        next poll delivers it again."""
        if url is None:
            self._seen.clear()
        else:
            self._seen.pop(url, None)

    async def _fetch(self, url: str) -> SourceBatch | None:
        session = self._session_for_loop()
        seen = self._seen.get(url, _Seen())
        headers = {}
        if seen.etag is not None:
            headers["If-None-Match"] = seen.etag
        if seen.last_modified is not None:
            headers["If-Modified-Since"] = seen.last_modified
        self.stats.requests += 1
        try:
            async with session.get(url, headers=headers) as response:
                if response.status == 304:
                    self.stats.not_modified += 1
                    self.stats.last_success_at = time.time()
                    return None
                if response.status == 404 and url != self.url:
                    # NOTE: a window the API has no data for yet: asked again on the next poll
                    self.stats.no_data += 1
                    self.stats.last_success_at = time.time()
                    return None
                if response.status in RETRYABLE_STATUSES:
                    raise _Retry(
                        f"HTTP {response.status} {response.reason or ''}".rstrip(),
                        _retry_after(response.headers.get("Retry-After")),
                    )
                if not 200 <= response.status < 300:
                    raise SourceHttpError(self.name, url, response.status, response.reason or "")
                body = await self._read_body(response, url)
                etag = response.headers.get("ETag")
                last_modified = response.headers.get("Last-Modified")
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise _Retry(_describe(error, self.timeout)) from error
        received_at = time.time()
        self.stats.last_success_at = received_at
        key = f"etag:{etag}" if etag else f"sha256:{hashlib.sha256(body).hexdigest()}"
        if key in (seen.key, seen.refused):
            self.stats.unchanged += 1
            return None
        try:
            payload = decode_payload(self.name, body, shape=self.shape, validate=self.validate,
                                     key=key, max_bytes=self.max_bytes)  # fmt: skip
        except SourcePayloadError:
            # NOTE: reported once: the same bad document served again counts as unchanged. Its
            # validators are not sent, so the API answers in full and a new document is seen.
            self._seen[url] = _Seen(seen.etag, seen.last_modified, seen.key, key)
            raise
        self._seen[url] = _Seen(etag, last_modified, key)
        return SourceBatch(source=self.name, key=key, payload=payload, received_at=received_at)

    async def _read_body(self, response: aiohttp.ClientResponse, url: str) -> bytes:
        too_big = f"body over {self.max_bytes} bytes"
        if response.content_length is not None and response.content_length > self.max_bytes:
            raise SourceHttpError(self.name, url, response.status, too_big)
        body = bytearray()
        async for chunk in response.content.iter_chunked(64 * 1024):
            body.extend(chunk)
            if len(body) > self.max_bytes:
                raise SourceHttpError(self.name, url, response.status, too_big)
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
                if self.url is not None:
                    await self.poll_into(sink)
                for start, end in self.windows() if self.window_url and self.windows else []:
                    if stop_event.is_set():
                        break
                    await self.poll_into(sink, self.window_url.format(start=start, end=end))
                if await wait_or_stop(stop_event, self.interval - (loop.time() - started)):
                    break
        finally:
            self._stop = None
            await self.aclose()

    async def poll_into(self, sink: Sink, url: str | None = None) -> SourceBatch | None:
        """Polls once (`url`, by default the source's) and hands new data to `sink`, reporting
        failures instead of raising them.

        Returns:
            The batch the sink stored, or None (no new data, or a failure that was reported).
        """
        try:
            batch = await self.poll(url)
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
            self.forget(url or self.url)
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
