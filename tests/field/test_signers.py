"""Co-signatures on another member's phone (issue 11, §4.1): no password oracle.

A signer's password goes through the login's throttle, counters and audit; every failure answers the
same; who may sign is settled before any password is hashed; a push checks a bounded number of them;
``POST /api/sync/signers/verify`` is the same check, online, before the phone keeps the signature.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from backend.audit.models import AuditEntry
from backend.auth import passwords
from backend.auth.models import LoginAttempt, User
from backend.auth.roles import Role
from backend.inspections import signers
from backend.inspections.models import Signature
from sync.models import SyncChange, SyncMutation
from tests.factories import PASSWORD
from tests.field.test_merge import sign_and_finalise


def _failures(db_session, username: str) -> int:
    return db_session.scalar(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.username == username, LoginAttempt.success.is_(False)))


def _audit(db_session, action: str = "auth.signer_failed") -> list[AuditEntry]:
    return list(db_session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


@pytest.fixture()
def finalised(field):
    lead = field.phone(field.lead_user)
    sign_and_finalise(field, lead)
    return lead


def test_every_failure_of_a_co_signer_answers_the_same(field, finalised, factory, db_session):
    lead = finalised
    admin = factory.user(Role.SYSADMIN)
    stranger = factory.user(Role.INSPECTOR, field.lead_dept, inspector=factory.inspector(field.lead_dept))
    frozen = field.lead_officer
    tries = [
        {"username": field.other_officer.username, "password": "wrong-password"},   # a member, wrong password
        {"username": admin.username, "password": PASSWORD},                      # right password, not a member
        {"username": stranger.username, "password": PASSWORD},                   # an inspector of another group
        {"username": "nobody-at-all", "password": PASSWORD},                     # no such account
    ]
    for signer in tries:
        lead.sign_record(field.inspection.id, signer=signer)
    results = lead.push()
    frozen.status = "frozen"
    db_session.flush()
    lead.sign_record(field.inspection.id, signer={"username": frozen.username, "password": PASSWORD})
    results += lead.push()
    assert [r["code"] for r in results] == ["signature.signer_invalid"] * 5, results
    assert len({r["message"] for r in results}) == 1 and "details" not in results[0]
    # each failure counted as a failed login would be, and written to the audit log with who tried
    assert _failures(db_session, admin.username) == 1 and _failures(db_session, "nobody-at-all") == 1
    entries = _audit(db_session)
    assert len(entries) == 5 and {e.actor_id for e in entries} == {field.lead_user.id}
    assert entries[1].detail["username"] == admin.username and entries[1].detail["inspection_id"] == field.inspection.id
    assert db_session.scalar(select(func.count()).select_from(Signature).where(Signature.scope == "record")) == 0


def test_a_section_co_signer_must_be_of_that_department(field, db_session):
    # the lead's phone asks the other department's officer to sign the lead department's section
    lead = field.phone(field.lead_user)
    lead.set_section(field.inspection.id, field.lead_dept.id, field.full_section(field.lead_item))
    lead.push()
    lead.pull()
    lead.sign_section(field.inspection.id, field.lead_dept.id,
                      signer={"username": field.other_officer.username, "password": PASSWORD})
    [res] = lead.push()
    assert res["code"] == "signature.signer_invalid" and res["message"] == signers.SIGNER_INVALID_MESSAGE
    lead.sign_section(field.inspection.id, field.lead_dept.id,
                      signer={"username": field.lead_officer.username, "password": PASSWORD})
    assert lead.push()[0]["status"] == "applied"


def test_membership_is_settled_before_any_password_is_hashed(field, finalised, factory, monkeypatch):
    lead = finalised
    hashed = []
    real = passwords.verify_password

    def counting(stored, password):
        hashed.append(1)
        return real(stored, password)

    monkeypatch.setattr("backend.auth.services.verify_password", counting)
    admin = factory.user(Role.SYSADMIN)
    for _ in range(3):
        lead.sign_record(field.inspection.id, signer={"username": admin.username, "password": "guess"})
    lead.sign_record(field.inspection.id, signer={"username": "no-such-user", "password": "guess"})
    assert {r["code"] for r in lead.push()} == {"signature.signer_invalid"}
    assert hashed == []
    lead.sign_record(field.inspection.id, signer={"username": field.lead_officer.username, "password": PASSWORD})
    assert lead.push()[0]["status"] == "applied" and hashed == [1]


def test_co_signer_checks_share_the_login_throttle(field, finalised, db_session):
    lead = finalised
    member = field.other_officer.username
    for _ in range(5):
        lead.sign_record(field.inspection.id, signer={"username": member, "password": "guess"})
    assert {r["code"] for r in lead.push()} == {"signature.signer_invalid"}
    # the sixth try waits, even with the right password, and is not counted
    lead.sign_record(field.inspection.id, signer={"username": member, "password": PASSWORD})
    [res] = lead.push()
    assert res["code"] == "auth.too_many_attempts" and res["details"]["retry_after"] >= 1
    assert _failures(db_session, member) == 5
    # the same counters as a login: the owner's login from this address waits too
    r = field.client.post("/api/v1/auth/login", json={"username": member, "password": PASSWORD})
    assert r.status_code == 429 and r.json["code"] == "auth.too_many_attempts"


def test_a_push_checks_a_bounded_number_of_co_signers_and_stops_before_the_rest(field, finalised, factory, db_session):
    lead = finalised
    names = [factory.user(Role.SYSADMIN).username for _ in range(signers.MAX_SIGNER_CHECKS + 2)]
    ids = [lead.sign_record(field.inspection.id, signer={"username": n, "password": "guess"}) for n in names]
    body = {"client_id": lead.client_id, "mutations": lead.outbox}
    r = field.client.post("/api/sync/push", json=body, headers=field.auth.headers(field.lead_user))
    assert r.status_code == 200, r.json
    assert len(r.json["results"]) == signers.MAX_SIGNER_CHECKS
    stop = r.json["stopped"]
    assert stop["code"] == "sync.signer_limit" and stop["expected"] == stop["got"] == ids[signers.MAX_SIGNER_CHECKS]
    assert stop["message"]
    assert r.json["last_mutation_id"] == ids[signers.MAX_SIGNER_CHECKS - 1]
    attempts = db_session.scalar(select(func.count()).select_from(LoginAttempt).where(LoginAttempt.username.in_(names)))
    assert attempts == signers.MAX_SIGNER_CHECKS
    # the client pushes the rest again: nothing is lost
    results = lead.push()
    assert {r["code"] for r in results} == {"signature.signer_invalid"} and lead.pending() == 0
    assert max(lead.results) == ids[-1]


def test_a_replayed_co_signature_is_not_checked_again(field, finalised, db_session):
    lead = finalised
    lead.sign_record(field.inspection.id, signer={"username": field.lead_officer.username, "password": PASSWORD})
    batch = list(lead.outbox)
    assert lead.push()[0]["status"] == "applied"
    before = db_session.scalar(select(func.count()).select_from(LoginAttempt))
    r = field.client.post("/api/sync/push", json={"client_id": lead.client_id, "mutations": batch},
                          headers=field.auth.headers(field.lead_user))
    assert r.json["results"][0]["replayed"] is True
    assert db_session.scalar(select(func.count()).select_from(LoginAttempt)) == before


# --- POST /api/sync/signers/verify ---------------------------------------------------------------------------

def _verify(field, caller, **body):
    payload = {"inspection_id": field.inspection.id, "scope": "record", "username": field.lead_officer.username,
               "password": PASSWORD, **body}
    return field.client.post("/api/sync/signers/verify", json=payload, headers=field.auth.headers(caller))


def _state(db_session):
    return (db_session.scalar(select(func.count()).select_from(SyncChange)),
            db_session.scalar(select(func.count()).select_from(SyncMutation)),
            db_session.scalar(select(func.count()).select_from(Signature)))


def test_verify_names_the_member_and_changes_nothing(field, db_session):
    before = _state(db_session)
    r = _verify(field, field.lead_user)
    assert r.status_code == 200, r.json
    officer = field.lead_officer
    assert r.json == {"user_id": officer.id, "inspector_id": officer.inspector_id, "name": r.json["name"],
                      "department_id": field.lead_dept.id, "department_name": field.lead_dept.name}
    assert r.json["name"]
    r = _verify(field, field.lead_user, scope="section", department_id=field.lead_dept.id)
    assert r.status_code == 200 and r.json["user_id"] == officer.id
    assert _state(db_session) == before and _audit(db_session) == []


def test_verify_answers_one_refusal_for_every_failure(field, factory, db_session):
    admin = factory.user(Role.SYSADMIN)
    answers = [
        _verify(field, field.lead_user, password="wrong-password"),
        _verify(field, field.lead_user, username=admin.username),
        _verify(field, field.lead_user, username="nobody-at-all"),
        _verify(field, field.lead_user, scope="section", department_id=field.other_dept.id),   # not of that department
    ]
    db_session.execute(User.__table__.update().where(User.id == field.other_officer.id).values(status="frozen"))
    answers.append(_verify(field, field.lead_user, username=field.other_officer.username))
    assert [a.status_code for a in answers] == [422] * 5
    assert {a.json["code"] for a in answers} == {"signature.signer_invalid"}
    assert len({a.json["message"] for a in answers}) == 1
    assert len(_audit(db_session)) == 5


def test_verify_is_throttled_with_the_login(field):
    for _ in range(5):
        assert _verify(field, field.lead_user, password="guess").status_code == 422
    r = _verify(field, field.lead_user)
    assert r.status_code == 429 and r.json["code"] == "auth.too_many_attempts"
    assert int(r.headers["Retry-After"]) == r.json["details"]["retry_after"] >= 1


def test_verify_needs_an_inspection_the_caller_is_in(field, factory):
    assert _verify(field, field.lead_user, inspection_id=999999).status_code == 404
    stranger = factory.user(Role.INSPECTOR, field.lead_dept, inspector=factory.inspector(field.lead_dept))
    r = _verify(field, stranger)
    assert r.status_code == 403 and r.json["code"] == "sync.not_participant"
    r = _verify(field, field.lead_user, scope="section")
    assert r.status_code == 422 and "department_id" in r.json["errors"]
    planner = factory.user(Role.PLANNER, field.lead_dept)
    r = _verify(field, planner)
    assert r.status_code == 403 and r.json["code"].startswith("forbidden")
