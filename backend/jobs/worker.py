"""The entry point rq workers call. The worker builds the app once from the environment."""
from __future__ import annotations

import functools


@functools.lru_cache(maxsize=1)
def _app():
    from backend import create_app

    return create_app()


def run(job_id: str) -> bool:
    from rq import get_current_job

    from backend.jobs.services import execute

    app = _app()
    current = get_current_job()
    final = current is None or not current.retries_left
    with app.app_context():
        return execute(app.extensions["shuangsui.db"], job_id, final_attempt=final,
                       media_dir=app.config["MEDIA_DIR"], config=dict(app.config))
