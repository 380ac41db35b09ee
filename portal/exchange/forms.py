from __future__ import annotations

import uuid
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DecimalField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp, ValidationError

from portal.forms import ActionForm as ActionForm
from portal.ids import coerce_id

AMOUNT_MSG = _l("Enter a whole number of points greater than zero.")
PHONE = Regexp(r"^1\d{10}$", message=_l("Enter an 11-digit mobile number."))


def new_idem_key() -> str:
    return uuid.uuid4().hex


class IdemForm(FlaskForm):
    """Every spending form carries a key generated when the form is first rendered."""

    idem_key = HiddenField(
        validators=[DataRequired(message=_l("This form has expired. Reload the page and try again."))]
    )

    def fill_key(self) -> None:
        if not self.idem_key.data:
            self.idem_key.data = new_idem_key()


class GiftForm(IdemForm):
    phone = StringField(_l("Recipient's mobile number"), validators=[DataRequired(), PHONE])
    amount = IntegerField(
        _l("Points"), validators=[DataRequired(message=AMOUNT_MSG), NumberRange(min=1, message=AMOUNT_MSG)]
    )
    note = StringField(_l("Note (optional)"), validators=[Optional(), Length(max=200)])


def half_hours(_form: object, field: DecimalField) -> None:
    if field.data is not None and (field.data * 2) % 1 != 0:
        raise ValidationError(_l("Use whole or half hours, e.g. 1.5."))


def minutes_of(value: Decimal | None) -> int | None:
    return None if value is None else int(value * 60)


class ListingForm(FlaskForm):
    kind = RadioField(
        _l("Type"),
        choices=[("offer", _l("I can help (offer)")), ("request", _l("I need help (request)"))],
        validators=[DataRequired()],
    )
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=80)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])
    est_hours = DecimalField(
        _l("Estimated hours"),
        places=1,
        validators=[DataRequired(), NumberRange(min=0.5, max=100), half_hours],
    )


class DoneForm(FlaskForm):
    hours = DecimalField(
        _l("Hours worked"), places=1, validators=[DataRequired(), NumberRange(min=0.5, max=100), half_hours]
    )


class DisputeForm(FlaskForm):
    reason = TextAreaField(_l("What is wrong"), validators=[DataRequired(), Length(max=500)])


class ResolveForm(FlaskForm):
    decision = RadioField(
        _l("Decision"),
        choices=[("pay", _l("Pay these hours")), ("cancel", _l("Cancel, no payment"))],
        validators=[DataRequired()],
    )
    hours = DecimalField(
        _l("Hours to pay"), places=1, validators=[Optional(), NumberRange(min=0.5, max=100), half_hours]
    )
    note = TextAreaField(_l("Decision note"), validators=[DataRequired(), Length(max=500)])


class GrantForm(IdemForm):
    target = RadioField(
        _l("Who receives"),
        choices=[
            ("person", _l("One person")),
            ("activity", _l("Present attendees of an activity")),
            ("team", _l("Members of a team")),
        ],
        default="person",
        validators=[DataRequired()],
    )
    phone = StringField(_l("Mobile number (one person)"), validators=[Optional(), PHONE])
    activity_id = SelectField(
        _l("Activity"), coerce=coerce_id, choices=[], validate_choice=False, validators=[Optional()]
    )
    team_id = SelectField(
        _l("Team"), coerce=coerce_id, choices=[], validate_choice=False, validators=[Optional()]
    )
    amount = IntegerField(
        _l("Points for each person"),
        validators=[DataRequired(message=AMOUNT_MSG), NumberRange(min=1, message=AMOUNT_MSG)],
    )
    category = SelectField(_l("Reason category"), choices=[], validators=[DataRequired()])
    reason = TextAreaField(_l("Reason (required for Other)"), validators=[Optional(), Length(max=500)])


class ReverseForm(IdemForm):
    reason = StringField(_l("Reason for the correction"), validators=[DataRequired(), Length(max=500)])
    force = BooleanField(_l("Force (street administrator): take back even if spent"))
