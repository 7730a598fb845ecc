"""/api/sync: push and pull for the officers' phones (thin: the protocol lives in sync/ and syncing.py)."""
from __future__ import annotations

from flask import current_app, request
from flask.views import MethodView

from backend import get_session
from backend.api import blueprint, body_limit
from backend.auth.access import current_actor, requires
from backend.auth.roles import Role
from backend.inspections import syncing
from schemas.sync import PullArgs, PullOut, PushIn, PushOut
from sync.protocol import MAX_BATCH_BYTES

blp = blueprint("sync", __name__, "/api/sync", "离线同步：手机推送变更、拉取检查任务（协议见 docs/sync.md）")


@blp.route("/push")
class Push(MethodView):
    @requires(Role.INSPECTOR)
    @body_limit(MAX_BATCH_BYTES, code="sync.batch_too_large",
                message="一次推送不能超过 {limit}；请分批推送（每批最多 100 条）")
    @blp.arguments(PushIn)
    @blp.response(200, PushOut)
    def post(self, _data):
        """推送本设备的变更（按编号顺序，恰好一次）"""
        client_id, mutations = syncing.parse(request.get_json())
        session = get_session()
        signers = syncing.verify_signers(session, mutations)
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
