from __future__ import annotations

from flask import current_app
from flask.views import MethodView

from backend import get_session
from backend.api import blueprint, paginate
from backend.auth.access import ANY_USER, current_actor, requires
from backend.auth.roles import Role
from backend.errors import Forbidden
from backend.jobs import services
from schemas.base import page_of
from schemas.system import JobArgs, JobOut, SelfCheckIn

blp = blueprint("jobs", __name__, "/api/v1/jobs", "后台任务")


@blp.route("")
class Jobs(MethodView):
    @requires(ANY_USER)
    @blp.arguments(JobArgs, location="query")
    @blp.response(200, page_of(JobOut))
    def get(self, args):
        """后台任务列表：系统管理员看全部（含失败任务），其他人只看自己提交的"""
        actor = current_actor()
        mine = None if actor.role == Role.SYSADMIN else actor.user_id
        return paginate(get_session(), services.jobs_query(args.get("status"), mine), args)


@blp.route("/<string:job_id>")
class JobDetail(MethodView):
    @requires(ANY_USER)
    @blp.response(200, JobOut)
    def get(self, job_id):
        """任务状态与进度（提交人、系统管理员；生成检查记录表的任务：可读取该记录的人）"""
        session = get_session()
        job = services.get_job(session, job_id)
        actor = current_actor()
        if actor.role != Role.SYSADMIN and job.created_by != actor.user_id \
                and not services.may_follow(session, actor, job):
            raise Forbidden("只能查看自己提交的后台任务", code="forbidden.owner")
        return job


@blp.route("/<string:job_id>/file")
class JobFile(MethodView):
    @requires(ANY_USER)
    @blp.doc(responses={"200": {"description": "任务生成的文件（导出的 CSV / XLSX、通报 PDF；名录导入：上传的文件）"},
                        "409": {"description": "job.not_ready：尚未完成（details 含进度）；job.failed：任务失败"},
                        "404": {"description": "job.no_file：该任务不生成文件；export.file_missing：文件已被清理"},
                        "410": {"description": "export.expired / import.expired：文件已超过保留期限并被清理"}})
    def get(self, job_id):
        """下载后台任务生成的文件（仅限提交人或系统管理员）"""
        from backend.jobs.exports import send_job_file

        return send_job_file(job_id)


@blp.route("/<string:job_id>/retry")
class JobRetry(MethodView):
    @requires(Role.SYSADMIN)
    @blp.response(202, JobOut)
    def post(self, job_id):
        """重新执行失败的任务"""
        session = get_session()
        job = services.retry_job(session, current_app.extensions["shuangsui.jobs"], current_actor(), job_id)
        return job


@blp.route("/selfcheck")
class JobSelfCheck(MethodView):
    @requires(Role.SYSADMIN)
    @blp.arguments(SelfCheckIn)
    @blp.response(202, JobOut)
    def post(self, data):
        """提交一个自检任务，检验后台任务队列是否工作"""
        return services.enqueue(get_session(), current_app.extensions["shuangsui.jobs"], "system.selfcheck",
                                {"steps": data["steps"], "fail_times": data["fail_times"]}, current_actor(),
                                max_attempts=data["max_attempts"])
