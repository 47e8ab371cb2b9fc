"""A small TCP proxy in front of a node, for failover tests: it relays, freezes or dies on demand.

`freeze()` keeps every connection open and accepts new ones but relays nothing (a node that hangs);
`thaw()` relays again; `kill()` closes the listening socket and every connection (a node that is
gone). `seen(text)` counts the client requests that contained `text` (e.g. a JSON-RPC method).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time


class TcpProxy:
    """Relays 127.0.0.1:`port` (a free one) to `target_port` on 127.0.0.1."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._frozen = threading.Event()
        self._dead = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._requests: list[bytes] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def freeze(self) -> None:
        self._frozen.set()

    def thaw(self) -> None:
        self._frozen.clear()

    def kill(self) -> None:
        self._dead.set()
        self._server.close()
        with self._lock:
            for sock in self._sockets:
                _close(sock)

    def seen(self, text: str) -> int:
        with self._lock:
            return sum(text.encode() in chunk for chunk in self._requests)

    def _accept(self) -> None:
        while not self._dead.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        try:
            while not self._dead.is_set():
                chunk = source.recv(65536)
                if not chunk:
                    break
                while self._frozen.is_set() and not self._dead.is_set():
                    time.sleep(0.05)  # NOTE: holds the bytes: the other side waits, unanswered
                if self._dead.is_set():
                    break
                if from_client:
                    with self._lock:
                        self._requests.append(chunk)
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
