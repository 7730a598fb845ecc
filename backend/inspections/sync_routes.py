"""/api/sync: push and pull for the officers' phones (thin: the protocol lives in sync/ and syncing.py)."""
from __future__ import annotations

from flask import current_app, request
from flask.views import MethodView

from backend import get_session
from backend.api import blueprint
from backend.auth.access import client_address, current_actor, requires
from backend.auth.roles import Role
from backend.errors import DomainError
from backend.inspections import signers, syncing
from backend.inspections.signers import check_push
from schemas.sync import PullArgs, PullOut, PushIn, PushOut, SignerOut, SignerVerifyIn
from sync.protocol import MAX_BATCH_BYTES

blp = blueprint("sync", __name__, "/api/sync", "离线同步：手机推送变更、拉取检查任务（协议见 docs/sync.md）")


class BatchTooLarge(DomainError):
    status = 413
    code = "sync.batch_too_large"
    message = f"一次推送不能超过 {MAX_BATCH_BYTES // 1024} KB；请分批推送（每批最多 100 条）"


@blp.route("/push")
class Push(MethodView):
    @requires(Role.INSPECTOR)
    @blp.arguments(PushIn)
    @blp.response(200, PushOut)
    def post(self, _data):
        """推送本设备的变更（按编号顺序，恰好一次）"""
        if (request.content_length or 0) > MAX_BATCH_BYTES:
            raise BatchTooLarge()
        client_id, mutations = syncing.parse(request.get_json())
        session = get_session()
        signers = check_push(session, current_app.extensions["shuangsui.login"], current_actor(), client_id,
                             mutations, client_address())
        return syncing.push(session, current_actor(), client_id, mutations, settings=current_app.config,
                            signers=signers, label=request.headers.get("X-Device-Label", "")[:128] or None,
                            queue=current_app.extensions["shuangsui.jobs"])


@blp.route("/pull")
class Pull(MethodView):
    @requires(Role.INSPECTOR)
    @blp.arguments(PullArgs, location="query")
    @blp.response(200, PullOut)
    def get(self, args):
        """拉取本人可见的检查任务的变化（按服务器变更序号分页）"""
        return syncing.pull(get_session(), current_actor(), client_id=args["client_id"], cursor=args["cursor"],
                            limit=args["limit"])


@blp.route("/signers/verify")
class SignerVerify(MethodView):
    @requires(Role.INSPECTOR)
    @blp.arguments(SignerVerifyIn)
    @blp.response(200, SignerOut)
    @blp.alt_response(422, description="signature.signer_invalid：签名人核验未通过（任何原因同一答复）")
    @blp.alt_response(429, description="auth.too_many_attempts：失败次数过多（与登录同一计数，见 Retry-After）")
    def post(self, data):
        """核验代签人：组员在本机输入自己的用户名和密码，先在线核验再保存签名（与登录同一限流与审计）"""
        return signers.verify(get_session(), current_app.extensions["shuangsui.login"], current_actor(), data,
                              client_address())
