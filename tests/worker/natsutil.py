"""A real nats-server with JetStream for tests (see `scripts._localnet.NatsServer`)."""

from scripts._localnet import NatsServer, free_port  # noqa: F401  (re-exported for the tests)
