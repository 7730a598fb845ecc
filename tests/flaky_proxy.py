"""A loopback HTTP proxy that loses requests and answers at random (threads, one request per connection).

A lost request never reaches the server; a lost answer is read from the server (which has acted) and
then thrown away, the client seeing the connection close. Only the paths in ``flaky`` are touched
(the sync protocol and the uploads); the app's own files and the login pass untouched."""
from __future__ import annotations

import random
import socket
import socketserver
import threading

FLAKY = ("/api/sync/", "/api/media/", "/api/uploads")


class FlakyProxy:
    def __init__(self, upstream_port: int, *, drop_request: float = 0.2, drop_response: float = 0.2, seed: int = 8,
                 flaky: tuple[str, ...] = FLAKY):
        self.upstream_port, self.flaky = upstream_port, flaky
        self.drop_request, self.drop_response = drop_request, drop_response
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.counts = {"forwarded": 0, "lost_requests": 0, "lost_responses": 0, "upstream_down": 0}
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                proxy._handle(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _roll(self, p: float) -> bool:
        with self.lock:
            return self.random.random() < p

    def _count(self, key: str) -> None:
        with self.lock:
            self.counts[key] += 1

    @staticmethod
    def _read_request(conn: socket.socket) -> bytes | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            body += chunk
        lines = [line for line in head.split(b"\r\n") if not line.lower().startswith((b"connection:", b"keep-alive:"))]
        return b"\r\n".join(lines + [b"Connection: close"]) + b"\r\n\r\n" + body

    def _handle(self, conn: socket.socket) -> None:
        try:
            request = self._read_request(conn)
            if request is None:
                return
            path = request.split(b" ", 2)[1].decode("latin-1")
            flaky = path.startswith(self.flaky)
            if flaky and self._roll(self.drop_request):
                self._count("lost_requests")
                return                                   # the server never sees it
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=60)
            except OSError:
                self._count("upstream_down")
                return
            with upstream:
                upstream.sendall(request)
                response = b""
                while True:
                    chunk = upstream.recv(65536)
                    if not chunk:
                        break
                    response += chunk
            if flaky and self._roll(self.drop_response):
                self._count("lost_responses")
                return                                   # the server acted; the answer is lost
            self._count("forwarded")
            conn.sendall(response)
        except OSError:
            pass
        finally:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
