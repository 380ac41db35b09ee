"""Staff page for a community's settings."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, RadioField, SelectField
from wtforms.validators import InputRequired, NumberRange, Optional

from portal.extensions import db
from portal.ids import id_arg
from portal.refusals import on_refusal
from portal.settings import services as svc

bp = Blueprint("settings", __name__, url_prefix="/settings")


def _int(label: Any, lo: int, hi: int, *, optional: bool = False) -> IntegerField:
    first = Optional() if optional else InputRequired()
    return IntegerField(
        label,
        validators=[first, NumberRange(min=lo, max=hi)],
        description=_l("Between %(lo)d and %(hi)d.", lo=lo, hi=hi),
    )


class SettingsForm(FlaskForm):
    gift_daily_limit = _int(_l("Gift limit per member per day (points)"), 0, 100000)
    exchange_points_per_hour = _int(_l("Mutual help: points per hour"), 1, 1000)
    expiry_months = _int(_l("Points expire after (months; empty = never)"), 1, 120, optional=True)
    points_per_hour = _int(_l("Volunteer hours: points per hour"), 0, 1000)
    daily_minutes_cap = _int(_l("Most volunteer minutes per day"), 30, 1440)
    hours_rounding_minutes = SelectField(
        _l("Round check-in times to (minutes)"), coerce=int, choices=[(v, str(v)) for v in svc.ROUNDING]
    )
    post_claim_cap = _int(_l("Service posts per person"), 1, 10)
    post_claim_needs_approval = BooleanField(_l("Staff approve each post claim"))
    team_cap = _int(_l("Teams per person"), 1, 10)
    party_activity_goal = _int(_l("Party members: activities per year"), 0, 52)
    wish_claim_days = _int(_l("Days to fulfil a claimed wish"), 1, 90)
    wish_pay_on_confirm = RadioField(
        _l("Pay wish helpers"),
        choices=[
            ("review", _l("After a staff review")),
            ("confirm", _l("When the resident confirms (within the limit below)")),
        ],
        default="review",
    )
    wish_auto_pay_max_minutes = _int(_l("Pay on confirmation for at most (minutes per wish)"), 15, 480)
    hours_backdate_days = _int(_l("Hours may be reported up to (days after)"), 1, 365, optional=True)
    leaders_publish_paid_activities = BooleanField(
        _l("Team leaders may publish activities that pay points (each needs a staff approval)")
    )
    activity_max_points_per_hour = _int(_l("Activities: most points per hour"), 0, 1000, optional=True)
    activity_max_points_flat = _int(
        _l("Activities: largest fixed amount per person"), 0, 10000, optional=True
    )
    monthly_issue_budget = _int(_l("Fund: most points issued per month"), 0, 100_000_000, optional=True)


def _community(community_id: int | None) -> tuple[Any, list[Any]]:
    from portal.policy import staff_communities
    from portal.refusals import deny

    communities = staff_communities(db.session, current_user)
    if not communities:
        deny("settings.edit")
    chosen = next((c for c in communities if c.id == community_id), None) if community_id else communities[0]
    if chosen is None:
        deny("settings.edit", community_id=community_id)
    return chosen, communities


@bp.route("/", methods=["GET", "POST"])
@login_required
def edit() -> Any:
    community, communities = _community(request.values.get("community_id", type=id_arg))
    settings = svc.get_settings(db.session, community.id)
    form = SettingsForm(obj=settings if request.method == "GET" else None)
    if request.method == "GET":
        form.wish_pay_on_confirm.data = "confirm" if settings.wish_pay_on_confirm else "review"
    if request.method == "GET":
        return render_template("settings/edit.html", form=form, community=community, communities=communities)
    if not form.validate():
        return render_template(
            "settings/edit.html", form=form, community=community, communities=communities
        ), 400
    values = {name: getattr(form, name).data for name in svc.EDITABLE}
    values["post_claim_needs_approval"] = bool(values["post_claim_needs_approval"])
    values["leaders_publish_paid_activities"] = bool(values["leaders_publish_paid_activities"])
    for name in svc.KEEP_WHEN_MISSING:  # forms of older pages leave them out: keep the value
        if values[name] is None:
            values[name] = getattr(settings, name)
    values["wish_pay_on_confirm"] = values["wish_pay_on_confirm"] == "confirm"
    on_refusal(
        lambda: render_template(
            "settings/edit.html", form=form, community=community, communities=communities
        ),
        form,
    )
    svc.update_settings(db.session, current_user, community.id, values)
    flash(_("Settings saved."), "success")
    return redirect(url_for("settings.edit", community_id=community.id))
