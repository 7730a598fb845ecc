"""A cheaper HTTP/1.1 client transport for the bench scripts' simulated phones (``sync.client.Transport``).

The bench's clients run on the same cores as the server they measure, so what they spend is taken from it.
``sync.client.HttpTransport`` (``http.client``) parses every answer's headers with ``email.parser`` and reads
through buffered file objects: ~0.15 ms of CPU a request on this machine, ~5 % of a single-section push all in.
``RawTransport`` sends the same request over one kept-alive socket and reads the answer itself (status line,
headers split once, a ``Content-Length`` or chunked body). Same requests, same connections (one per client, kept
alive, opened again when the server has closed an idle one), same answers (``sync.client.Response``).
"""
from __future__ import annotations

import socket
import urllib.parse

from sync.client import NetworkError, Response


class _Closed(Exception):
    """The server closed the connection before a whole answer came."""


class RawTransport:
    def __init__(self, base_url: str, timeout: float = 30.0):
        parsed = urllib.parse.urlsplit(base_url)
        self.host, self.port, self.prefix = parsed.hostname, parsed.port or 80, parsed.path.rstrip("/")
        self.timeout = timeout
        self._host_header = f"Host: {self.host}:{self.port}\r\n"
        self._sock: socket.socket | None = None
        self._buf = b""

    def _connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock, self._buf = sock, b""

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock, self._buf = None, b""

    def _recv(self) -> bytes:
        data = self._sock.recv(262144)
        if not data:
            raise _Closed()
        return data

    def _read(self, method: str) -> tuple[int, dict[str, str], bytes]:
        buf = self._buf
        while (end := buf.find(b"\r\n\r\n")) < 0:
            buf += self._recv()
        lines = buf[:end].decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:            # a repeated header: the last one, as sync.client.HttpTransport keeps
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        buf = buf[end + 4:]
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            content, self._buf = b"", buf
        elif "content-length" in headers:
            size = int(headers["content-length"])
            while len(buf) < size:
                buf += self._recv()
            content, self._buf = buf[:size], buf[size:]
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            parts = []
            while True:
                while (eol := buf.find(b"\r\n")) < 0:
                    buf += self._recv()
                size = int(buf[:eol].split(b";", 1)[0], 16)
                while len(buf) < eol + 2 + size + 2:
                    buf += self._recv()
                parts.append(buf[eol + 2:eol + 2 + size])
                buf = buf[eol + 2 + size + 2:]
                if size == 0:
                    break
            content, self._buf = b"".join(parts), buf
        else:                                   # the body runs to the end of the connection
            parts = [buf]
            try:
                while True:
                    parts.append(self._recv())
            except _Closed:
                pass
            content = b"".join(parts)
            self.close()
        return status, headers, content

    def request(self, method, path, headers, body):
        lines = [f"{method} {self.prefix}{path} HTTP/1.1\r\n", self._host_header]
        lines += [f"{name}: {value}\r\n" for name, value in headers.items()]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}\r\n")
        lines.append("\r\n")
        head = "".join(lines).encode("latin-1", errors="strict")
        message = head + body if body else head
        for attempt in (1, 2):
            reused = self._sock is not None
            try:
                if self._sock is None:
                    self._connect()
                self._sock.sendall(message)
                status, answer_headers, content = self._read(method)
            except (_Closed, OSError) as exc:
                self.close()
                # a kept-alive connection the server had closed while idle: open a new one and send again (every
                # request of this protocol may be sent twice), as sync.client.HttpTransport does
                if attempt == 1 and reused and isinstance(exc, (_Closed, BrokenPipeError, ConnectionResetError)):
                    continue
                raise NetworkError(str(exc) or "connection closed") from exc
            if answer_headers.get("connection", "").lower() == "close":
                self.close()
            return Response(status, answer_headers, content)
        raise NetworkError("unreachable")  # pragma: no cover
