"""NATS JetStream subject read by a durable pull consumer: resumes after restarts, acks stored data.

Delivery is at least once: a message is acknowledged only after the sink stored it, so a crash
between the two delivers it again, with the same `SourceBatch.key`, and the sink stores it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from worker.errors import SourcePayloadError
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

MSG_ID_HEADER = "Nats-Msg-Id"
# Failures of the broker connection or of the JetStream API that a later attempt may cure.
PASSING_ERRORS = (nats.errors.Error, OSError, asyncio.TimeoutError)


@dataclass
class NatsStats(SourceStats):
    """Counters of a `NatsSource`.

    Attributes:
        messages: Messages received, redeliveries included.
        redelivered: Messages received more than once (not acknowledged in time, or refused).
        acked: Acknowledgements the broker confirmed.
        connects: Connections opened by the source (the first one included).
        disconnects: Times the connection to the broker dropped.
        reconnects: Times the client got the connection back by itself.
    """

    messages: int = 0
    redelivered: int = 0
    acked: int = 0
    connects: int = 0
    disconnects: int = 0
    reconnects: int = 0


class NatsSource:
    """Reads a JetStream subject with a durable pull consumer and hands each message to a sink.

    The stream must exist (the broker's operator creates it); the durable consumer is created on
    first use with explicit acks and delivery of everything the stream holds, then resumed by every
    later run with the same `durable` name.

    Args:
        servers: Broker URL(s), for example "nats://127.0.0.1:4222".
        stream: Name of the JetStream stream that stores the subject.
        subject: Subject (or wildcard) to read; the consumer's filter.
        durable: Durable consumer name; keep it per worker and source so a restart resumes.
        name: Name of the source in batches, logs and errors.
        batch_size: Messages asked for per fetch.
        fetch_timeout: Longest wait of one fetch in seconds (also bounds how late a stop is seen).
        ack_wait: Seconds the broker waits for an ack before delivering a message again.
        retry_delay: Seconds before a message the sink refused is delivered again.
        backoff_max: Cap in seconds of the delay between attempts to connect.
        connect_timeout: Seconds allowed for one connection attempt.
        reconnect_attempts: Attempts per server the client makes by itself after a drop, before
            the source closes the connection and opens a new one.
        reconnect_wait: Seconds between those attempts.
        shape: Required top level of each JSON message: "object", "array" or "any".
        validate: Optional check of each decoded message; a `ValueError` rejects it.
    """

    def __init__(
        self,
        servers: str | Sequence[str],
        *,
        stream: str,
        subject: str,
        durable: str,
        name: str = "nats",
        batch_size: int = 16,
        fetch_timeout: float = 1.0,
        ack_wait: float = 30.0,
        retry_delay: float = 1.0,
        backoff_max: float = 10.0,
        connect_timeout: float = 2.0,
        reconnect_attempts: int = 10,
        reconnect_wait: float = 0.5,
        shape: Shape = "any",
        validate: Validator | None = None,
    ) -> None:
        urls = [servers] if isinstance(servers, str) else list(servers)
        require(name, "servers", bool(urls) and all(urls), "at least one broker URL is needed")
        for field, value in (("stream", stream), ("subject", subject), ("durable", durable)):
            require(name, field, bool(value), "must not be empty")
        require(name, "durable", not set(durable) & set(" .*>"), "no spaces, '.', '*' or '>'")
        require(name, "batch_size", batch_size >= 1, f"must be >= 1, got {batch_size}")
        for field, value in (
            ("fetch_timeout", fetch_timeout),
            ("ack_wait", ack_wait),
            ("connect_timeout", connect_timeout),
            ("backoff_max", backoff_max),
        ):
            require(name, field, value > 0, f"must be > 0, got {value}")
        require(name, "retry_delay", retry_delay >= 0, f"must be >= 0, got {retry_delay}")
        require(name, "reconnect_wait", reconnect_wait >= 0, f"must be >= 0, got {reconnect_wait}")
        require(name, "reconnect_attempts", reconnect_attempts >= 1, "must be >= 1")
        require(name, "shape", shape in ("object", "array", "any"), f"unknown shape {shape!r}")
        self.servers = urls
        self.stream = stream
        self.subject = subject
        self.durable = durable
        self.name = name
        self.batch_size = batch_size
        self.fetch_timeout = fetch_timeout
        self.ack_wait = ack_wait
        self.retry_delay = retry_delay
        self.backoff_max = backoff_max
        self.connect_timeout = connect_timeout
        self.reconnect_attempts = reconnect_attempts
        self.reconnect_wait = reconnect_wait
        self.shape: Shape = shape
        self.validate = validate
        self.stats = NatsStats()
        self._nc: Client | None = None
        self._sub: JetStreamContext.PullSubscription | None = None

    @property
    def connected(self) -> bool:
        """Whether the source is connected to the broker now."""
        return self._nc is not None and self._nc.is_connected

    # ---------------------------------------------------------------------------------------------
    # The consuming loop
    # ---------------------------------------------------------------------------------------------

    async def run(self, sink: Sink, stop_event: asyncio.Event) -> None:
        """Consumes until `stop_event` is set; each message is acked only after `sink` returned.

        Passing faults (broker down, JetStream unavailable, missing stream) are logged, counted and
        retried with backoff. A malformed message is counted, logged and terminated so it is never
        delivered again. A sink that raises gets the message again after `retry_delay`.

        Args:
            sink: Async callable that stores a batch durably.
            stop_event: Set it to stop; messages fetched but not yet handed over are released.
        """
        failures = 0
        try:
            while not stop_event.is_set():
                try:
                    sub = await self._subscription(stop_event)
                    if sub is None:
                        break
                except PASSING_ERRORS as error:
                    failures += 1
                    if await self._failed(error, failures, stop_event):
                        break
                    continue
                try:
                    msgs = await sub.fetch(self.batch_size, timeout=self.fetch_timeout)
                except asyncio.TimeoutError:
                    # NOTE: an empty fetch; or the connection dropped and the client is getting it
                    # back by itself (requests wait in its buffer), so only pause a little.
                    if self._nc is not None and self._nc.is_connected:
                        failures = 0
                    else:
                        await wait_or_stop(stop_event, self.reconnect_wait)
                    continue
                except PASSING_ERRORS as error:
                    failures += 1
                    if await self._failed(error, failures, stop_event):
                        break
                    continue
                failures = 0
                await self._deliver(msgs, sink, stop_event)
        finally:
            await self.aclose()

    async def _failed(self, error: BaseException, failures: int, stop_event: asyncio.Event) -> bool:
        """Reports a failure to read, then backs off; returns True when a stop was requested."""
        self._report(
            f"cannot read {self.subject} from stream {self.stream} ({_describe(error)}); "
            f"attempt {failures}"
        )
        await self._drop_subscription()
        delay = backoff_delay(failures, self.reconnect_wait or 0.1, self.backoff_max)
        return await wait_or_stop(stop_event, delay)

    async def aclose(self) -> None:
        """Closes the connection to the broker (the durable consumer stays on the broker)."""
        nc, self._nc, self._sub = self._nc, None, None
        if nc is not None and not nc.is_closed:
            with contextlib.suppress(*PASSING_ERRORS):
                await nc.close()

    async def _deliver(self, msgs: list[Msg], sink: Sink, stop_event: asyncio.Event) -> None:
        """Hands the fetched messages to the sink one by one, in stream order."""
        for index, msg in enumerate(msgs):
            if stop_event.is_set():
                # Released at once, so the next run (or another worker) gets them without waiting.
                await self._settle("release", msgs[index:])
                return
            self.stats.messages += 1
            metadata = msg.metadata
            self.stats.redelivered += int(metadata.num_delivered > 1)
            key = (msg.headers or {}).get(MSG_ID_HEADER) or f"seq:{metadata.sequence.stream}"
            try:
                payload = decode_payload(self.name, msg.data, shape=self.shape,
                                         validate=self.validate, key=key)  # fmt: skip
            except SourcePayloadError as error:
                await self._refuse(msg, error)
                continue
            batch = SourceBatch(source=self.name, key=key, payload=payload, received_at=time.time())
            try:
                await sink(batch)
            except SourcePayloadError as error:  # NOTE: refused by the sink for good
                await self._refuse(msg, error)
                continue
            except Exception as error:
                self.stats.sink_errors += 1
                self._report(f"sink failed for {key}: {error}", exc_info=True)
                # NOTE: the rest of the fetch goes back too, so later data never overtakes it.
                await self._settle("refuse", msgs[index:])
                return
            self.stats.batches += 1
            try:
                await msg.ack_sync(timeout=self.connect_timeout)
            except PASSING_ERRORS as error:
                self._report(f"ack of {key} not confirmed ({_describe(error)}); it comes again")
                continue
            self.stats.acked += 1

    async def _refuse(self, msg: Msg, error: SourcePayloadError) -> None:
        """Counts and logs a refused message once, and terminates it: it never comes again."""
        self.stats.record_refused(error)
        log.warning("%s", error)
        await self._settle("terminate", [msg])

    async def _settle(self, action: str, msgs: list[Msg]) -> None:
        """Terminates, refuses (nak after `retry_delay`) or releases (nak now) messages."""
        for each in msgs:
            try:
                if action == "terminate":
                    await each.term()
                else:
                    await each.nak(delay=self.retry_delay if action == "refuse" else None)
            except PASSING_ERRORS as error:
                # The broker delivers it again after ack_wait anyway.
                log.debug("source %r: %s of a message failed: %s", self.name, action, error)

    def _report(self, message: str, *, exc_info: bool = False) -> None:
        self.stats.record_error(f"source {self.name!r}: {message}")
        log.warning("source %r: %s", self.name, message, exc_info=exc_info)

    # ---------------------------------------------------------------------------------------------
    # Connection and durable consumer
    # ---------------------------------------------------------------------------------------------

    async def _subscription(
        self, stop_event: asyncio.Event
    ) -> JetStreamContext.PullSubscription | None:
        """The pull subscription, connecting and creating the durable consumer when needed.

        Returns:
            None when a stop was requested while connecting.
        """
        if self._nc is not None and self._nc.is_closed:
            # The client gave up reconnecting by itself; start over with a new connection.
            await self._drop_subscription()
            self._nc = None
        if self._nc is None:
            connecting = asyncio.ensure_future(self._connect())
            stopping = asyncio.ensure_future(stop_event.wait())
            await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not connecting.done():
                connecting.cancel()
                with contextlib.suppress(asyncio.CancelledError, *PASSING_ERRORS):
                    await connecting
                return None
            self._nc = connecting.result()
            self.stats.connects += 1
            url = self._nc.connected_url
            log.info("source %r: connected to %s", self.name, url.netloc if url else "?")
        if self._sub is None:
            config = ConsumerConfig(
                durable_name=self.durable,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=self.ack_wait,
                filter_subject=self.subject,
            )
            js = self._nc.jetstream(timeout=self.connect_timeout)
            self._sub = await js.pull_subscribe(
                self.subject, durable=self.durable, stream=self.stream, config=config
            )
            log.info("source %r: consuming %s as %s", self.name, self.subject, self.durable)
        return self._sub

    async def _connect(self) -> Client:
        return await nats.connect(
            servers=self.servers,
            name=f"worker-source-{self.name}",
            connect_timeout=self.connect_timeout,
            reconnect_time_wait=self.reconnect_wait,
            max_reconnect_attempts=self.reconnect_attempts,
            error_cb=self._on_error,
            disconnected_cb=self._on_disconnected,
            reconnected_cb=self._on_reconnected,
        )

    async def _drop_subscription(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None and self._nc is not None and not self._nc.is_closed:
            with contextlib.suppress(*PASSING_ERRORS, ValueError):
                await sub.unsubscribe()

    async def _on_error(self, error: Exception) -> None:
        log.debug("source %r: broker connection: %s", self.name, _describe(error))

    async def _on_disconnected(self) -> None:
        self.stats.disconnects += 1
        log.warning("source %r: disconnected from the broker; reconnecting", self.name)

    async def _on_reconnected(self) -> None:
        self.stats.reconnects += 1
        log.info("source %r: reconnected to the broker", self.name)


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
