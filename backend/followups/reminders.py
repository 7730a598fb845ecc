"""The follow-ups' reminder (issue 12 §2): a follow-up not closed by its own deadline (责令限期整改's date),
due soon (≤ 5 working days) or overdue, to the admins of its owner department and to whoever opened it (the
lead who submitted the record). Registered with the sweep's sources (backend/notifications/sources.py), which
loads this module; each reminder is recorded once per state, as every other."""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.auth.roles import Role
from backend.followups.models import CLOSED_STATES, Followup
from backend.inspections.rules import FOLLOWUP_ACTIONS
from backend.notifications.sources import STATE_WORDS, Reminder, SweepContext, source, users_with_role


@source("followup.deadline")
def followup_deadline(session: Session, ctx: SweepContext) -> Iterable[Reminder]:
    from backend.directory.models import Target

    rows = session.execute(
        select(Followup.id, Followup.action, Followup.due_on, Followup.department_id, Followup.created_by,
               Target.name)
        .join(Target, Target.id == Followup.target_id)
        .where(Followup.due_on.is_not(None), Followup.due_on <= ctx.horizon,
               Followup.state.not_in(CLOSED_STATES))).all()
    if not rows:
        return []
    admins = users_with_role(session, Role.DEPT_ADMIN, {r.department_id for r in rows})
    out = []
    for r in rows:
        state = ctx.state(r.due_on)
        users = set(admins.get(r.department_id, ()))
        if r.created_by is not None:
            users.add(r.created_by)
        action = FOLLOWUP_ACTIONS.get(r.action, r.action)
        out.append(Reminder(frozenset(users), "followup.deadline", "followup", str(r.id), state,
                            f"后续处置{STATE_WORDS[state]}：{r.name}",
                            f"对「{r.name}」的后续处置（{action}）期限为 {r.due_on.isoformat()}，尚未办结。",
                            f"/office/followups/{r.id}", r.due_on))
    return out
