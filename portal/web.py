"""Helpers every feature's views share (the web floor: no feature imports another's views)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_babel import gettext as _
from flask_login import current_user

from portal.extensions import db
from portal.ids import id_arg
from portal.people.models import Role, User
from portal.policy import staff_communities


def first_error(form: Any) -> str:
    for field in form:
        if field.errors:
            return f"{field.label.text}: {field.errors[0]}"
    return _("Please check what you entered.")


def home_community_id(actor: User) -> int | None:
    wanted = request.args.get("community_id", type=id_arg)
    if wanted:
        return wanted
    if actor.community_id is not None:
        return actor.community_id
    for r in actor.roles:
        if r.community_id is not None and r.role in (Role.PARTY_MEMBER, Role.STAFF, Role.RESIDENT):
            return r.community_id
    managed = staff_communities(db.session, actor)
    return managed[0].id if managed else None


def current_actor() -> User:
    """The signed-in user (the object itself, not Flask-Login's proxy)."""
    return current_user._get_current_object()  # type: ignore[no-any-return]
