"""Who may read a file: its holder, readers of everything, and whoever sees a record naming it (bound references)."""
from __future__ import annotations

from backend.actor import Actor
from backend.auth.roles import Role
from backend.inspections.models import Record
from backend.media import services
from tests.api.media import files
from tests.api.media.conftest import Uploader, drawn, on_duty


def _drawn(factory, auth, db_session):
    return drawn(factory, auth, db_session)


def test_reading_follows_the_records_that_use_the_file(client, factory, auth, db_session):
    s, inspection, members = _drawn(factory, auth, db_session)
    author = on_duty(factory, db_session, members[0])
    outside = next(i for i in s.inspectors[s.lead.code] if i.id not in {m.inspector_id for m in members})
    author_headers = auth.headers(author)
    data = files.photo(320, 240, seed=41)
    sha = files.sha(data)
    assert Uploader(client, author_headers).upload(data).status_code == 200

    stranger = auth.headers(factory.user(Role.INSPECTOR, inspector=outside))
    lead_planner = auth.headers(factory.user(Role.PLANNER, s.lead))
    other_admin = auth.headers(factory.user(Role.DEPT_ADMIN, s.other))   # a participating department
    outsider_admin = auth.headers(factory.user(Role.DEPT_ADMIN, factory.department()))
    supervisor = auth.headers(factory.user(Role.SUPERVISOR))
    sysadmin = auth.headers(factory.user(Role.SYSADMIN))

    def status(headers, suffix=""):
        return client.get(f"/api/media/{sha}{suffix}", headers=headers).status_code

    # not used by any record yet: only its holder and the readers of everything
    assert [status(h) for h in (author_headers, supervisor, sysadmin)] == [200, 200, 200]
    for headers in (stranger, lead_planner, other_admin, outsider_admin):
        r = client.get(f"/api/media/{sha}", headers=headers)
        assert r.status_code == 404 and r.json["code"] == "media.not_found"
        assert client.head(f"/api/media/{sha}", headers=headers).status_code == 404   # the hash is not enough

    # a record of the task names it (and refers to it: the server's own reference, bound): the office view shows it
    db_session.add(Record(inspection_id=inspection.id, data={"outcome": {
        "code": "uncooperative", "photos": [{"id": "3f0a3c1e-6b1d-4c2e-9a51-7d2f4c3b9e10", "sha256": sha}]}},
        revs={}, rev=1))
    db_session.flush()
    assert services.add_references(db_session, [sha, "a" * 64], inspection.id, Actor.system()) == {"a" * 64}
    for headers in (lead_planner, other_admin):
        assert [status(headers, suffix) for suffix in ("", "/thumb", "/public")] == [200, 200, 200]
    for headers in (stranger, outsider_admin):
        assert status(headers) == 404 and status(headers, "/thumb") == 404


def test_unknown_or_malformed_hashes_answer_404(client, auth):
    _, headers = auth.as_role(Role.SUPERVISOR)
    for value in ("0" * 64, "xyz", "A" * 65, "..%2F..%2Fetc%2Fpasswd", "%00"):
        assert client.head(f"/api/media/{value}", headers=headers).status_code == 404
        r = client.get(f"/api/media/{value}", headers=headers)
        assert r.status_code == 404 and r.json["code"] in ("media.not_found", "not_found")
    assert client.head(f"/api/media/{'0' * 64}").status_code == 401


def test_references_and_missing_files(db_session, factory, auth, client):
    _, inspection, members = _drawn(factory, auth, db_session)
    headers = auth.headers(on_duty(factory, db_session, members[0]))
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
