"""Small built-in jobs: a self-check an admin can run to see that the queue works."""
from __future__ import annotations

from backend.errors import DomainError
from backend.jobs.registry import job


@job("system.selfcheck")
def selfcheck(ctx, steps: int = 3, fail_times: int = 0):
    """Counts to ``steps``; fails on its first ``fail_times`` attempts (to exercise retries)."""
    if ctx.attempt <= fail_times:
        raise DomainError(f"自检任务按要求在第 {ctx.attempt} 次执行时失败", code="job.selfcheck_failed")
    ctx.progress(0, steps, "开始")
    for i in range(steps):
        ctx.progress(i + 1, steps, f"第 {i + 1} 步")
    return {"steps": steps, "attempt": ctx.attempt}
