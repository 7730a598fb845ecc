"""bench/_http.py's RawTransport (the bench's simulated phones): the answers http.client would give, one kept-alive
connection, a connection the server closed while idle opened again."""
from __future__ import annotations

import socket
import threading

import pytest

from bench._http import RawTransport
from sync.client import HttpTransport, NetworkError


class _Server:
    """A loopback server answering each request on a connection with the next of ``answers`` (raw bytes); after
    ``close_after`` answers on a connection it closes that connection."""

    def __init__(self, answers: list[bytes], close_after: int = 1000):
        self.answers, self.close_after = answers, close_after
        self.requests: list[bytes] = []
        self.connections = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                buf, served = b"", 0
                while served < self.close_after and self.answers:
                    while b"\r\n\r\n" not in buf:
                        data = conn.recv(65536)
                        if not data:
                            break
                        buf += data
                    if b"\r\n\r\n" not in buf:
                        break
                    head, _, rest = buf.partition(b"\r\n\r\n")
                    size = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                                 if line.lower().startswith(b"content-length:")), 0)
                    while len(rest) < size:
                        rest += conn.recv(65536)
                    self.requests.append(head + b"\r\n\r\n" + rest[:size])
                    buf = rest[size:]
                    conn.sendall(self.answers.pop(0))
                    served += 1

    def close(self):
        self.sock.close()


ANSWERS = [
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\nX-A: 1\r\nX-A: 2\r\n\r\n{\"ok\":true}",
    b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n",
    b"HTTP/1.1 204 No Content\r\n\r\n",
    b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
]


@pytest.mark.parametrize("kind", [RawTransport, HttpTransport])
def test_the_same_answers_as_http_client(kind):
    server = _Server(list(ANSWERS))
    try:
        t = kind(f"http://127.0.0.1:{server.port}", timeout=5)
        body = '{"x":"中"}'.encode()
        r = t.request("POST", "/api/sync/push", {"Content-Type": "application/json", "Authorization": "Bearer t"}, body)
        assert (r.status, r.json, r.headers["content-type"], r.headers["x-a"]) == (200, {"ok": True},
                                                                                 "application/json", "2")
        assert t.request("GET", "/api/sync/pull?cursor=1", {}, None).json == {"a": 1}
        assert t.request("DELETE", "/x", {}, None).content == b""
        assert t.request("GET", "/y", {}, None).status == 401
        assert server.connections == 1                     # kept alive until the server said close
        first = server.requests[0]
        assert first.startswith(b"POST /api/sync/push HTTP/1.1\r\n") and first.endswith(b"\r\n\r\n" + body)
        assert b"Content-Length: %d\r\n" % len(body) in first and b"Authorization: Bearer t\r\n" in first
    finally:
        server.close()


def test_a_connection_closed_while_idle_is_opened_again():
    server = _Server([ANSWERS[0], ANSWERS[0]], close_after=1)
    try:
        t = RawTransport(f"http://127.0.0.1:{server.port}", timeout=5)
        assert t.request("GET", "/a", {}, None).status == 200
        assert t.request("GET", "/b", {}, None).status == 200      # the first connection was closed: sent again
        assert server.connections == 2
    finally:
        server.close()


def test_nothing_listening_is_a_network_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(NetworkError):
        RawTransport(f"http://127.0.0.1:{port}", timeout=2).request("GET", "/", {}, None)
