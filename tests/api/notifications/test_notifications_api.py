"""GET /api/v1/notifications and marking read: each user sees and marks only their own."""
from __future__ import annotations

import datetime as dt

from backend.auth.roles import Role
from backend.notifications.models import Notification


def _note(factory, user, n: int, *, read: bool = False, kind: str = "task.end_date") -> Notification:
    return factory._add(Notification(
        user_id=user.id, kind=kind, subject_type="task", subject_id=str(n), state="due_soon",
        title=f"抽查任务即将到期：任务{n}", body=f"任务{n}的结束日期为 2026-02-27。", link=f"/office/tasks/{n}",
        due_on=dt.date(2026, 2, 27), read_at=dt.datetime(2026, 2, 13, 1, tzinfo=dt.timezone.utc) if read else None))


def test_a_user_lists_their_own_notifications_newest_first_with_the_unread_count(client, factory, auth):
    me, headers = auth.as_role(Role.PLANNER)
    other = factory.user(Role.PLANNER)
    mine = [_note(factory, me, n, read=n == 2) for n in (1, 2, 3)]
    _note(factory, other, 4)
    r = client.get("/api/v1/notifications", headers=headers)
    assert r.status_code == 200, r.json
    assert [n["id"] for n in r.json["items"]] == [mine[2].id, mine[1].id, mine[0].id]
    assert r.json["total"] == 3 and r.json["unread"] == 2 and r.json["pages"] == 1
    first = r.json["items"][0]
    assert first == {"id": mine[2].id, "kind": "task.end_date", "kind_label": "任务到期", "subject_type": "task",
                     "subject_id": "3", "state": "due_soon", "state_label": "5 个工作日内到期",
                     "title": "抽查任务即将到期：任务3", "body": "任务3的结束日期为 2026-02-27。",
                     "link": "/office/tasks/3", "due_on": "2026-02-27", "created_at": first["created_at"],
                     "read": False, "read_at": None}
    unread = client.get("/api/v1/notifications?read=false", headers=headers).json
    assert [n["id"] for n in unread["items"]] == [mine[2].id, mine[0].id] and unread["unread"] == 2
    read = client.get("/api/v1/notifications?read=true", headers=headers).json
    assert [n["id"] for n in read["items"]] == [mine[1].id] and read["items"][0]["read"] is True
    paged = client.get("/api/v1/notifications?page=2&page_size=2", headers=headers).json
    assert [n["id"] for n in paged["items"]] == [mine[0].id] and paged["pages"] == 2
    assert client.get("/api/v1/notifications?kind=publication.due", headers=headers).json["total"] == 0


def test_marking_read_one_and_all_touches_only_my_own(client, factory, auth):
    me, headers = auth.as_role(Role.INSPECTOR)
    other, other_headers = auth.as_role(Role.DEPT_ADMIN)
    a, b = _note(factory, me, 1), _note(factory, me, 2)
    theirs = _note(factory, other, 3)
    r = client.post(f"/api/v1/notifications/{a.id}/read", headers=headers)
    assert r.status_code == 200 and r.json["read"] is True and r.json["read_at"]
    again = client.post(f"/api/v1/notifications/{a.id}/read", headers=headers).json
    assert again["read_at"] == r.json["read_at"]           # marking twice keeps the first time
    # another user's notification is not there for me: neither readable nor markable
    r = client.post(f"/api/v1/notifications/{theirs.id}/read", headers=headers)
    assert r.status_code == 404 and r.json["code"] == "notification.not_found"
    assert client.post("/api/v1/notifications/999999999/read", headers=headers).status_code == 404
    assert theirs.id not in [n["id"] for n in client.get("/api/v1/notifications", headers=headers).json["items"]]
    r = client.post("/api/v1/notifications/read-all", headers=headers)
    assert r.status_code == 200 and r.json == {"marked": 1, "unread": 0}
    assert client.get("/api/v1/notifications?read=true", headers=headers).json["total"] == 2
    listing = client.get("/api/v1/notifications", headers=other_headers).json
    assert listing["unread"] == 1 and [n["id"] for n in listing["items"]] == [theirs.id]
    assert client.post(f"/api/v1/notifications/{b.id}/read", headers=other_headers).status_code == 404


def test_bad_filters_are_refused_with_a_stable_code(client, auth):
    _, headers = auth.as_role(Role.SUPERVISOR)
    r = client.get("/api/v1/notifications?read=perhaps", headers=headers)
    assert r.status_code == 422 and r.json["code"] == "validation_error" and r.json["errors"] == {"query": {"read": ["应为是/否"]}}
    r = client.get("/api/v1/notifications?kind=nope", headers=headers)
    assert r.status_code == 422 and "kind" in r.json["errors"]["query"]
    assert client.get("/api/v1/notifications").status_code == 401
