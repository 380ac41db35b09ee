"""Forms of the activities feature (each carries a CSRF token). The services check again."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from portal.forms import ActionForm as ActionForm

DT_FORMAT = ["%Y-%m-%dT%H:%M"]


class ActivityForm(FlaskForm):
    title = StringField(
        _l("Title"), validators=[DataRequired(), Length(max=120)], description=_l("For example: 垃圾分类宣传")
    )
    place = StringField(_l("Place"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=4000)])
    starts_at = DateTimeLocalField(_l("Starts"), format=DT_FORMAT, validators=[DataRequired()])
    ends_at = DateTimeLocalField(_l("Ends"), format=DT_FORMAT, validators=[DataRequired()])
    signup_deadline = DateTimeLocalField(_l("Sign-up closes"), format=DT_FORMAT, validators=[DataRequired()])
    capacity = IntegerField(_l("Places"), validators=[DataRequired(), NumberRange(min=1, max=10000)])
    points_rule = SelectField(
        _l("Points"),
        choices=[
            ("default", _l("Community default per hour")),
            ("none", _l("No points")),
            ("per_hour", _l("Points per hour")),
            ("flat", _l("Fixed amount")),
        ],
        default="default",
    )
    points_value = IntegerField(
        _l("Points (per hour or fixed)"), validators=[Optional(), NumberRange(min=0, max=100000)]
    )
    leader_id = SelectField(_l("Leader (runs check-in)"), coerce=int, validate_choice=False)
    team_id = SelectField(_l("Team"), coerce=int, validate_choice=False, default=0)
    submit = SubmitField(_l("Save"))


class CancelActivityForm(FlaskForm):
    reason = StringField(
        _l("Reason"), validators=[Optional(), Length(max=300)], description=_l("Everyone signed up is told.")
    )
    submit = SubmitField(_l("Cancel activity"))


class CheckForm(FlaskForm):
    phase = HiddenField(validators=[DataRequired()])
    code = StringField(
        _l("Code"),
        validators=[
            DataRequired(),
            Regexp(r"^\s*\d{6}\s*$", message=_l("Enter the 6 digits shown by the leader.")),
        ],
    )
    submit = SubmitField(_l("Confirm"))


class MarkForm(FlaskForm):
    outcome = SelectField(_l("Attendance"), choices=[("present", _l("Present")), ("no_show", _l("No-show"))])
    started_at = DateTimeLocalField(_l("Arrived"), format=DT_FORMAT, validators=[Optional()])
    ended_at = DateTimeLocalField(_l("Left"), format=DT_FORMAT, validators=[Optional()])
    submit = SubmitField(_l("Save"))
