"""How a notification leaves the system besides the in-app list: SMS and e-mail behind one interface.

The in-app list is the ``notification`` row itself (always). The deployment names the other channels
(``NOTIFY_CHANNELS``: ``sms``, ``email``, comma-separated; none by default) and the sender that carries
them (``NOTIFY_SENDER``: ``log``, the only one built in, writes to the log what it would send). A real
gateway implements ``Notifier`` and is added to ``SENDERS``.
"""
from __future__ import annotations

import logging
from typing import Callable, Protocol

log = logging.getLogger("shuangsui.notify")

CHANNELS = ("sms", "email")


class Notifier(Protocol):
    """One channel. ``send`` is called once per new notification, after it was committed."""

    channel: str

    def send(self, *, user_id: int, address: str | None, title: str, body: str, link: str | None) -> None: ...


class LoggingNotifier:
    """Sends nothing: logs what it would send (the default of every deployment without a gateway)."""

    def __init__(self, channel: str):
        self.channel = channel
        self.sent: list[dict] = []       # what it would have sent, for the operator's checks and the tests

    def send(self, *, user_id: int, address: str | None, title: str, body: str, link: str | None) -> None:
        self.sent.append({"user_id": user_id, "address": address, "title": title, "body": body, "link": link})
        if address:
            log.info("[%s] 发往用户 %s（%s）：%s —— %s", self.channel, user_id, address, title, body)
        else:
            log.info("[%s] 用户 %s 没有登记%s，未发送：%s", self.channel, user_id,
                     "手机号" if self.channel == "sms" else "电子邮箱", title)


# sender name → factory(channel) -> Notifier
SENDERS: dict[str, Callable[[str], Notifier]] = {"log": LoggingNotifier}


def notifiers_from_config(config) -> list[Notifier]:
    """The channels the deployment configured (``NOTIFY_CHANNELS``, ``NOTIFY_SENDER``)."""
    names = [c.strip() for c in (config.get("NOTIFY_CHANNELS") or "").split(",") if c.strip()]
    unknown = [c for c in names if c not in CHANNELS]
    if unknown:
        raise RuntimeError(f"NOTIFY_CHANNELS 含未知的通知渠道：{'、'.join(unknown)}（可选：{'、'.join(CHANNELS)}）")
    sender = config.get("NOTIFY_SENDER") or "log"
    if sender not in SENDERS:
        raise RuntimeError(f"NOTIFY_SENDER 未知：{sender}（可选：{'、'.join(SENDERS)}）")
    return [SENDERS[sender](c) for c in names]
