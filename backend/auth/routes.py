from __future__ import annotations

from flask import current_app
from flask.views import MethodView

from backend import get_session
from backend.api import blueprint, body_limit, paginate
from backend.auth import services
from backend.auth.access import ANY_USER, client_address, current_actor, current_session_id, public, requires
from backend.auth.roles import Role
from schemas.auth import (FreezeIn, LoginIn, LogoutIn, PasswordIn, RefreshIn, TokenOut, UserArgs, UserCreate,
                          UserOut, UserUpdate)
from schemas.base import MessageSchema, page_of

AUTH_LIMIT = "AUTH_REQUEST_MAX_BYTES"   # a login is a few hundred bytes: a bigger body is refused unread

blp = blueprint("auth", __name__, "/api/v1/auth", "登录与令牌")
users_blp = blueprint("users", __name__, "/api/v1/users", "账号管理")


def _pair(pair):
    return {"access_token": pair.access_token, "access_expires_at": pair.access_expires_at,
            "refresh_token": pair.refresh_token, "refresh_expires_at": pair.refresh_expires_at,
            "token_type": "Bearer", "user": pair.user}


def _ext(name):
    return current_app.extensions[f"shuangsui.{name}"]


@blp.route("/login")
class Login(MethodView):
    @public
    @body_limit(AUTH_LIMIT)
    @blp.arguments(LoginIn)
    @blp.response(200, TokenOut)
    @blp.alt_response(401, description="用户名或密码错误 / 账号已冻结")
    @blp.alt_response(429, description="登录失败次数过多（见 Retry-After）")
    def post(self, data):
        """登录，取得访问令牌与刷新令牌"""
        return _pair(services.login(get_session(), _ext("tokens"), _ext("refresh"), _ext("login"),
                                    username=data["username"], password=data["password"],
                                    address=client_address(), device_label=data["device_label"]))


@blp.route("/refresh")
class Refresh(MethodView):
    @public
    @body_limit(AUTH_LIMIT)
    @blp.arguments(RefreshIn)
    @blp.response(200, TokenOut)
    @blp.alt_response(401, description="刷新令牌无效、已过期、所属登录已结束或被重复使用")
    @blp.alt_response(429, description="本地址刷新失败次数过多（见 Retry-After）")
    def post(self, data):
        """用刷新令牌换一对新令牌（旧刷新令牌随即失效；重复使用将注销该设备）"""
        return _pair(services.rotate_refresh_token(get_session(), _ext("tokens"), _ext("refresh"), _ext("login"),
                                                   data["refresh_token"], client_address()))


@blp.route("/logout")
class Logout(MethodView):
    @requires(ANY_USER)
    @body_limit(AUTH_LIMIT)
    @blp.arguments(LogoutIn)
    @blp.response(200, MessageSchema)
    def post(self, data):
        """退出登录：本次登录的访问令牌与刷新令牌立即失效（另给 refresh_token 时其所属登录也一并退出）"""
        services.logout(get_session(), current_actor(), current_session_id(), data["refresh_token"])
        return {"message": "已退出登录"}


@blp.route("/me")
class Me(MethodView):
    @requires(ANY_USER)
    @blp.response(200, UserOut)
    def get(self):
        """当前登录账号"""
        return services.get_user(get_session(), current_actor(), current_actor().user_id)


@blp.route("/me/password")
class MyPassword(MethodView):
    @requires(ANY_USER)
    @body_limit(AUTH_LIMIT)
    @blp.arguments(PasswordIn)
    @blp.response(200, MessageSchema)
    def post(self, data):
        """修改本人密码（其他设备将需重新登录）"""
        actor = current_actor()
        services.set_password(get_session(), actor, actor.user_id, data["password"], data["old_password"])
        return {"message": "密码已修改"}


@users_blp.route("")
class Users(MethodView):
    @requires(Role.SYSADMIN, Role.DEPT_ADMIN)
    @users_blp.arguments(UserArgs, location="query")
    @users_blp.response(200, page_of(UserOut))
    def get(self, args):
        """账号列表（部门管理员只见本部门）"""
        return paginate(get_session(), services.users_query(current_actor(), args), args)

    @requires(Role.SYSADMIN, Role.DEPT_ADMIN)
    @users_blp.arguments(UserCreate)
    @users_blp.response(201, UserOut)
    def post(self, data):
        """新建账号"""
        return services.create_user(get_session(), current_actor(), data)


@users_blp.route("/<int:user_id>")
class UserDetail(MethodView):
    @requires(Role.SYSADMIN, Role.DEPT_ADMIN)
    @users_blp.response(200, UserOut)
    def get(self, user_id):
        """账号详情"""
        return services.get_user(get_session(), current_actor(), user_id)

    @requires(Role.SYSADMIN, Role.DEPT_ADMIN)
    @users_blp.arguments(UserUpdate)
    @users_blp.response(200, UserOut)
    def patch(self, data, user_id):
        """修改账号（角色或部门变更后旧令牌立即失效）"""
        return services.update_user(get_session(), current_actor(), user_id, data)


@users_blp.route("/<int:user_id>/freeze")
class UserFreeze(MethodView):
    @requires(Role.SYSADMIN, Role.DEPT_ADMIN)
    @users_blp.arguments(FreezeIn)
    @users_blp.response(200, UserOut)
    def post(self, data, user_id):
        """冻结或解冻账号：冻结后其所有令牌立即失效"""
        return services.set_frozen(get_session(), current_actor(), user_id, data["frozen"], data["reason"])


@users_blp.route("/<int:user_id>/password")
class UserPassword(MethodView):
    @requires(Role.SYSADMIN, Role.DEPT_ADMIN)
    @users_blp.arguments(PasswordIn)
    @users_blp.response(200, MessageSchema)
    def post(self, data, user_id):
        """重置账号密码"""
        services.set_password(get_session(), current_actor(), user_id, data["password"])
        return {"message": "密码已重置，该账号需重新登录"}
