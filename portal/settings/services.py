"""Read community settings; a community without a row uses the defaults."""
from __future__ import annotations

from sqlalchemy.orm import Session

from portal.settings.models import CommunitySettings


def get_settings(session: Session, community_id: int) -> CommunitySettings:
    """The community's settings; creates the row with defaults on first use."""
    settings = session.get(CommunitySettings, community_id)
    if settings is None:
        settings = CommunitySettings(community_id=community_id)
        session.add(settings)
        session.flush()
    return settings
