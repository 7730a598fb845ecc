"""A realistic inspection record, filled, signed and submitted through the phones' protocol (for the PDF tests
and bench/record_pdf.py): photos uploaded and processed, GPS fixes (one far from the business: a flag),
a finding with its handling and a follow-up, signatures drawn on the pad, the representative's signature."""
from __future__ import annotations

import math
import uuid

from backend.directory.models import CheckPoint
from tests.api.media.files import photo
from tests.factories import PASSWORD

BUSINESS = {"name": "城关镇惠民百货超市有限公司", "address": "河南省洛阳市西工区中州中路 288 号惠民大厦一层",
            "legal_rep": "赵建国", "phone": "0379-63921188", "latitude": 34.6690, "longitude": 112.4420,
            "datum": "GCJ-02"}
LEAD_POINTS = ["营业执照是否在经营场所醒目位置悬挂", "实际经营场所与登记住所是否一致",
               "是否按规定报送年度报告并公示", "经营范围是否与登记一致"]
OTHER_POINTS = ["是否按期办理纳税申报", "发票领用、开具是否符合规定", "是否按规定设置账簿"]
PROBLEM = "营业执照正本未在经营场所醒目位置悬挂，存放于办公室抽屉内；现场已要求当事人立即改正。"
NEAR = {"lat": 34.66998, "lon": 112.43581, "accuracy": 8, "datum": "WGS-84", "time": "2026-04-08T09:31:00+08:00",
        "source": "gps"}
FAR = {"lat": 34.7002, "lon": 112.4876, "accuracy": 12, "datum": "WGS-84", "time": "2026-04-08T09:40:00+08:00",
       "source": "gps"}


def scribble(seed: int, strokes: int = 3) -> list[dict]:
    """Strokes like a handwritten name on the signature pad (signature_pad's toData())."""
    out = []
    for s in range(strokes):
        x0 = 40 + s * 110
        points = []
        for i in range(40):
            t = i / 39
            x = x0 + 90 * t
            y = 100 + 35 * math.sin(t * math.pi * (2 + (seed + s) % 3)) * (1 - 0.4 * t) + 10 * math.cos(seed + s * t)
            points.append([round(x, 1), round(y, 1), 1000 + s * 500 + i * 12])
        out.append({"points": points})
    return out


OFFICERS = ["张建华", "李晓明", "王志强", "陈静", "刘洋"]


def dress(field) -> None:
    """Give the business, the task, the departments, the officers, the items and their check points
    real-looking names."""
    from backend.directory.models import Inspector

    target = field.inspection.target
    for key, value in BUSINESS.items():
        setattr(target, key, value)
    field.task.name = "2026 年度西工区市场主体登记事项与纳税情况联合抽查"
    field.lead_dept.name = "洛阳市西工区市场监督管理局"
    field.other_dept.name = "国家税务总局洛阳市西工区税务局"
    for name, inspector_id in zip(OFFICERS, sorted(field.members)):
        field.session.get(Inspector, inspector_id).name = name
    field.lead_item.name, field.lead_item.category = "营业执照（登记证）规范使用情况的检查", "登记事项检查"
    field.lead_item.legal_basis = "《市场主体登记管理条例》第三十六条、第三十七条；《市场主体登记管理条例实施细则》第六十四条"
    field.other_item.category = "税收征管检查"
    field.other_item.legal_basis = "《税收征收管理法》第二十五条"
    for item, texts in ((field.lead_item, LEAD_POINTS), (field.other_item, OTHER_POINTS)):
        while len(item.check_points) < len(texts):
            item.check_points.append(CheckPoint(seq=len(item.check_points) + 1, text="", answer_type="compliance"))
        for cp, text in zip(item.check_points, texts):
            cp.text = text
    field.session.flush()


def _sign_pad(phone, inspection_id, department_id, seed, signer=None):
    phone.pull()
    args = {"inspection_id": inspection_id, "department_id": department_id, "signature_id": str(uuid.uuid4()),
            "content_hash": phone.section_hash(inspection_id, department_id), "strokes": scribble(seed)}
    if signer:
        args["signer"] = signer
    phone.enqueue("section.sign", args)


def submitted_record(field, *, submit: bool = True) -> dict:
    """Fill both sections, sign, merge, sign the record and (``submit``) submit it. Returns the lead's phone,
    the photos' hashes and the check point texts used."""
    dress(field)
    iid = field.inspection.id
    officer, lead = field.phone(field.lead_officer), field.phone(field.lead_user)
    shots = [officer.upload(photo(640, 480, seed=n, quality=70), "image/jpeg", f"现场{n}.jpg") for n in (1, 2, 3)]
    cps = field.points(field.lead_item)
    values = {f"items.{field.lead_item.id}.method": "onsite", "arrived_at": "2026-04-08T09:20:00+08:00",
              "departed_at": "2026-04-08T10:25:00+08:00"}
    for n, cp in enumerate(cps):
        values.update({f"points.{cp}.checked": True, f"points.{cp}.result": "pass",
                       f"points.{cp}.device_time": f"2026-04-08T09:{31 + n:02d}:00+08:00",
                       f"points.{cp}.gps": NEAR})
    values.update({f"points.{cps[0]}.result": "fail", f"points.{cps[0]}.problem": PROBLEM,
                   f"points.{cps[0]}.handling": ["rectify"], f"points.{cps[0]}.note": "当事人表示三日内整改",
                   f"points.{cps[0]}.photos": [{"id": str(uuid.uuid4()), "sha256": shots[0], "caption": "营业执照存放处"},
                                               {"id": str(uuid.uuid4()), "sha256": shots[1]}],
                   f"points.{cps[1]}.gps": FAR,
                   f"points.{cps[1]}.photos": [{"id": str(uuid.uuid4()), "sha256": shots[2], "caption": "经营场所门头"}]})
    officer.set_section(iid, field.lead_dept.id, values)
    assert all(r["status"] == "applied" for r in officer.push())
    other = field.phone(field.other_officer)
    other_values = {f"items.{field.other_item.id}.method": "documents",
                    f"items.{field.other_item.id}.evidence": {"documents": ["2025 年度企业所得税纳税申报表",
                                                                            "2026 年第一季度增值税申报表"]}}
    for cp in field.points(field.other_item):
        other_values.update({f"points.{cp}.checked": True, f"points.{cp}.result": "pass",
                             f"points.{cp}.gps": NEAR})
    other.set_section(iid, field.other_dept.id, other_values)
    assert all(r["status"] == "applied" for r in other.push())
    _sign_pad(other, iid, field.other_dept.id, 3)
    _sign_pad(officer, iid, field.lead_dept.id, 5)
    assert [r["status"] for r in other.push() + officer.push()] == ["applied", "applied"]
    _sign_pad(lead, iid, field.lead_dept.id, 7)
    assert lead.push()[-1]["status"] == "applied"
    lead.set_record(iid, {
        "arrived_at": "2026-04-08T09:20:00+08:00", "departed_at": "2026-04-08T10:30:00+08:00",
        "representative": {"name": "王丽华", "position": "店长", "phone": "13803790000"},
        "result_categories": ["pending_followup", "other_violation"],
        "followups": [{"id": str(uuid.uuid4()), "action": "rectify", "department_id": field.lead_dept.id,
                       "due_on": "2026-04-15", "note": "责令三日内将营业执照悬挂于醒目位置，逾期复查"}],
        "opinion": "该户营业执照未按规定悬挂，已责令限期整改；纳税申报情况未发现问题。"})
    assert lead.push()[-1]["status"] == "applied"
    lead.pull()
    lead.enqueue("record.finalize", {"inspection_id": iid, "content_hash": lead.record_hash(iid)})
    assert lead.push()[-1]["status"] == "applied", "finalize"
    lead.pull()
    record_hash = lead.docs["inspection"][iid]["record"]["content_hash"]
    for seed, signer in ((11, None), (13, {"username": field.lead_officer.username, "password": PASSWORD})):
        args = {"inspection_id": iid, "signature_id": str(uuid.uuid4()), "content_hash": record_hash,
                "strokes": scribble(seed)}
        if signer:
            args["signer"] = signer
        lead.enqueue("record.sign", args)
    other.pull()
    other.enqueue("record.sign", {"inspection_id": iid, "signature_id": str(uuid.uuid4()),
                                  "content_hash": record_hash, "strokes": scribble(17)})
    assert other.push()[-1]["status"] == "applied"
    lead.enqueue("record.representative", {"inspection_id": iid, "signature_id": str(uuid.uuid4()),
                                           "content_hash": record_hash, "strokes": scribble(19, 2)})
    if submit:
        lead.enqueue("record.submit", {"inspection_id": iid, "content_hash": record_hash})
    results = lead.push()
    assert all(r["status"] == "applied" for r in results), results
    return {"lead": lead, "photos": shots, "record_hash": record_hash, "points": LEAD_POINTS + OTHER_POINTS,
            "business": BUSINESS["name"]}
