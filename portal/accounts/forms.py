"""Forms for sign-up, log-in and password change.

Every field has a length limit and an explicit, translatable message. The forms check
shape only; the rules (password policy, open community, duplicate number) are enforced
by the services, which the API shares.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, ValidationError

from portal.accounts.policy import PASSWORD_MAX, PHONE_INPUT_MAX, normalize_phone
from portal.accounts.services import NAME_MAX
from portal.errors import ServiceError


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


_INT32_MAX = 2**31 - 1


def _community_id(value: Any) -> int | None:
    """Never raises (a forged value becomes None and the service refuses it)."""
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        number = int(value)
        return number if 0 < number <= _INT32_MAX else None  # PostgreSQL integer keys
    return None


class _PhoneMixin:
    def validate_phone(self, field: StringField) -> None:
        try:
            normalize_phone(field.data)
        except ServiceError as exc:
            raise ValidationError(str(exc.message)) from None


_PHONE_VALIDATORS = [
    DataRequired(_l("Enter your mobile number.")),
    Length(max=PHONE_INPUT_MAX, message=_l("Enter an 11-digit mainland mobile number, e.g. 138 1234 5678.")),
]
_PASSWORD_MAX = Length(
    max=PASSWORD_MAX, message=_l("Use at most %(max)d characters for your password.", max=PASSWORD_MAX)
)


class SignupForm(_PhoneMixin, FlaskForm):
    phone = StringField(_l("Mobile number"), validators=_PHONE_VALIDATORS, filters=[_strip])
    password = PasswordField(
        _l("Password"), validators=[DataRequired(_l("Choose a password.")), _PASSWORD_MAX]
    )
    confirm = PasswordField(
        _l("Password again"),
        validators=[
            DataRequired(_l("Enter the password a second time.")),
            _PASSWORD_MAX,
            EqualTo("password", message=_l("The two passwords are not the same.")),
        ],
    )
    display_name = StringField(
        _l("Name shown to neighbours"),
        filters=[_strip],
        validators=[
            DataRequired(_l("Enter the name your neighbours know you by.")),
            Length(max=NAME_MAX, message=_l("Use at most %(max)d characters.", max=NAME_MAX)),
        ],
    )
    real_name = StringField(
        _l("Real name (optional)"),
        filters=[_strip],
        validators=[
            Optional(),
            Length(max=NAME_MAX, message=_l("Use at most %(max)d characters.", max=NAME_MAX)),
        ],
    )
    # PIPL Art. 29: a separate consent, never pre-ticked, not needed to sign up.
    sensitive_consent = BooleanField(
        _l(
            "I separately agree that my community may process my sensitive personal information "
            "(party membership, ID number) to confirm my party-member report (optional)"
        ),
        default=False,
    )
    # Choices are rendered grouped by street from the view; the service checks the id.
    community = SelectField(
        _l("Your community"),
        coerce=_community_id,
        validate_choice=False,
        validators=[DataRequired(_l("Choose your community from the list."))],
    )


class LoginForm(_PhoneMixin, FlaskForm):
    phone = StringField(_l("Mobile number"), validators=_PHONE_VALIDATORS, filters=[_strip])
    password = PasswordField(
        _l("Password"), validators=[DataRequired(_l("Enter your password.")), _PASSWORD_MAX]
    )


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"), validators=[DataRequired(_l("Enter your current password.")), _PASSWORD_MAX]
    )
    new_password = PasswordField(
        _l("New password"), validators=[DataRequired(_l("Choose a password.")), _PASSWORD_MAX]
    )
    confirm = PasswordField(
        _l("New password again"),
        validators=[
            DataRequired(_l("Enter the password a second time.")),
            _PASSWORD_MAX,
            EqualTo("new_password", message=_l("The two passwords are not the same.")),
        ],
    )
