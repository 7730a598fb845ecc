"""/api/sync: push and pull for the officers' phones (thin: the protocol lives in sync/ and syncing.py)."""
from __future__ import annotations

from flask import current_app, request
from flask.views import MethodView

from backend import get_session
from backend.api import blueprint, body_limit, plain_json_response
from backend.auth.access import client_address, current_actor, requires
from backend.auth.roles import Role
from backend.errors import DomainError
from backend.inspections import devices, signers, syncing
from backend.inspections.signers import check_push
from schemas.base import ErrorSchema
from schemas.sync import (DeviceOut, PullArgs, PullOut, PushIn, PushOut, SignerOut, SignerVerifyIn)
from sync.protocol import MAX_BATCH_BYTES

blp = blueprint("sync", __name__, "/api/sync", "离线同步：手机推送变更、拉取检查任务（协议见 docs/sync.md）")
# the contract names its own refusal for every role but the officers'
OFFICERS_ONLY = ("forbidden.not_inspector", "只有执法检查人员账号可以同步检查任务")
LABEL_HEADER = [{"in": "header", "name": "X-Device-Label", "required": False,
                 "schema": {"type": "string", "maxLength": 128},
                 "description": "设备名称（给本人和管理员看；最近一次推送或拉取所带的为准）；ASCII 或 UTF-8，最多 128 个字符，"
                                "超长或含控制字符则拒绝（sync.bad_label），不截断"}]



def _label() -> str | None:
    """X-Device-Label: an HTTP header arrives as ISO-8859-1; one sent as UTF-8 (a label in Chinese) is read so."""
    raw = request.headers.get("X-Device-Label")
    if raw:
        try:
            raw = raw.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return syncing.check_label(raw)


PUSH_OUT = PushOut()
# the fields of a mutation's result whose dump through the schema is the value itself (a section's or a conflict's
# answer: everything but a submitted record's dates and follow-up, which go through the schema)
PLAIN_RESULT = frozenset({"id", "status", "replayed", "code", "message", "errors", "details", "revs", "conflicts",
                          "inspection_id", "content_hash", "resolved", "device_time_ignored"})


PULL_OUT = PullOut()
# every field of a change (``data``, the document, is raw: its dump is the value itself)
PLAIN_CHANGE = frozenset({"type", "id", "op", "data", "reason_code", "reason"})


@blp.route("/push")
class Push(MethodView):
    # the body is screened here, mutation by mutation: one bad value refuses its mutation alone (docs/sync.md §3)
    screens_own_body = True

    @requires(Role.INSPECTOR, refusal=OFFICERS_ONLY)
    @body_limit(MAX_BATCH_BYTES, code="sync.batch_too_large",
                message="一次推送不能超过 {limit}；请分批推送（每批最多 100 条）")
    @blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": PushIn}}},
             parameters=LABEL_HEADER)
    @blp.response(200, PushOut)
    @blp.alt_response(400, description="bad_request：请求体不是 JSON")
    @blp.alt_response(403, description="sync.client_not_yours：设备编号属于其他账号；sync.client_retired：设备已停用；"
                                       "forbidden.not_inspector：不是执法检查人员账号")
    @blp.alt_response(409, description="sync.replay_mismatch：已处理过的编号这次内容不同（整批未处理）；"
                                       "sync.too_many_devices：设备数已达上限")
    @blp.alt_response(413, description="sync.batch_too_large：超过 1 MB")
    @blp.alt_response(422, description="sync.bad_batch：整批格式有误（超过 100 条、未知字段、编号无效）；"
                                       "sync.bad_label：设备名称过长")
    def post(self):
        """推送本设备的变更（按编号顺序，恰好一次）"""
        label = _label()
        data = request.get_data(cache=True)      # its size was checked as it arrived (body_limit above)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise DomainError("提交的数据有误：请求体不是有效的 UTF-8 JSON", code="bad_request", status=400,
                              errors={"json": ["请求体不是有效的 JSON"]}) from None
        client_id, mutations = syncing.parse(text)
        session = get_session()
        actor = current_actor()          # its address is client_address(), read when the caller was authenticated
        checks = check_push(session, current_app.extensions["shuangsui.login"], actor, client_id, mutations,
                            actor.address)
        body = syncing.push(session, actor, client_id, mutations, settings=current_app.config,
                            signers=checks, label=label, queue=current_app.extensions["shuangsui.jobs"])
        return plain_json_response(body, PUSH_OUT, PLAIN_RESULT)


@blp.route("/pull")
class Pull(MethodView):
    @requires(Role.INSPECTOR, refusal=OFFICERS_ONLY)
    @blp.arguments(PullArgs, location="query")
    @blp.doc(parameters=LABEL_HEADER)
    @blp.response(200, PullOut)
    @blp.alt_response(403, description="sync.client_not_yours：设备编号属于其他账号；sync.client_retired：设备已停用；"
                                       "forbidden.not_inspector：不是执法检查人员账号")
    @blp.alt_response(422, schema=ErrorSchema,
                      description="sync.bad_client：设备编号不是小写的 UUID 第 4 版；sync.bad_cursor：cursor 无效；"
                                  "sync.bad_label：设备名称过长；validation_error：缺少 client_id，或 limit 不在 1–500")
    @blp.alt_response(409, description="sync.cursor_ahead：cursor 超过服务器的变更序号（从头拉取）；"
                                       "sync.too_many_devices：设备数已达上限")
    def get(self, args):
        """拉取本人可见的检查任务的变化（按服务器变更序号分页）"""
        body = syncing.pull(get_session(), current_actor(), client_id=args["client_id"], cursor=args["cursor"],
                            limit=args["limit"], label=_label(), settings=current_app.config)
        # written with orjson, the same bytes as the schema's dump and ``jsonify`` (52 KB for 5 inspections)
        return plain_json_response(body, PULL_OUT, PLAIN_CHANGE, exact=True)


@blp.route("/signers/verify")
class SignerVerify(MethodView):
    @requires(Role.INSPECTOR, refusal=OFFICERS_ONLY)
    @blp.arguments(SignerVerifyIn)
    @blp.response(200, SignerOut)
    @blp.alt_response(422, description="signature.signer_invalid：签名人核验未通过（任何原因同一答复）")
    @blp.alt_response(429, description="auth.too_many_attempts：失败次数过多（与登录同一计数，见 Retry-After）")
    def post(self, data):
        """核验代签人：组员在本机输入自己的用户名和密码，先在线核验再保存签名（与登录同一限流与审计）"""
        return signers.verify(get_session(), current_app.extensions["shuangsui.login"], current_actor(), data,
                              client_address())


@blp.route("/clients")
class Devices(MethodView):
    @requires(Role.INSPECTOR, refusal=OFFICERS_ONLY)
    @blp.response(200, DeviceOut(many=True))
    def get(self):
        """我的设备：本账号同步过的设备（在用的计入设备上限）"""
        return devices.mine(get_session(), current_actor())


@blp.route("/clients/<string:client_id>/retire")
class RetireDevice(MethodView):
    @requires(Role.INSPECTOR, Role.DEPT_ADMIN, Role.SYSADMIN)
    @blp.response(200, DeviceOut, description="停用后的设备（retired_at 已填）；再次停用答复相同")
    @blp.alt_response(403, description="forbidden.department：不是本部门人员的设备；forbidden.role：无权停用设备")
    @blp.alt_response(404, description="sync.client_not_found：没有该设备，或是其他检查人员的设备")
    def post(self, client_id):
        """停用一台设备（丢失或更换）：它不能再推送和拉取，不再计入设备上限；已处理的记录保留"""
        return devices.retire(get_session(), current_actor(), client_id)
