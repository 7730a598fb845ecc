"""Who may read a file: HEAD for anyone logged in; the file itself for those who see a record using it."""
from __future__ import annotations

from sqlalchemy import select

from backend.actor import Actor
from backend.auth.roles import Role
from backend.draws import services as draws
from backend.draws.models import GroupMember
from backend.inspections.models import Inspection
from backend.media import services
from tests.api.draws.conftest import build_scenario
from tests.api.media import files
from tests.api.media.conftest import Uploader


def _drawn(factory, auth, db_session):
    s = build_scenario(factory, auth, risk=("D",), per_class=2, strata={"D": {"num": 1, "den": 1}},
                       inspectors=(4, 2), group_load=2)
    actor = Actor.of_user(factory.user(Role.SYSADMIN))
    settings = draws.DrawSettings()
    draws.commit(db_session, actor, s.task.id, settings)
    draws.seed_and_draw(db_session, actor, s.task.id, settings, source="csprng")
    inspection = db_session.scalars(select(Inspection).where(Inspection.task_id == s.task.id)).first()
    members = db_session.scalars(select(GroupMember).where(GroupMember.group_id == inspection.group_id)).all()
    return s, inspection, members


def test_reading_follows_the_records_that_use_the_file(client, factory, auth, db_session):
    s, inspection, members = _drawn(factory, auth, db_session)
    in_group = next(m for m in members if m.department_id == s.other.id)
    outside = next(i for i in s.inspectors[s.lead.code] if i.id not in {m.inspector_id for m in members})
    _, author_headers = auth.as_role(Role.INSPECTOR)
    data = files.photo(320, 240, seed=41)
    sha = files.sha(data)
    assert Uploader(client, author_headers).upload(data).status_code == 200

    member = auth.headers(factory.user(Role.INSPECTOR, inspector=db_session.get(type(outside), in_group.inspector_id)))
    stranger = auth.headers(factory.user(Role.INSPECTOR, inspector=outside))
    lead_planner = auth.headers(factory.user(Role.PLANNER, s.lead))
    other_admin = auth.headers(factory.user(Role.DEPT_ADMIN, s.other))   # a participating department
    outsider_admin = auth.headers(factory.user(Role.DEPT_ADMIN, factory.department()))
    supervisor = auth.headers(factory.user(Role.SUPERVISOR))
    sysadmin = auth.headers(factory.user(Role.SYSADMIN))

    def status(headers, suffix=""):
        return client.get(f"/api/media/{sha}{suffix}", headers=headers).status_code

    # not used by any record yet: only the uploader and the readers of everything
    assert [status(h) for h in (author_headers, supervisor, sysadmin)] == [200, 200, 200]
    for headers in (member, stranger, lead_planner, other_admin, outsider_admin):
        r = client.get(f"/api/media/{sha}", headers=headers)
        assert r.status_code == 403 and r.json["code"] == "forbidden.media"
        assert client.head(f"/api/media/{sha}", headers=headers).status_code == 200  # the hash is enough for HEAD

    assert services.add_references(db_session, [sha, "a" * 64], inspection.id, Actor.system()) == {"a" * 64}
    for headers in (member, lead_planner, other_admin):
        assert [status(headers, suffix) for suffix in ("", "/thumb", "/public")] == [200, 200, 200]
    for headers in (stranger, outsider_admin):
        assert status(headers) == 403 and status(headers, "/thumb") == 403


def test_unknown_or_malformed_hashes_answer_404(client, auth):
    _, headers = auth.as_role(Role.SUPERVISOR)
    for value in ("0" * 64, "xyz", "A" * 65, "..%2F..%2Fetc%2Fpasswd", "%00"):
        assert client.head(f"/api/media/{value}", headers=headers).status_code == 404
        r = client.get(f"/api/media/{value}", headers=headers)
        assert r.status_code == 404 and r.json["code"] in ("media.not_found", "not_found")
    assert client.head(f"/api/media/{'0' * 64}").status_code == 401


def test_references_and_missing_files(db_session, factory, auth, client):
    _, inspection, _ = _drawn(factory, auth, db_session)
    _, headers = auth.as_role(Role.INSPECTOR)
    data = files.pdf()
    Uploader(client, headers).upload(data, "application/pdf")
    have, want = files.sha(data), "b" * 64
    assert services.missing(db_session, [have, want.upper(), want]) == {want}
    services.add_references(db_session, [have, want], inspection.id, Actor.system())
    services.add_references(db_session, [have], inspection.id, Actor.system())  # twice: one reference
    assert services.references(db_session, have) == [inspection.id]
    services.remove_references(db_session, [have], inspection.id, Actor.system())
    assert services.references(db_session, have) == [] and services.references(db_session, want) == [inspection.id]
    import pytest

    from backend.errors import InvalidInput

    with pytest.raises(InvalidInput):
        services.add_references(db_session, ["not-a-hash"], inspection.id, Actor.system())
