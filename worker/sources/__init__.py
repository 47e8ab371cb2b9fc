"""Data sources of the worker: read-only clients that hand new input data to a sink.

Two kinds share one shape: `HttpSource` polls an HTTP JSON API; `NatsSource` reads a NATS
JetStream subject through a durable consumer. Both offer `async run(sink, stop_event)`, hand over
`SourceBatch` objects whose `key` lets the sink store each datum once, report failures in
`stats` and the log, and carry on. `worker.sources.build` makes a worker's sources from its
config (one or more, of either kind) and reports each in the health check and the metrics.
"""

from worker.sources.base import Payload, Sink, SourceBatch, SourceStats, Validator, decode_payload
from worker.sources.http import HttpSource, HttpStats
from worker.sources.nats import NatsSource, NatsStats

__all__ = [
    "HttpSource",
    "HttpStats",
    "NatsSource",
    "NatsStats",
    "Payload",
    "Sink",
    "SourceBatch",
    "SourceStats",
    "Validator",
    "decode_payload",
]
