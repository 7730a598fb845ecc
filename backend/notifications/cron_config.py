"""rq's cron configuration: ``rq cron backend.notifications.cron_config --url $REDIS_URL`` enqueues the reminder
sweep every REMINDERS_SWEEP_MINUTES (60) on the queue RQ_QUEUE (shuangsui); ``shuangsui reminders cron`` does
the same from the app's settings. REMINDERS_TODAY (YYYY-MM-DD) makes every sweep take that day for today
(a demonstration, a test with the clock moved forward); unset in production."""
from __future__ import annotations

import os

from rq import cron

from backend.notifications.jobs import JOB_NAME, cron_sweep

_today = os.environ.get("REMINDERS_TODAY") or None
cron.register(cron_sweep, os.environ.get("RQ_QUEUE") or "shuangsui",
              kwargs={"today": _today} if _today else None,
              interval=int(os.environ.get("REMINDERS_SWEEP_MINUTES") or 60) * 60, job_timeout=1800, name=JOB_NAME)
