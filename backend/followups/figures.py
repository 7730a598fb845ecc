"""后续处置率 for the supervisors' figures (docs/figures.md#followup): of the follow-ups of a population of
inspections, those due (their deadline, or the inspection's completion day when they have none, on or before
today) and, of those, the ones closed."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from backend.followups.models import CLOSED_STATES, Followup
from backend.inspections.models import Inspection


def counts(session: Session, inspections, today: dt.date) -> tuple[int, int]:
    """(closed, due) among the follow-ups of ``inspections`` (a select of inspection ids)."""
    due_day = func.coalesce(Followup.due_on, Inspection.completed_on)
    stmt = (select(func.count(Followup.id), func.sum(case((Followup.state.in_(CLOSED_STATES), 1), else_=0)))
            .join(Inspection, Inspection.id == Followup.inspection_id)
            .where(and_(Followup.inspection_id.in_(inspections), due_day <= today)))
    due, closed = session.execute(stmt).one()
    return int(closed or 0), int(due or 0)
