"""The explorer's HTTP server: static files, the deployment it shows, and a read-only RPC relay.

Everything the page shows is computed in the browser from chain data; this server only

- serves the page (`static/`) and ethers (`node_modules/ethers/dist/ethers.min.js`, pinned in
  package-lock.json), so the page needs no internet;
- tells the page which deployment to read (`/api/deployment`: chain id, contract addresses and
  deployment block, from the manifest);
- relays JSON-RPC requests (single or batched) to the node, read-only methods only, so the page
  works with a node that sends no CORS headers, and counts them (`/api/stats`).

It keeps no database: a reload reads the chain again.
"""

from __future__ import annotations

import json
import mimetypes
import threading
import urllib.error
import urllib.request
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from worker.chain import load_manifest
from worker.errors import WorkerError

STATIC = Path(__file__).resolve().parent / "static"
PROJECT = Path(__file__).resolve().parents[2]
ETHERS = PROJECT / "node_modules" / "ethers" / "dist" / "ethers.min.js"
READ_METHODS = frozenset({
    "eth_chainId", "net_version", "eth_blockNumber", "eth_getBlockByNumber", "eth_call",
    "eth_getLogs", "eth_getCode", "eth_getBalance", "eth_getTransactionReceipt",
})  # fmt: skip
MAX_BODY = 1 << 20
RPC_TIMEOUT = 30.0


class ExplorerError(WorkerError):
    """The explorer cannot start: no ethers bundle, or the node is unreachable or another chain."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"explorer: {reason}")


def rpc_url(network: str | None) -> str:
    """The node URL of an Ape network choice (`ecosystem:network[:provider or URL]`)."""
    if not network:
        raise ValueError("give --network or --rpc")
    last = network.split(":", 2)[-1]
    if last.startswith(("http://", "https://")):
        return last
    from ape import networks

    uri = getattr(networks.get_provider_from_choice(network), "uri", None)
    if not uri or not str(uri).startswith(("http://", "https://")):
        raise ValueError(f"network {network!r} has no HTTP RPC URL; give --rpc")
    return str(uri)


def _post(url: str, payload: bytes) -> bytes:
    request = urllib.request.Request(
        url, data=payload, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=RPC_TIMEOUT) as response:
        return response.read()


class ExplorerServer:
    """The explorer of one deployment, served on `host:port` (port 0: a free one)."""

    def __init__(self, node_url: str, manifest: Path, host: str = "127.0.0.1", port: int = 0):
        if not ETHERS.is_file():
            raise ExplorerError(f"{ETHERS} is missing: run `make setup` (npm ci)")
        self.node_url = node_url
        self.manifest = load_manifest(manifest)
        try:
            reply = json.loads(_post(node_url, b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}'))
            chain_id = int(reply["result"], 16)
        except (OSError, ValueError, KeyError, urllib.error.URLError) as exc:
            raise ExplorerError(f"node {node_url} does not answer eth_chainId ({exc})") from exc
        if chain_id != self.manifest.chain_id:
            raise ExplorerError(f"node {node_url} is chain {chain_id}, the manifest's is "
                                f"{self.manifest.chain_id}")  # fmt: skip
        self.chain_id = chain_id
        self.calls: dict[str, int] = {}
        self.requests = 0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), _handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def deployment(self) -> dict[str, Any]:
        m = self.manifest
        return {"chainId": m.chain_id, "network": m.network, "voting": m.voting,
                "rewards": m.rewards, "fromBlock": m.voting_block}  # fmt: skip

    def relay(self, body: bytes) -> bytes:
        """Forwards a JSON-RPC request or batch to the node if every method is read-only."""
        request = json.loads(body)
        items = request if isinstance(request, list) else [request]
        methods = [item.get("method") if isinstance(item, dict) else None for item in items]
        refused = [m for m in methods if m not in READ_METHODS]
        if refused:
            message = f"the explorer relays read calls only: {refused[0]}"
            error = {"code": -32601, "message": message}
            replies = [{"jsonrpc": "2.0", "id": i.get("id") if isinstance(i, dict) else None,
                        "error": error} for i in items]  # fmt: skip
            return json.dumps(replies if isinstance(request, list) else replies[0]).encode()
        with self._lock:
            self.requests += 1
            for method in methods:
                self.calls[method] = self.calls.get(method, 0) + 1
        return _post(self.node_url, body)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"requests": self.requests, "calls": dict(self.calls),
                    "total": sum(self.calls.values())}  # fmt: skip

    def start(self) -> None:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        name="explorer")  # fmt: skip
        self._thread.start()

    def wait(self) -> None:
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _handler(explorer: ExplorerServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "explorer"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # NOTE: the page polls; a line per request would drown the terminal

        def _send(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, value: Any, status: int = HTTPStatus.OK) -> None:
            self._send(status, json.dumps(value).encode(), "application/json")

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/api/deployment":
                return self._json(explorer.deployment())
            if path == "/api/stats":
                return self._json(explorer.stats())
            if path == "/favicon.ico":
                return self._send(HTTPStatus.NO_CONTENT, b"", "image/x-icon")
            if path == "/vendor/ethers.min.js":
                return self._send(HTTPStatus.OK, ETHERS.read_bytes(), "text/javascript")
            if path in ("/", "/index.html"):
                path = "/static/index.html"
            file = (STATIC / path.removeprefix("/static/")).resolve()
            if not path.startswith("/static/") or STATIC not in file.parents or not file.is_file():
                return self._json({"error": "not found"}, HTTPStatus.NOT_FOUND)
            kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            if file.suffix == ".js":
                kind = "text/javascript"
            self._send(HTTPStatus.OK, file.read_bytes(), kind)

        def do_POST(self) -> None:
            if self.path != "/rpc":
                return self._json({"error": "not found"}, HTTPStatus.NOT_FOUND)
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY:
                return self._json({"error": "body too large or empty"}, HTTPStatus.BAD_REQUEST)
            try:
                reply = explorer.relay(self.rfile.read(length))
            except (ValueError, AttributeError) as exc:
                return self._json({"error": f"not JSON-RPC: {exc}"}, HTTPStatus.BAD_REQUEST)
            except OSError as exc:
                return self._json({"error": f"node: {exc}"}, HTTPStatus.BAD_GATEWAY)
            self._send(HTTPStatus.OK, reply, "application/json")

    return Handler
