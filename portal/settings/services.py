"""Read community settings; a community without a row uses the defaults."""
from __future__ import annotations

from sqlalchemy.orm import Session

from portal.settings.models import CommunitySettings


def default_settings(community_id: int) -> CommunitySettings:
    """An unsaved settings object carrying the column defaults (Python-side defaults are
    otherwise applied only at INSERT)."""
    values = {
        col.key: col.default.arg
        for col in CommunitySettings.__table__.columns
        if col.default is not None and not callable(col.default.arg)
    }
    return CommunitySettings(community_id=community_id, **values)


def get_settings(session: Session, community_id: int) -> CommunitySettings:
    """The community's settings. Reading never writes: without a stored row the defaults
    are returned unsaved (a GET must not change state); ``settings_for_update`` stores."""
    return session.get(CommunitySettings, community_id) or default_settings(community_id)


def settings_for_update(session: Session, community_id: int) -> CommunitySettings:
    """The stored row (created from the defaults if missing), attached to ``session``."""
    settings = session.get(CommunitySettings, community_id)
    if settings is None:
        settings = default_settings(community_id)
        session.add(settings)
    return settings
