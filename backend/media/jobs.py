"""Background jobs of media: process a stored photo; clean up unreferenced files and stale uploads."""
from __future__ import annotations

from backend.jobs.registry import job
from backend.media import services


def settings_for(ctx) -> services.MediaSettings:
    config = dict(ctx.config or {})
    if ctx.media_dir:
        config["MEDIA_DIR"] = ctx.media_dir
    return services.MediaSettings.from_config(config)


@job("media.process")
def process_job(ctx, sha256: str):
    """EXIF orientation, GPS and time; a thumbnail and a copy stripped of metadata (the original untouched)."""
    with ctx.db.session_scope() as session:
        return services.process(session, settings_for(ctx), sha256, ctx.actor)


@job("media.cleanup")
def cleanup_job(ctx):
    """Delete files nobody references after the grace period, and expired upload sessions."""
    with ctx.db.session_scope() as session:
        return services.cleanup(session, settings_for(ctx), ctx.actor)
