"""Job functions by name. A job function takes (ctx: JobContext, **params) and returns a JSON-able result."""
from __future__ import annotations

from typing import Callable

JOBS: dict[str, Callable] = {}
# job name → (session, actor, params) -> bool: who besides its creator may follow a job (GET /api/v1/jobs/<id>)
FOLLOWERS: dict[str, Callable] = {}


def job(name: str):
    def register(fn):
        JOBS[name] = fn
        return fn
    return register


def load_all() -> None:
    """Import the modules that define jobs (each domain's ``jobs`` module)."""
    import importlib

    for module in ("backend.jobs.builtin", "backend.directory.jobs", "backend.media.jobs",
                   "backend.inspections.jobs", "backend.publication.jobs",
                   "backend.notifications.jobs", "backend.jobs.exports", "backend.figures.report"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:  # a domain without jobs yet
            if exc.name != module:
                raise
