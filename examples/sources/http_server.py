"""An example HTTP data source for workers: serves readings by time window, one GET one payload.

    .venv/bin/python examples/sources/http_server.py --port 8700 \
        --serve production=examples/cfe/production.json

Each `--serve KIND=FILE` names a JSON file `{"KIND": [reading, ...]}` whose readings have `start`
and `end` (UTC epoch seconds). Routes, per kind:

- `GET /KIND?start=S&end=E`: the readings that lie within [S, E), as `{"KIND": [...]}`; 404
  while there are none (the worker asks again on its next poll). This is the `window_url` of a
  worker's HTTP source: `http://host:8700/production?start={start}&end={end}`.
- `GET /KIND/latest`: the last complete hour that has readings (the `url` of a source that
  polls for new data).

Every answer carries an ETag (a hash of its body) and answers 304 to `If-None-Match` with it, so
a polling worker receives a document only when it changed. What a source must deliver:
docs/DATA-SOURCES.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

HOUR = 3600


class Readings:
    """The readings of one kind, by interval."""

    def __init__(self, kind: str, path: Path) -> None:
        self.kind = kind
        self.items = json.loads(path.read_text(encoding="utf-8"))[kind]

    def window(self, start: int, end: int) -> list[dict]:
        return [r for r in self.items if start <= r["start"] and r["end"] <= end]

    def latest_hour(self) -> tuple[int, int] | None:
        if not self.items:
            return None
        last = max(r["end"] for r in self.items)
        start = (last - 1) // HOUR * HOUR
        return start, start + HOUR


class Handler(BaseHTTPRequestHandler):
    """Answers the routes of the module docstring."""

    kinds: ClassVar[dict[str, Readings]] = {}

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        kind, _, rest = parts.path.strip("/").partition("/")
        readings = self.kinds.get(kind)
        if readings is None or rest not in ("", "latest"):
            return self._send(HTTPStatus.NOT_FOUND, {"error": f"no route {parts.path}"})
        if rest == "latest":
            span = readings.latest_hour()
        else:
            query = parse_qs(parts.query)
            try:
                span = int(query["start"][0]), int(query["end"][0])
            except (KeyError, ValueError):
                return self._send(HTTPStatus.BAD_REQUEST, {"error": "give start and end"})
        found = readings.window(*span) if span else []
        if not found:
            return self._send(HTTPStatus.NOT_FOUND, {"error": f"no {kind} for {span}"})
        self._send(HTTPStatus.OK, {kind: found})

    def _send(self, status: HTTPStatus, document: dict) -> None:
        body = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        if status == HTTPStatus.OK and self.headers.get("If-None-Match") == etag:
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if status == HTTPStatus.OK:
            self.send_header("ETag", etag)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # NOTE: quiet; a worker polls often


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8700)
    parser.add_argument("--serve", action="append", required=True, metavar="KIND=FILE")
    args = parser.parse_args(argv)
    for item in args.serve:
        kind, _, file = item.partition("=")
        if not kind or not file:
            parser.error(f"--serve takes KIND=FILE, got {item!r}")
        Handler.kinds[kind] = Readings(kind, Path(file))
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    print(f"serving {', '.join(Handler.kinds)} on http://{args.host}:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
