"""Each user's own notifications: list (read / unread, paged, with the unread count), mark read."""
from __future__ import annotations

from flask.views import MethodView

from backend import get_session
from backend.api import blueprint, paginate
from backend.auth.access import ANY_USER, current_actor, requires
from backend.notifications import services
from schemas.notifications import MarkedOut, NotificationArgs, NotificationOut, NotificationPage

blp = blueprint("notifications", __name__, "/api/v1/notifications", "通知与提醒")


@blp.route("")
class Notifications(MethodView):
    @requires(ANY_USER)
    @blp.arguments(NotificationArgs, location="query")
    @blp.response(200, NotificationPage)
    def get(self, args):
        """我的通知（只有自己的），新的在前；`read` 筛选已读/未读，`unread` 为未读总数"""
        session, actor = get_session(), current_actor()
        page = paginate(session, services.notifications_query(actor, args.get("read"), args.get("kind")), args)
        page["unread"] = services.unread_count(session, actor)
        return page


@blp.route("/<int:notification_id>/read")
class NotificationRead(MethodView):
    @requires(ANY_USER)
    @blp.response(200, NotificationOut)
    def post(self, notification_id):
        """把我的一条通知标为已读（别人的通知：404）"""
        return services.mark_read(get_session(), current_actor(), notification_id)


@blp.route("/read-all")
class NotificationsReadAll(MethodView):
    @requires(ANY_USER)
    @blp.response(200, MarkedOut)
    def post(self):
        """把我的全部未读通知标为已读"""
        session, actor = get_session(), current_actor()
        marked = services.mark_all_read(session, actor)
        return {"marked": marked, "unread": services.unread_count(session, actor)}
