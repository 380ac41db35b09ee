"""Forms of 代办. Limits mirror the services' (which check again)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TextAreaField, TimeField
from wtforms.validators import DataRequired, Length, Optional


class EnrolForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=40)])
    building_id = SelectField(_l("Building"), coerce=int, validate_choice=False, validators=[DataRequired()])
    landline = StringField(
        _l("Landline (optional)"),
        validators=[Optional(), Length(max=20)],
        description=_l("For example: 0592-1234567"),
    )
    relation = StringField(
        _l("Relation to you"), validators=[Optional(), Length(max=20)], description=_l("For example: 母亲")
    )
    carer_phone = StringField(
        _l("A relative's mobile number (optional)"),
        validators=[Optional(), Length(max=32)],
        description=_l("The relative must have a Fufen account; they can then redeem for this person."),
    )


class CarerForm(FlaskForm):
    phone = StringField(_l("Relative's mobile number"), validators=[DataRequired(), Length(max=32)])
    relation = StringField(_l("Relation"), validators=[Optional(), Length(max=20)])


class HoursForm(FlaskForm):
    day = DateField(_l("Date"), validators=[DataRequired()])
    start = TimeField(_l("From"), validators=[DataRequired()])
    end = TimeField(_l("To"), validators=[DataRequired()])
    description = TextAreaField(_l("What they did"), validators=[DataRequired(), Length(max=500)])


class SignupForm(FlaskForm):
    activity_id = SelectField(_l("Activity"), coerce=int, validate_choice=False, validators=[DataRequired()])


class ActionForm(FlaskForm):
    """A bare POST button: only the CSRF token."""
