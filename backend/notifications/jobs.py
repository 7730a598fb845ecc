"""The reminder sweep as a job: ``reminders.sweep`` in the job registry (a row in ``job`` for each run), the
function rq's cron enqueues (``cron_sweep``), and the timer of the embedded default (``SweepTimer``)."""
from __future__ import annotations

import datetime as dt
import logging
import threading

from backend.jobs.registry import job

log = logging.getLogger(__name__)
JOB_NAME = "reminders.sweep"


@job(JOB_NAME)
def sweep_job(ctx, today: str | None = None):
    """Run the sweep (``today``: an ISO date that stands for today, to move the clock; default Beijing's date)."""
    from backend.notifications.channels import notifiers_from_config
    from backend.notifications.services import sweep

    day = dt.date.fromisoformat(today) if today else None
    with ctx.db.session_scope() as session:
        return sweep(session, day, notifiers_from_config(ctx.config)).to_dict()


def run_sweep(db, config: dict, today: dt.date | None = None, *, queue_backend: str = "inline") -> dict:
    """Record a ``reminders.sweep`` job and run it here (the CLI, the timer, an rq worker): the job table shows
    every run, its result and a failure like any other job's."""
    from backend.actor import Actor
    from backend.jobs.services import create_job, execute

    with db.session_scope() as session:
        row = create_job(session, JOB_NAME, {"today": today.isoformat() if today else None},
                         Actor(user_id=None, label="提醒扫描"), 1, queue_backend)
        job_id = row.id
    execute(db, job_id, media_dir=config.get("MEDIA_DIR"), config=config, progress_thread=False)
    with db.session_scope() as session:
        from backend.jobs.models import Job

        return session.get(Job, job_id).result


def cron_sweep(today: str | None = None) -> dict:
    """What rq's cron enqueues and an rq worker runs (``shuangsui reminders cron``, ``rq cron
    backend.notifications.cron_config``): the sweep, recorded as a job of the app built from the environment."""
    from backend.jobs.worker import _app

    app = _app()
    with app.app_context():
        return run_sweep(app.extensions["shuangsui.db"], dict(app.config),
                         dt.date.fromisoformat(today) if today else None, queue_backend="rq")


def register_cron(scheduler, queue_name: str, interval: int, today: str | None = None):
    """Register the sweep with an ``rq.cron.CronScheduler`` every ``interval`` seconds."""
    return scheduler.register(cron_sweep, queue_name, kwargs={"today": today} if today else None,
                              interval=interval, job_timeout=1800, name=JOB_NAME)


class SweepTimer:
    """The embedded default (no Redis): a daemon thread of the server process sweeps every ``minutes``.

    Several server processes (gunicorn workers) may each run one: the unique key keeps each reminder once."""

    def __init__(self, db, config: dict, minutes: int):
        self.db, self.config, self.interval = db, config, minutes * 60
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="reminder-sweep", daemon=True)

    def start(self) -> "SweepTimer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        delay = float(self.config.get("REMINDERS_FIRST_DELAY_SECONDS", 30))
        while not self._stop.wait(delay):
            delay = self.interval
            try:
                run_sweep(self.db, self.config)
            except Exception:  # noqa: BLE001 - recorded in the job row; the next round tries again
                log.exception("提醒扫描失败")
