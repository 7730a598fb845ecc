"""rq's cron configuration: ``rq cron backend.notifications.cron_config --url $REDIS_URL`` (or ``shuangsui
reminders cron``, which reads the same settings) enqueues the reminder sweep every REMINDERS_SWEEP_MINUTES."""
from __future__ import annotations

import os

from rq import cron

from backend.notifications.jobs import cron_sweep

cron.register(cron_sweep, os.environ.get("RQ_QUEUE") or "shuangsui",
              interval=int(os.environ.get("REMINDERS_SWEEP_MINUTES") or 60) * 60, job_timeout=1800,
              name="reminders.sweep")
