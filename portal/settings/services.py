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


# --- staff edits (Track GIVE, issue #5) ------------------------------------------------------

# field -> (min, max) or allowed values; mirrors the CHECKs in portal/settings/models.py.
RANGES: dict[str, tuple[int, int] | tuple[int, ...]] = {
    "post_claim_cap": (1, 10),
    "team_cap": (1, 10),
    "daily_minutes_cap": (30, 1440),
    "points_per_hour": (0, 1000),
    "exchange_points_per_hour": (1, 1000),
    "party_activity_goal": (0, 52),
    "wish_claim_days": (1, 90),
    "gift_daily_limit": (0, 100000),
    "expiry_months": (1, 120),
    "wish_auto_pay_max_minutes": (15, 480),
    "hours_backdate_days": (1, 365),
    "activity_max_points_per_hour": (0, 1000),
    "activity_max_points_flat": (0, 10000),
    "monthly_issue_budget": (0, 100_000_000),
}
ROUNDING = (1, 5, 10, 15, 30, 60)
KEEP_WHEN_MISSING = (
    "hours_backdate_days",
    "activity_max_points_per_hour",
    "activity_max_points_flat",
    "monthly_issue_budget",
)
BOOLEANS = ("post_claim_needs_approval", "wish_pay_on_confirm", "leaders_publish_paid_activities")
EDITABLE = tuple(RANGES) + ("hours_rounding_minutes",) + BOOLEANS


def update_settings(
    session: Session, actor: object, community_id: int, values: dict[str, object]
) -> CommunitySettings:
    """Staff change their community's settings. Validated like the CHECK constraints;
    audited with the old and new values."""
    from flask_babel import lazy_gettext as _l

    from portal.audit.services import record, record_refusal
    from portal.errors import Forbidden, ServiceError
    from portal.places.services import get_community
    from portal.policy import is_staff

    community = get_community(session, community_id)
    if not is_staff(actor, community):  # type: ignore[arg-type]
        record_refusal(
            session,
            "settings.update",
            actor_id=getattr(actor, "id", None),
            community_id=community_id,
            code="not_staff",
        )
        raise Forbidden(_l("Only the staff of this community can do this."), code="not_staff")
    for name, value in values.items():
        if name not in EDITABLE:
            raise ServiceError(_l("Unknown setting."), code="unknown_setting")
        if name in BOOLEANS:
            if not isinstance(value, bool):
                raise ServiceError(_l("Choose yes or no."), code="bad_value", field=name)
            continue
        if name == "expiry_months" and value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            raise ServiceError(_l("Enter a whole number."), code="bad_value", field=name)
        if name == "hours_rounding_minutes":
            if value not in ROUNDING:
                raise ServiceError(_l("Choose one of the offered values."), code="bad_value", field=name)
            continue
        lo, hi = RANGES[name][0], RANGES[name][1]
        if not lo <= value <= hi:
            raise ServiceError(
                _l("Between %(lo)d and %(hi)d.", lo=lo, hi=hi), code="out_of_range", field=name
            )
    settings = settings_for_update(session, community_id)
    changes = {}
    for name, value in values.items():
        old = getattr(settings, name)
        if old != value:
            changes[name] = [old, value]
            setattr(settings, name, value)
    settings.updated_by_id = getattr(actor, "id", None)
    session.flush()
    record(
        session,
        "settings.update",
        actor_id=getattr(actor, "id", None),
        community_id=community_id,
        changes=changes,
    )
    return settings
