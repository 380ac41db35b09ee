"""The staff and street workspace: what waits for staff and street admins on their home
page, and (in sibling modules) the places, tables and dashboards they run a community
from."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Nothing to register yet: the home page reads ``portal.workspace.waiting``."""
