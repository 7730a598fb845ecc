"""Enqueue and run jobs; report progress; list failures.

The ``job`` table is the record every backend shares: status, attempts, progress and
the error of the last attempt. ``InlineQueue`` runs a job in this process (in a thread
by default, synchronously in tests); ``RqQueue`` hands it to rq workers on Redis with
retries. Job functions never know which one runs them.
"""
from __future__ import annotations

import logging
import threading
import time
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.db import Database, utcnow
from backend.errors import DomainError, NotFound
from backend.jobs.models import Job
from backend.jobs.registry import JOBS, load_all

log = logging.getLogger(__name__)


class JobContext:
    """What a job function receives: its database, who asked, which attempt, and a progress reporter.

    Progress is informative and must never hold the job up: with ``progress_thread`` (jobs run in a
    thread of the app, or by an rq worker) it is written by a writer thread of its own, the latest
    figures only, in a short transaction of its own. The job never waits for that write, so a job that
    holds a transaction (SQLite allows one writer: an import writing its rows) cannot deadlock on its
    own progress: the figures reach the row once the database lets them. Without a thread (jobs run
    synchronously, the tests) each report is written at once.
    """

    def __init__(self, db: Database, job: Job, media_dir: str | None = None, config: dict | None = None,
                 *, progress_thread: bool = False):
        self.db = db
        self.job_id = job.id
        self.attempt = job.attempts
        self.actor = Actor(user_id=job.created_by, label=(job.params or {}).get("_actor_label") or "job",
                           role=(job.params or {}).get("_actor_role"), department_id=job.department_id)
        self.media_dir = media_dir
        self.config = config or {}
        self._last = 0.0
        self._threaded = progress_thread
        self._cond = threading.Condition()
        self._pending: dict | None = None
        self._writer: threading.Thread | None = None
        self._closing = False

    def progress(self, done: int, total: int | None = None, message: str | None = None, *, force: bool = False):
        now = time.monotonic()
        if not force and now - self._last < 0.5 and (total is None or done < total):
            return
        self._last = now
        values: dict[str, Any] = {"progress_done": done}
        if total is not None:
            values["progress_total"] = total
        if message is not None:
            values["progress_message"] = message[:200]
        if not self._threaded:
            self._write(values)
            return
        with self._cond:
            self._pending = {**(self._pending or {}), **values}
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_loop, name=f"job-progress-{self.job_id[:8]}",
                                                daemon=True)
                self._writer.start()
            self._cond.notify()

    def _write(self, values: dict) -> None:
        with self.db.session_scope() as s:
            s.execute(update(Job).where(Job.id == self.job_id).values(**values))

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._closing:
                    self._cond.wait()
                if self._pending is None:
                    return
                values, self._pending = self._pending, None
            try:
                self._write(values)
            except Exception as exc:  # noqa: BLE001 - the database stayed busy or went away: progress only
                log.warning("progress of job %s not written: %s", self.job_id, exc)
                with self._cond:
                    if self._closing:
                        return
                    self._pending = {**values, **(self._pending or {})}
                    self._cond.wait(1.0)

    def close(self) -> None:
        """Write the last figures reported (before the job's outcome is recorded) and stop the writer."""
        with self._cond:
            self._closing = True
            self._cond.notify()
            writer = self._writer
        if writer is not None:
            writer.join()


class JobQueue(Protocol):
    backend: str

    def submit(self, job_id: str, max_attempts: int) -> None: ...


def create_job(session: Session, name: str, params: dict, actor: Actor, max_attempts: int, backend: str) -> Job:
    if name not in JOBS:
        load_all()
    if name not in JOBS:
        raise DomainError(f"未知的后台任务：{name}", code="job.unknown")
    job = Job(id=uuid.uuid4().hex, name=name, status="queued",
              params={**params, "_actor_label": actor.label, "_actor_role": actor.role},
              created_by=actor.user_id, department_id=actor.department_id, max_attempts=max_attempts,
              backend=backend)
    session.add(job)
    return job


def execute(db: Database, job_id: str, *, final_attempt: bool = True, media_dir: str | None = None,
            config: dict | None = None, progress_thread: bool = True) -> bool:
    """Run one attempt of a job. True on success. Records the outcome in the job row.

    ``progress_thread``: write progress from a thread of its own (see ``JobContext``); False only where
    the job runs synchronously on the caller's connection (the tests' inline queue)."""
    load_all()
    with db.session_scope() as s:
        job = s.get(Job, job_id)
        if job is None:
            raise NotFound(f"后台任务 {job_id} 不存在")
        job.attempts += 1
        job.status = "running"
        job.started_at = job.started_at or utcnow()
        s.flush()
        s.expunge(job)
    ctx = JobContext(db, job, media_dir=media_dir, config=config, progress_thread=progress_thread)
    params = {k: v for k, v in (job.params or {}).items() if not k.startswith("_")}
    try:
        try:
            result = JOBS[job.name](ctx, **params)
        finally:
            ctx.close()
    except Exception as exc:  # noqa: BLE001 - any failure is recorded, then re-raised for rq's retry
        code = exc.code if isinstance(exc, DomainError) else "job.error"
        message = exc.message if isinstance(exc, DomainError) else f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, DomainError):
            log.error("job %s (%s) failed: %s", job_id, job.name, traceback.format_exc())
        with db.session_scope() as s:
            s.execute(update(Job).where(Job.id == job_id).values(
                status="failed" if final_attempt else "retrying", error_code=code, error=message[:4000],
                finished_at=utcnow() if final_attempt else None,
                result=getattr(exc, "details", None) or None))
        raise
    with db.session_scope() as s:
        s.execute(update(Job).where(Job.id == job_id).values(
            status="done", result=result, error=None, error_code=None, finished_at=utcnow()))
    return True


class InlineQueue:
    """Runs jobs in this process: in a worker thread, or synchronously when ``threaded`` is False."""

    backend = "inline"

    def __init__(self, db: Database, media_dir: str | None, config: dict, threaded: bool = True):
        self.db, self.media_dir, self.config, self.threaded = db, media_dir, config, threaded
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="job") if threaded else None

    def _run(self, job_id: str, max_attempts: int) -> None:
        for attempt in range(1, max_attempts + 1):
            try:
                execute(self.db, job_id, final_attempt=attempt == max_attempts, media_dir=self.media_dir,
                        config=self.config, progress_thread=self.threaded)
                return
            except Exception:  # noqa: BLE001 - recorded in the job row by execute
                continue

    def submit(self, job_id: str, max_attempts: int) -> None:
        if self._pool is None:
            self._run(job_id, max_attempts)
        else:
            self._pool.submit(self._run, job_id, max_attempts)

    def wait(self) -> None:
        """Let submitted jobs finish (tests, CLI)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="job")


class RqQueue:
    """Hands jobs to rq workers (``shuangsui jobs worker``) on Redis, with retries."""

    backend = "rq"
    QUEUE_NAME = "shuangsui"

    def __init__(self, redis_url: str, queue_name: str | None = None):
        from redis import Redis
        from rq import Queue

        self.connection = Redis.from_url(redis_url)
        self.queue = Queue(queue_name or self.QUEUE_NAME, connection=self.connection)

    def submit(self, job_id: str, max_attempts: int) -> None:
        from rq import Retry

        retry = Retry(max=max_attempts - 1) if max_attempts > 1 else None
        self.queue.enqueue("backend.jobs.worker.run", job_id, job_id=f"ss-{job_id}", retry=retry,
                           job_timeout=3600, failure_ttl=30 * 24 * 3600)




def enqueue(session: Session, queue: JobQueue, name: str, params: dict, actor: Actor,
            max_attempts: int = 1) -> Job:
    """Record a job and hand it to the queue once the caller's transaction has committed."""
    from backend.audit import services as audit

    job = create_job(session, name, params, actor, max_attempts, queue.backend)
    session.flush()
    audit.record(session, actor, "job.enqueue", "job", job.id, detail={"name": name},
                 department_id=actor.department_id)
    session.commit()
    queue.submit(job.id, max_attempts)
    return job


def get_job(session: Session, job_id: str) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound("后台任务不存在", code="job.not_found")
    return job


def may_follow(session: Session, actor: Actor, job: Job) -> bool:
    """Whether ``actor``, who did not create ``job``, may follow it (a record's PDF: whoever reads the record)."""
    from backend.jobs.registry import FOLLOWERS

    load_all()
    follower = FOLLOWERS.get(job.name)
    return follower is not None and bool(follower(session, actor, job.params or {}))


def jobs_query(status: str | None = None, created_by: int | None = None):
    stmt = select(Job).order_by(Job.created_at.desc())
    if status:
        stmt = stmt.where(Job.status == status)
    if created_by is not None:
        stmt = stmt.where(Job.created_by == created_by)
    return stmt


def retry_job(session: Session, queue: JobQueue, actor: Actor, job_id: str) -> Job:
    from backend.audit import services as audit

    job = get_job(session, job_id)
    if job.status != "failed":
        raise DomainError("只有失败的任务可以重新执行", code="job.not_failed", status=409)
    job.status, job.error, job.error_code, job.finished_at = "queued", None, None, None
    audit.record(session, actor, "job.retry", "job", job.id, detail={"name": job.name})
    session.commit()
    queue.submit(job.id, job.max_attempts)
    return job
