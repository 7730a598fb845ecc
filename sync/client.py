"""A small client of the sync protocol (docs/sync.md): the model the phone app mirrors.

Used by the tests, ``bench/sync.py`` and the load test. It keeps what a phone keeps:

* an **outbox** of mutations with increasing ids, written before anything is sent, removed only
  when the server has answered for them (applied, conflict or rejected: the answer is kept in
  ``results`` so the app can show it);
* the **documents** pulled (tasks and inspections) and the **cursor**, saved only after the page;
* the revision it last saw of every field it writes (the ``base_rev`` of its next write).

A network failure leaves everything in place: the same outbox is pushed again, and the server
answers for what it already applied without applying it twice. An access token that expired is
refreshed and the request repeated. ``state()`` / ``from_state()`` save and restore all of it (a
phone closing and reopening the app).
"""
from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import http.client
import json
import urllib.parse
import uuid
from typing import Any, Callable, Protocol

from sync.protocol import MAX_BATCH_BYTES, MAX_MUTATIONS


@dataclasses.dataclass
class Response:
    status: int
    headers: dict[str, str]
    content: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.content) if self.content else None


class Transport(Protocol):
    def request(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> Response: ...


class NetworkError(Exception):
    """The request or its answer was lost; nothing is known about whether the server acted."""


class HttpTransport:
    """HTTP/1.1 with keep-alive over ``http.client`` (no dependency)."""

    def __init__(self, base_url: str, timeout: float = 30.0):
        parsed = urllib.parse.urlsplit(base_url)
        self.host, self.port, self.prefix = parsed.hostname, parsed.port or 80, parsed.path.rstrip("/")
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def request(self, method, path, headers, body):
        for attempt in (1, 2):
            reused = self._conn is not None
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self._conn.request(method, self.prefix + path, body=body, headers=headers)
                r = self._conn.getresponse()
                content = r.read()
            except (ConnectionError, http.client.HTTPException, OSError) as exc:
                self.close()
                # a kept-alive connection the server had closed while idle: open a new one and send again
                # (every request of this protocol may be sent twice); otherwise whether the server acted is
                # unknown, and the caller repeats the same request when it chooses
                if attempt == 1 and reused and isinstance(exc, (BrokenPipeError, ConnectionResetError,
                                                                http.client.RemoteDisconnected)):
                    continue
                raise NetworkError(str(exc)) from exc
            if r.getheader("connection", "").lower() == "close":
                self.close()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, content)
        raise NetworkError("unreachable")  # pragma: no cover

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None


# a push the server stopped on purpose before the rest of the batch: send the rest again
CONTINUE_AFTER = ("sync.signer_limit",)


class SyncError(Exception):
    def __init__(self, status: int, body: Any):
        super().__init__(f"{status}: {body}")
        self.status, self.body = status, body

    @property
    def code(self) -> str | None:
        return self.body.get("code") if isinstance(self.body, dict) else None


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


class Client:
    """One device of one officer."""

    def __init__(self, transport: Transport, *, client_id: str | None = None, label: str = "python-client",
                 clock: Callable[[], str] = _now):
        self.transport, self.label, self.clock = transport, label, clock
        self.client_id = client_id or str(uuid.uuid4())
        self.access_token: str | None = None
        self.refresh_token: str | None = None
        self.next_id = 1
        self.outbox: list[dict] = []
        self.results: dict[int, dict] = {}
        self.cursor: str | None = None
        self.docs: dict[str, dict[int, dict]] = {"task": {}, "inspection": {}}
        self.tombstones: dict[int, dict] = {}
        self.known_revs: dict[str, int] = {}       # "<scope>|<path>" → the server revision last seen
        self.last_mutation_id = 0
        self.refreshes = 0

    # --- persistence ----------------------------------------------------------------------------

    def state(self) -> dict:
        return {"client_id": self.client_id, "access_token": self.access_token, "refresh_token": self.refresh_token,
                "next_id": self.next_id, "outbox": self.outbox, "results": {str(k): v for k, v in self.results.items()},
                "cursor": self.cursor, "docs": {k: {str(i): d for i, d in v.items()} for k, v in self.docs.items()},
                "tombstones": {str(k): v for k, v in self.tombstones.items()}, "known_revs": self.known_revs,
                "last_mutation_id": self.last_mutation_id}

    @classmethod
    def from_state(cls, transport: Transport, state: dict, **kw) -> "Client":
        c = cls(transport, client_id=state["client_id"], **kw)
        c.access_token, c.refresh_token = state["access_token"], state["refresh_token"]
        c.next_id, c.outbox, c.cursor = state["next_id"], list(state["outbox"]), state["cursor"]
        c.results = {int(k): v for k, v in state["results"].items()}
        c.docs = {k: {int(i): d for i, d in v.items()} for k, v in state["docs"].items()}
        c.tombstones = {int(k): v for k, v in state["tombstones"].items()}
        c.known_revs, c.last_mutation_id = dict(state["known_revs"]), state["last_mutation_id"]
        return c

    # --- HTTP -----------------------------------------------------------------------------------

    def _send(self, method: str, path: str, *, json_body: Any = None, body: bytes | None = None,
              headers: dict | None = None, auth: bool = True) -> Response:
        hdrs = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body, ensure_ascii=False, separators=(",", ":")).encode()
            hdrs["Content-Type"] = "application/json"
        for attempt in (1, 2):
            if auth and self.access_token:
                hdrs["Authorization"] = f"Bearer {self.access_token}"
            r = self.transport.request(method, path, hdrs, body)
            if r.status == 401 and auth and attempt == 1 and self.refresh_token:
                code = (r.json or {}).get("code") if r.content else None
                if code in ("auth.token_expired", "auth.token_invalid", "auth.token_revoked"):
                    self.refresh()
                    continue
            return r
        return r

    def _ok(self, r: Response, *expected: int) -> Any:
        if r.status not in (expected or (200,)):
            raise SyncError(r.status, r.json if r.content else None)
        return r.json if r.content else None

    def login(self, username: str, password: str) -> dict:
        r = self._send("POST", "/api/v1/auth/login", json_body={"username": username, "password": password,
                                                                "device_label": self.label}, auth=False)
        body = self._ok(r)
        self.access_token, self.refresh_token = body["access_token"], body["refresh_token"]
        return body

    def refresh(self) -> None:
        r = self._send("POST", "/api/v1/auth/refresh", json_body={"refresh_token": self.refresh_token}, auth=False)
        body = self._ok(r)
        self.access_token, self.refresh_token = body["access_token"], body["refresh_token"]
        self.refreshes += 1

    # --- the outbox -----------------------------------------------------------------------------

    def enqueue(self, name: str, args: dict) -> int:
        """Add a mutation (a phone writes it in the same IndexedDB transaction as the data)."""
        mid = self.next_id
        self.next_id += 1
        self.outbox.append({"id": mid, "name": name, "args": args, "device_time": self.clock()})
        return mid

    def _scope(self, inspection_id: int, department_id: int | None) -> str:
        return f"{inspection_id}/{department_id if department_id is not None else 'record'}"

    def base_rev(self, inspection_id: int, department_id: int | None, path: str) -> int:
        return self.known_revs.get(f"{self._scope(inspection_id, department_id)}|{path}", 0)

    def set_section(self, inspection_id: int, department_id: int, values: dict[str, Any]) -> int:
        fields = {p: {"value": v, "base_rev": self.base_rev(inspection_id, department_id, p)} for p, v in values.items()}
        return self.enqueue("section.set", {"inspection_id": inspection_id, "department_id": department_id,
                                            "fields": fields})

    def set_record(self, inspection_id: int, values: dict[str, Any]) -> int:
        fields = {p: {"value": v, "base_rev": self.base_rev(inspection_id, None, p)} for p, v in values.items()}
        return self.enqueue("record.set", {"inspection_id": inspection_id, "fields": fields})

    def pending(self) -> int:
        return len(self.outbox)

    def _batches(self) -> list[list[dict]]:
        batches, current, size = [], [], 2
        for m in self.outbox:
            n = len(json.dumps(m, ensure_ascii=False).encode()) + 1
            if current and (len(current) >= MAX_MUTATIONS or size + n > MAX_BATCH_BYTES - 1024):
                batches.append(current)
                current, size = [], 2
            current.append(m)
            size += n
        if current:
            batches.append(current)
        return batches

    def push(self) -> list[dict]:
        """Send the outbox in batches; return the server's results. Raises NetworkError/SyncError, keeping it.

        A push the server stopped early on purpose (``sync.signer_limit``: too many co-signers to check in one
        push) goes on with the rest; a gap (``sync.gap``) is a bug of the outbox and raises."""
        answered = []
        renumbered = 0
        while self.outbox:
            again = False
            for batch in self._batches():
                r = self._send("POST", "/api/sync/push", json_body={"client_id": self.client_id, "mutations": batch},
                               headers={"X-Device-Label": self.label})
                if r.status == 409 and (r.json or {}).get("code") == "sync.replay_mismatch" \
                        and renumbered < len(self.outbox):
                    # an id the server processed before came with another content (a bug of this outbox): the
                    # server kept the first; this content goes again under a new id, last. Nothing is dropped.
                    self.renumber(r.json["details"]["mutation_id"])
                    renumbered += 1
                    again = True
                    break
                body = self._ok(r)
                done = {res["id"]: res for res in body["results"]}
                for m in batch:
                    res = done.get(m["id"])
                    if res is None:
                        continue
                    self.results[m["id"]] = res
                    self._learn_revs(m, res)
                self.outbox = [m for m in self.outbox if m["id"] not in done]
                self.last_mutation_id = body["last_mutation_id"]
                answered.extend(body["results"])
                stopped = body.get("stopped")
                if stopped and stopped.get("code") in CONTINUE_AFTER and done:
                    again = True
                    break
                if stopped:
                    raise SyncError(409, stopped)
            if not again:
                break
        return answered

    def renumber(self, mutation_id: int) -> int:
        """Give the outbox's mutation ``mutation_id`` the next free id (at the end of the outbox); return it."""
        m = next(m for m in self.outbox if m["id"] == mutation_id)
        self.outbox.remove(m)
        self.outbox.append({**m, "id": self.next_id})
        self.next_id += 1
        return self.next_id - 1

    def _learn_revs(self, m: dict, res: dict) -> None:
        revs = res.get("revs") or {}
        args = m["args"]
        if m["name"] in ("section.set", "record.set") and "inspection_id" in args:
            scope = self._scope(args["inspection_id"], args.get("department_id") if m["name"] == "section.set" else None)
            for path, rev in revs.items():
                key = f"{scope}|{path}"
                self.known_revs[key] = max(self.known_revs.get(key, 0), rev)

    # --- pulling --------------------------------------------------------------------------------

    def pull(self, limit: int = 100) -> int:
        """Pull until nothing is left; return how many changes were stored."""
        stored = 0
        while True:
            query = urllib.parse.urlencode({k: v for k, v in (("client_id", self.client_id), ("cursor", self.cursor),
                                                              ("limit", limit)) if v is not None})
            r = self._send("GET", f"/api/sync/pull?{query}", headers={"X-Device-Label": self.label})
            if r.status == 409 and (r.json or {}).get("code") == "sync.cursor_ahead" and self.cursor is not None:
                self.cursor = None             # the server's data went back (a restored backup): start afresh
                continue
            body = self._ok(r)
            for change in body["changes"]:
                self._store(change)
                stored += 1
            self.cursor = body["cursor"]          # only after the page is stored
            self.last_mutation_id = body["last_mutation_id"]
            if not body["has_more"]:
                return stored

    def _store(self, change: dict) -> None:
        kind, cid = change["type"], change["id"]
        if change["op"] == "del":
            self.docs[kind].pop(cid, None)
            self.tombstones[cid] = change
            return
        self.docs[kind][cid] = change["data"]
        self.tombstones.pop(cid, None)
        if kind == "inspection":
            doc = change["data"]
            for s in doc["sections"]:
                scope = self._scope(cid, s["department_id"])
                for path, rev in s["revs"].items():
                    self.known_revs[f"{scope}|{path}"] = rev
            if doc.get("record"):
                scope = self._scope(cid, None)
                for path, rev in doc["record"]["revs"].items():
                    self.known_revs[f"{scope}|{path}"] = rev

    def sync(self) -> None:
        self.push()
        self.pull()

    def section(self, inspection_id: int, department_id: int) -> dict | None:
        doc = self.docs["inspection"].get(inspection_id)
        if doc is None:
            return None
        return next((s for s in doc["sections"] if s["department_id"] == department_id), None)

    # --- uploads --------------------------------------------------------------------------------

    def upload(self, data: bytes, media_type: str, filename: str = "photo.jpg", chunk: int = 1024 * 1024,
               whole_limit: int = 4 * 1024 * 1024) -> str:
        """HEAD by SHA-256, then the upload (docs/sync.md §7); returns the hash. Safe to call again after a cut."""
        sha = hashlib.sha256(data).hexdigest()
        if self._send("HEAD", f"/api/media/{sha}").status == 200:
            return sha
        meta = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}"
                        for k, v in (("sha256", sha), ("filetype", media_type), ("filename", filename)))
        headers = {"Upload-Length": str(len(data)), "Upload-Metadata": meta, "Tus-Resumable": "1.0.0"}
        if len(data) <= whole_limit:  # the fast path: the whole file in the creating request
            r = self._send("POST", "/api/uploads", body=data,
                           headers={**headers, "Content-Type": "application/offset+octet-stream"})
            self._ok(r, 200, 201)
            return sha
        r = self._send("POST", "/api/uploads", headers=headers)
        if r.status == 200:  # the server has it already
            return sha
        self._ok(r, 201)
        location = r.headers["location"]
        offset = int(r.headers.get("upload-offset", "0"))
        while True:
            try:
                r = self._send("PATCH", location, body=data[offset:offset + chunk],
                               headers={"Upload-Offset": str(offset), "Tus-Resumable": "1.0.0",
                                        "Content-Type": "application/offset+octet-stream"})
            except NetworkError:
                offset = self.upload_offset(location, sha)
                if offset is None:
                    return sha
                continue
            if r.status in (409, 400):
                offset = self.upload_offset(location, sha)
                if offset is None:
                    return sha
                continue
            self._ok(r, 200, 204)
            if r.status == 200:   # the last byte: checked and stored
                return sha
            offset = int(r.headers["upload-offset"])

    def upload_offset(self, location: str, sha: str) -> int | None:
        """Where to resume a cut upload; None when it had finished (its answer was lost)."""
        r = self._send("HEAD", location, headers={"Tus-Resumable": "1.0.0"})
        if r.status == 404 and self._send("HEAD", f"/api/media/{sha}").status == 200:
            return None
        self._ok(r, 200, 204)
        return int(r.headers["upload-offset"])

    # --- signing (what the phone shows is what it signs) --------------------------------------------

    def section_hash(self, inspection_id: int, department_id: int) -> str:
        from sync.canonical import section_hash

        doc = self.docs["inspection"][inspection_id]
        code = next(m["department_code"] for m in doc["group"]["members"] if m["department_id"] == department_id)
        section = self.section(inspection_id, department_id)
        return section_hash(inspection_id, code, section["content"] if section else {})

    def record_hash(self, inspection_id: int) -> str:
        from sync.canonical import record_hash

        doc = self.docs["inspection"][inspection_id]
        sections = {}
        for m in doc["group"]["members"]:
            s = self.section(inspection_id, m["department_id"])
            sections.setdefault(m["department_code"], s["signed_hash"] if s and s["status"] == "signed" else None)
        task = self.docs["task"][doc["task_id"]]
        return record_hash(inspection_id, task["code"], doc["target"]["code"], sections, doc["record"]["content"])

    def sign_section(self, inspection_id: int, department_id: int, *, signer: dict | None = None,
                     strokes: list | None = None) -> int:
        args = {"inspection_id": inspection_id, "department_id": department_id, "signature_id": str(uuid.uuid4()),
                "content_hash": self.section_hash(inspection_id, department_id),
                "strokes": strokes or [{"points": [[0, 0, 0], [10, 12, 16]]}]}
        if signer:
            args["signer"] = signer
        return self.enqueue("section.sign", args)

    def sign_record(self, inspection_id: int, *, signer: dict | None = None) -> int:
        args = {"inspection_id": inspection_id, "signature_id": str(uuid.uuid4()),
                "content_hash": self.docs["inspection"][inspection_id]["record"]["content_hash"],
                "strokes": [{"points": [[0, 0, 0], [5, 8, 20]]}]}
        if signer:
            args["signer"] = signer
        return self.enqueue("record.sign", args)
