"""Forms of the community feature. Every form carries a CSRF token (Flask-WTF); the
limits here mirror the services' so a browser user sees the message next to the field,
but the services check again."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from portal.forms import ActionForm as ActionForm
from portal.ids import coerce_id
from portal.places.models import OrgKind


class NameForm(FlaskForm):
    """Add or rename a grid."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=80)])
    submit = SubmitField(_l("Save"))


class BuildingForm(FlaskForm):
    grid_id = SelectField(_l("Grid"), coerce=coerce_id, validators=[DataRequired()], validate_choice=False)
    name = StringField(
        _l("Building"), validators=[DataRequired(), Length(max=80)], description=_l("For example: 3号楼")
    )
    submit = SubmitField(_l("Add building"))


class ReportForm(FlaskForm):
    community_id = SelectField(_l("Community where you live"), coerce=coerce_id, validate_choice=False)
    work_unit = StringField(
        _l("Work unit"),
        validators=[DataRequired(), Length(max=120)],
        description=_l("The organisation you work for"),
    )
    party_org = StringField(
        _l("Party organisation"),
        validators=[DataRequired(), Length(max=120)],
        description=_l("The party branch your membership belongs to"),
    )
    submit = SubmitField(_l("Report to the community"))


class ReviewForm(FlaskForm):
    decision = RadioField(
        _l("Decision"),
        choices=[("confirm", _l("Confirm")), ("reject", _l("Reject"))],
        validators=[DataRequired()],
    )
    note = StringField(
        _l("Note"),
        validators=[Optional(), Length(max=200)],
        description=_l("Required when rejecting; the member sees it."),
    )
    submit = SubmitField(_l("Submit"))


class GrantRoleForm(FlaskForm):
    phone = StringField(
        _l("Mobile number"),
        validators=[DataRequired(), Regexp(r"^1\d{10}$", message=_l("Enter an 11-digit mobile number."))],
    )
    role = SelectField(
        _l("Role"),
        choices=[("staff", _l("Community staff")), ("merchant", _l("Merchant"))],
        validators=[DataRequired()],
    )
    organisation_id = SelectField(
        _l("Organisation (merchants only)"), coerce=coerce_id, validate_choice=False
    )
    submit = SubmitField(_l("Grant role"))


class OrganisationForm(FlaskForm):
    kind = SelectField(
        _l("Kind"),
        choices=[(OrgKind.PARTNER.value, _l("Partner unit")), (OrgKind.MERCHANT.value, _l("Merchant"))],
        validators=[DataRequired()],
    )
    community_id = SelectField(
        _l("Community served"),
        coerce=coerce_id,
        validate_choice=False,
        description=_l("Required for merchants; partner units may serve the whole street."),
    )
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    contact_name = StringField(_l("Contact person"), validators=[Optional(), Length(max=40)])
    contact_phone = StringField(
        _l("Contact phone"),
        validators=[
            Optional(),
            Length(max=20),
            Regexp(r"^[0-9-]*$", message=_l("Enter a phone number using digits only.")),
        ],
    )
    address = StringField(_l("Address"), validators=[Optional(), Length(max=200)])
    description = TextAreaField(
        _l("Description"),
        validators=[Optional(), Length(max=2000)],
        description=_l("What the unit offers residents, e.g. free haircuts for the elderly."),
    )
    submit = SubmitField(_l("Register"))


class CommunityForm(FlaskForm):
    """A street admin creates or edits a community."""

    name = StringField(
        _l("Name"), validators=[DataRequired(), Length(max=80)], description=_l("For example: 幸福里社区")
    )
    address = StringField(_l("Address"), validators=[Optional(), Length(max=200)])
    is_open = BooleanField(
        _l("Open to new residents"),
        default=True,
        description=_l("Residents may choose this community when they sign up."),
    )
    submit = SubmitField(_l("Save"))
