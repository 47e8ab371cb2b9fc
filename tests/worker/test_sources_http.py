"""worker.sources.http against a real aiohttp web server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web

from tests.worker.natsutil import free_port
from worker.errors import (
    SourceConfigError,
    SourceError,
    SourceHttpError,
    SourcePayloadError,
    SourceUnavailableError,
)
from worker.sources import HttpSource, SourceBatch

HOUR = {"hour": "2026-11-23T10:00Z", "generation": {"wind-1": 1200}, "consumption": {"c-1": 900}}
LAST_MODIFIED = "Mon, 23 Nov 2026 10:00:00 GMT"
FAST = {"backoff_base": 0.01, "backoff_max": 0.05, "timeout": 2.0}


def run(coro: Coroutine[Any, Any, Any], timeout: float = 15.0) -> Any:
    """Drives one test coroutine to its end, bounded in time."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


class Api:
    """A JSON API whose answers each test scripts: `replies` first, then `body` for ever."""

    def __init__(self, body: Any = HOUR, *, etag: str | None = None, modified: str | None = None):
        self.body: Any = body
        self.etag = etag
        self.modified = modified
        self.replies: list[int | str] = []  # a status to answer, or "slow" to stall past timeouts
        self.requests: list[dict[str, str]] = []
        self.released = asyncio.Event()  # ends stalled answers when the server shuts down

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(dict(request.headers))
        reply = self.replies.pop(0) if self.replies else None
        if reply == "slow":
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.released.wait(), 5)
        elif isinstance(reply, int):
            return web.Response(status=reply, text="try later")
        headers = {}
        if self.etag is not None:
            headers["ETag"] = self.etag
            if request.headers.get("If-None-Match") == self.etag:
                return web.Response(status=304, headers=headers)
        if self.modified is not None:
            headers["Last-Modified"] = self.modified
            if request.headers.get("If-Modified-Since") == self.modified:
                return web.Response(status=304, headers=headers)
        text = self.body if isinstance(self.body, str) else json.dumps(self.body)
        return web.Response(text=text, content_type="application/json", headers=headers)


@asynccontextmanager
async def serve(api: Api) -> AsyncIterator[str]:
    """Serves `api` on a free loopback port; yields its URL."""
    app = web.Application()
    app.router.add_get("/hourly", api.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/hourly"
    finally:
        api.released.set()
        await runner.cleanup()


class Collect:
    """A sink that keeps every batch; it can fail on chosen calls, and stop the run after n."""

    def __init__(
        self, stop: asyncio.Event | None = None, after: int = 0, fail_calls: Iterable[int] = ()
    ) -> None:
        self.batches: list[SourceBatch] = []
        self.calls = 0
        self.stop, self.after, self.fail_calls = stop, after, set(fail_calls)

    async def __call__(self, batch: SourceBatch) -> None:
        self.calls += 1
        if self.calls in self.fail_calls:
            raise OSError("disk full")
        self.batches.append(batch)
        if self.stop is not None and len(self.batches) >= self.after:
            self.stop.set()


async def until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def poll_with(api: Api, test: Callable[[HttpSource], Awaitable[None]], **options) -> None:
    async with serve(api) as url, HttpSource(url, name="hourly", **{**FAST, **options}) as source:
        await test(source)


# -------------------------------------------------------------------------------------------------
# New data, conditional requests
# -------------------------------------------------------------------------------------------------


def test_poll__new_data_delivered():
    api = Api()

    async def test(source: HttpSource) -> None:
        first = await source.poll()
        assert first is not None
        assert (first.source, first.payload) == ("hourly", HOUR)
        assert first.key.startswith("sha256:") and len(first.key) == 7 + 64
        assert await source.poll() is None  # the same document again is no new data
        api.body = {**HOUR, "hour": "2026-11-23T11:00Z"}
        second = await source.poll()
        assert second is not None and second.payload["hour"] == "2026-11-23T11:00Z"
        assert second.key != first.key
        assert (source.stats.polls, source.stats.unchanged, source.stats.errors) == (3, 1, 0)

    run(poll_with(api, test))
    assert api.requests[0]["Accept"] == "application/json"


def test_poll__etag_answered_304_is_no_new_data():
    api = Api(etag='"v1"')

    async def test(source: HttpSource) -> None:
        first = await source.poll()
        assert first is not None and first.key == 'etag:"v1"'
        assert await source.poll() is None
        assert source.stats.not_modified == 1
        api.body, api.etag = [1, 2, 3], '"v2"'
        second = await source.poll()
        assert second is not None and (second.key, second.payload) == ('etag:"v2"', [1, 2, 3])

    run(poll_with(api, test))
    assert [r.get("If-None-Match") for r in api.requests] == [None, '"v1"', '"v1"']


def test_poll__last_modified_answered_304_is_no_new_data():
    api = Api(modified=LAST_MODIFIED)

    async def test(source: HttpSource) -> None:
        assert await source.poll() is not None
        assert await source.poll() is None
        assert await source.poll() is None
        assert (source.stats.not_modified, source.stats.batches) == (2, 0)

    run(poll_with(api, test))
    assert [r.get("If-Modified-Since") for r in api.requests] == [None] + [LAST_MODIFIED] * 2


# -------------------------------------------------------------------------------------------------
# Passing and lasting failures
# -------------------------------------------------------------------------------------------------


def test_poll__server_errors_retried_with_backoff():
    api = Api()
    api.replies = [503, 500, "slow"]

    async def test(source: HttpSource) -> None:
        batch = await source.poll()
        assert batch is not None and batch.payload == HOUR
        assert (source.stats.requests, source.stats.retries, source.stats.errors) == (4, 3, 0)

    run(poll_with(api, test, max_attempts=4, timeout=0.3))


def test_poll__server_errors_exhausted_reported():
    api = Api()
    api.replies = [502, 503, 500]

    async def test(source: HttpSource) -> None:
        with pytest.raises(SourceUnavailableError) as raised:
            await source.poll()
        assert raised.value.attempts == 3
        assert "unavailable after 3 attempt(s): HTTP 500 Internal Server Error" in str(raised.value)
        assert await source.poll() is not None  # the API recovered; the source carries on

    run(poll_with(api, test, max_attempts=3))


def test_poll__client_error_not_retried():
    api = Api()
    api.replies = [404]

    async def test(source: HttpSource) -> None:
        with pytest.raises(SourceHttpError, match="answered HTTP 404 Not Found") as raised:
            await source.poll()
        assert (raised.value.status, source.stats.requests) == (404, 1)

    run(poll_with(api, test))


@pytest.mark.parametrize(
    ("body", "shape", "reason"),
    [
        ("<html>maintenance</html>", "any", "not JSON"),
        ('{"hour": "2026-11-23T10:00Z"', "any", "not JSON"),
        ("42", "any", "top level must be an object or an array, got int"),
        ('"text"', "any", "top level must be an object or an array, got str"),
        ("[1, 2]", "object", "top level must be an object, got list"),
    ],
)
def test_poll__invalid_json_reported(body: str, shape: str, reason: str):
    api = Api(body)

    async def test(source: HttpSource) -> None:
        with pytest.raises(SourcePayloadError, match=reason):
            await source.poll()
        assert source.stats.requests == 1  # a bad document is not retried, it is reported
        api.body = HOUR
        batch = await source.poll()
        assert batch is not None and batch.payload == HOUR

    run(poll_with(api, test, shape=shape))


def test_poll__validator_rejects_payload():
    def needs_hour(payload: Any) -> None:
        if "hour" not in payload:
            raise ValueError("field 'hour' is missing")

    async def test(source: HttpSource) -> None:
        with pytest.raises(SourcePayloadError, match="validation failed: field 'hour' is missing"):
            await source.poll()

    run(poll_with(Api({"generation": {}}), test, validate=needs_hour))


def test_poll__unreachable_api_reported():
    url = f"http://127.0.0.1:{free_port()}/hourly"

    async def test() -> None:
        async with HttpSource(url, name="hourly", max_attempts=3, **FAST) as source:
            with pytest.raises(
                SourceUnavailableError, match="unavailable after 3 attempt"
            ) as raised:
                await source.poll()
        assert raised.value.target == f"API {url}"
        assert "ClientConnectorError" in raised.value.reason
        assert (source.stats.requests, source.stats.retries) == (3, 2)

    run(test())


def test_http_source__invalid_settings_rejected():
    with pytest.raises(SourceConfigError, match="source 'x': invalid setting url"):
        HttpSource("ftp://127.0.0.1/data", name="x")
    with pytest.raises(SourceConfigError, match="invalid setting interval: must be > 0"):
        HttpSource("http://127.0.0.1/data", interval=0)
    with pytest.raises(SourceConfigError, match="invalid setting max_attempts"):
        HttpSource("http://127.0.0.1/data", max_attempts=0)


# -------------------------------------------------------------------------------------------------
# The polling loop
# -------------------------------------------------------------------------------------------------


def test_run__delivers_new_data_and_carries_on_after_failures():
    api = Api(etag='"v1"')
    api.replies = [500, 500, 500]  # the first poll fails all its attempts

    async def test() -> None:
        stop = asyncio.Event()
        sink = Collect(stop, after=2)
        async with serve(api) as url:
            source = HttpSource(url, name="hourly", interval=0.05, max_attempts=3, **FAST)
            task = asyncio.create_task(source.run(sink, stop))
            await until(lambda: len(sink.batches) == 1)
            api.body = "not json"
            api.etag = '"v2"'
            # The same bad document polled again is reported once, then counts as unchanged.
            await until(lambda: source.stats.unchanged >= 2)
            assert source.stats.malformed == 1
            api.body, api.etag = [HOUR], '"v3"'
            await asyncio.wait_for(task, 5)
        assert [b.key for b in sink.batches] == ['etag:"v1"', 'etag:"v3"']
        assert source.stats.batches == 2
        assert source.stats.errors == 1 + source.stats.malformed
        assert source.stats.last_error is not None and "not JSON" in source.stats.last_error

    run(test())


def test_run__sink_failure_delivers_again():
    api = Api(etag='"v1"')

    async def test() -> None:
        stop = asyncio.Event()
        sink = Collect(stop, after=1, fail_calls={1})
        async with serve(api) as url:
            source = HttpSource(url, name="hourly", interval=0.02, **FAST)
            await asyncio.wait_for(source.run(sink, stop), 5)
        assert [b.key for b in sink.batches] == ['etag:"v1"']
        assert (sink.calls, source.stats.sink_errors, source.stats.batches) == (2, 1, 1)
        # after the failure the validators were dropped, so the document was fetched in full
        assert api.requests[1].get("If-None-Match") is None

    run(test())


def test_run__unreachable_api_reported_without_crash():
    url = f"http://127.0.0.1:{free_port()}/hourly"

    async def test() -> None:
        stop = asyncio.Event()
        source = HttpSource(url, name="hourly", interval=0.02, max_attempts=2, **FAST)
        task = asyncio.create_task(source.run(Collect(), stop))
        await until(lambda: source.stats.errors >= 3)
        assert not task.done()
        stop.set()
        await asyncio.wait_for(task, 2)
        assert source.stats.batches == 0 and source.stats.polls >= 3
        assert isinstance(source.stats.last_error, str) and url in source.stats.last_error

    run(test())


def test_run__stop_interrupts_backoff():
    url = f"http://127.0.0.1:{free_port()}/hourly"

    async def test() -> None:
        stop = asyncio.Event()
        source = HttpSource(url, interval=60, backoff_base=30, backoff_max=30, max_attempts=5)
        task = asyncio.create_task(source.run(Collect(), stop))
        await until(lambda: source.stats.requests == 1)
        stop.set()
        await asyncio.wait_for(task, 1)  # well before the 15 s or more of the first backoff
        assert source.stats.errors == 0

    run(test())


def test_source_errors_share_the_base():
    assert issubclass(SourcePayloadError, SourceError)
    assert issubclass(SourceUnavailableError, SourceError)
    assert issubclass(SourceHttpError, SourceError)
