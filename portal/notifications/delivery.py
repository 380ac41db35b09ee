"""Delivery channels beyond the in-app inbox.

A sender gets every notification after it is stored. The default only logs; an SMS or
WeChat sender implements ``Sender`` and is named in config ``NOTIFICATION_SENDER``
("module:attribute"). Senders run after the request commits, so a failed SMS gateway
never loses or rolls back the notification itself.
"""

from __future__ import annotations

import importlib
import logging
from typing import Protocol

from flask import Flask, current_app

log = logging.getLogger(__name__)


class Sender(Protocol):
    def send(self, *, user_id: int, kind: str, title: str, body: str, link: str | None) -> None: ...


class LogSender:
    """Writes a line per notification to the application log (the default)."""

    def send(self, *, user_id: int, kind: str, title: str, body: str, link: str | None) -> None:
        log.info("notify user=%s kind=%s title=%s link=%s", user_id, kind, title, link)


def configure_sender(app: Flask) -> None:
    spec = app.config.get("NOTIFICATION_SENDER")
    if not spec:
        sender: Sender = LogSender()
    else:
        module_name, _, attr = str(spec).partition(":")
        sender = getattr(importlib.import_module(module_name), attr)()
    app.extensions["fufen_sender"] = sender


def current_sender() -> Sender:
    return current_app.extensions["fufen_sender"]  # type: ignore[no-any-return]
