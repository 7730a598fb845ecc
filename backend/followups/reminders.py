"""The follow-ups' reminder (issue 12 §2): a follow-up not closed by its own deadline (责令限期整改's date),
due soon (≤ 5 working days) or overdue, to the admins of its owner department and to whoever opened it (the
lead who submitted the record). Registered with the sweep's set-based sources (backend/notifications/sources.py),
which loads this module; each reminder is recorded once per state and user, as every other."""
from __future__ import annotations

from sqlalchemy import String, and_, case, cast, literal, select, union
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Select

from backend.auth.models import User
from backend.auth.roles import Role
from backend.followups.models import CLOSED_STATES, Followup
from backend.inspections.rules import FOLLOWUP_ACTIONS
from backend.notifications.sources import (SweepContext, _reminded_user, business_name, deadline_columns,
                                           iso_date, notification_row, sql_source)


@sql_source("followup.deadline")
def followup_deadline(session: Session, ctx: SweepContext) -> Select:
    from backend.directory.models import Target

    due = Followup.due_on
    open_and_due = (Followup.due_on.is_not(None), Followup.due_on <= ctx.horizon,
                    Followup.state.not_in(CLOSED_STATES))
    # who: the owner department's admins, and whoever opened it (each once)
    recipients = union(
        select(Followup.id.label("followup_id"), User.id.label("user_id"))
        .join(User, and_(User.department_id == Followup.department_id, User.role == Role.DEPT_ADMIN.value,
                         User.status == "active")).where(*open_and_due),
        select(Followup.id, User.id)
        .join(User, and_(User.id == Followup.created_by, User.status == "active")).where(*open_and_due),
    ).subquery()
    state, words = deadline_columns(due, ctx)
    subject = cast(Followup.id, String)
    action = case(FOLLOWUP_ACTIONS, value=Followup.action, else_=Followup.action)
    name = business_name(Target, Followup.target_id)
    title = literal("后续处置") + words + "：" + name
    body = "对「" + name + "」的后续处置（" + action + "）期限为 " + iso_date(due) + "，尚未办结。"
    return (select(*notification_row(recipients.c.user_id, "followup.deadline", "followup", subject, state, title,
                                     body, literal("/office/followups/") + subject, due))
            .join_from(recipients, Followup, Followup.id == recipients.c.followup_id)
            .where(~_reminded_user("followup.deadline", "followup", Followup.id, state, recipients.c.user_id))
            .order_by(Followup.id, recipients.c.user_id))
