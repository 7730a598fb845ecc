"""A drawn joint task whose first inspections are submitted, with publishers in each department."""
from __future__ import annotations

import dataclasses
import uuid

from sqlalchemy import select

from backend.auth.roles import Role
from backend.directory.models import Inspector
from backend.inspections.models import Inspection, Record, Section, SectionAnswer, Signature
from tests.field.builders import led_inspection
from tests.field.conftest import Field, build_field

# what a record full of personal data holds; none of it may reach the public
SECRETS = {
    "officer_phone": "13912345678", "officer_id_no": "410102198001011234", "officer_name": "张执法",
    "officer_cert": "豫A-CERT-0077",
    "rep_name": "李代表", "rep_phone": "13700001111", "rep_id_no": "410102199002022345",
    "opinion": "组长意见：李代表家住幸福路8号", "problem": "发现问题：店员王五身份证过期",
    "note": "备注：联系人手机13600002222", "photo": "a1" * 32, "signature_image": "b2" * 32,
    "lat": "34.123456", "lon": "113.654321", "original": "c3" * 32,
}


@dataclasses.dataclass
class World:
    field: Field
    lead_publisher: object      # publisher of the lead department
    lead_admin: object          # department admin of the lead department
    other_publisher: object     # publisher of the participating department
    outsider: object            # publisher of a department not taking part

    @property
    def session(self):
        return self.field.session

    def headers(self, user) -> dict:
        return self.field.auth.headers(user)

    def submit(self, index: int = 0, *, personal: bool = False, not_public: str | None = None,
               fail_other: bool = False) -> int:
        """Bring inspection ``index`` to submitted (with a record full of personal data when ``personal``)."""
        f = self.field
        inspection = f.inspections[index]
        lead = self.session.get(Inspector, f.lead_user.inspector_id)
        led_inspection(self.session, inspection.id, lead, "submitted")
        sections = {s.department_id: s for s in self.session.scalars(
            select(Section).where(Section.inspection_id == inspection.id))}
        lead_section, other_section = sections[f.lead_dept.id], sections[f.other_dept.id]
        lead_section.data = {f"items.{f.lead_item.id}.method": "onsite"}
        other_section.data = {f"items.{f.other_item.id}.method": "documents"}
        if fail_other:
            self.session.add(SectionAnswer(section_id=other_section.id, check_point_id=f.points(f.other_item)[0],
                                           data={"checked": True, "result": "fail", "problem": "未按规定公示"}))
        record = self.session.get(Record, inspection.id)
        data = dict(record.data)
        if not_public:
            data["not_public"] = {"reason": not_public}
        if personal:
            s = SECRETS
            fix = {"lat": float(s["lat"]), "lon": float(s["lon"]), "accuracy": 5, "datum": "WGS-84",
                   "time": "2026-04-08T09:00:00+08:00", "source": "gps"}
            photo = {"id": str(uuid.uuid4()), "sha256": s["photo"], "gps": fix,
                     "original": {"sha256": s["original"], "size": 1000}}
            officer = {"inspector_id": lead.id, "cert_no": s["officer_cert"], "name": s["officer_name"],
                       "phone": s["officer_phone"], "id_no": s["officer_id_no"]}
            lead_section.data = {**lead_section.data, "officers": [officer], "note": s["note"]}
            self.session.add(SectionAnswer(section_id=lead_section.id, check_point_id=f.points(f.lead_item)[0],
                                           data={"checked": True, "result": "pass", "problem": s["problem"],
                                                 "note": s["note"], "photos": [photo], "gps": fix}))
            data.update({"representative": {"name": s["rep_name"], "position": "店长", "phone": s["rep_phone"],
                                             "id_no": s["rep_id_no"]},
                         "officers": [officer], "opinion": s["opinion"]})
            signature = self.session.scalars(select(Signature).where(Signature.inspection_id == inspection.id)).first()
            signature.image_sha256 = s["signature_image"]
            signature.signer_detail = {"phone": s["rep_phone"]}
        record.data = data
        record.submitted_by = f.lead_user.id
        self.session.flush()
        return inspection.id


def build_world(app, client, factory, auth, db_session) -> World:
    f = build_field(app, client, factory, auth, db_session, targets=3)
    return World(f, factory.user(Role.PUBLISHER, f.lead_dept), factory.user(Role.DEPT_ADMIN, f.lead_dept),
                 factory.user(Role.PUBLISHER, f.other_dept), factory.user(Role.PUBLISHER, factory.department()))


def inspection_of(world: World, inspection_id: int) -> Inspection:
    world.session.expire_all()    # the requests wrote through their own session
    return world.session.get(Inspection, inspection_id)
