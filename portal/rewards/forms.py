"""Forms of the rewards store (each carries a CSRF token). The services check every rule again."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp

from portal.forms import ActionForm as ActionForm
from portal.rewards.models import RewardCategory


class WholeNumberField(IntegerField):
    """An integer field whose error for "1.5" or "abc" is a plain, translated sentence."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist:
            return
        raw = str(valuelist[0]).strip()
        if raw.lstrip("-").isdigit() and len(raw) <= 9:
            self.data = int(raw)
            return
        self.data = None
        raise ValueError(str(_l("Enter a whole number, for example 20.")))


def category_choices() -> list[tuple[str, Any]]:
    from portal.rewards.services import CATEGORY_LABELS

    return [(c.value, CATEGORY_LABELS[c]) for c in RewardCategory]


class RewardForm(FlaskForm):
    title = StringField(
        _l("Title"), validators=[DataRequired(), Length(max=80)], description=_l("For example: 粮油9折券")
    )
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])
    category = SelectField(_l("Category"), choices=category_choices)
    price = WholeNumberField(_l("Price in 福分"), validators=[InputRequired()])
    stock = WholeNumberField(
        _l("Stock"), validators=[InputRequired()], description=_l("How many can still be redeemed.")
    )
    monthly_limit = WholeNumberField(
        _l("Limit per person per month"), validators=[InputRequired()], default=1
    )
    valid_from = DateField(_l("Valid from"), validators=[Optional()])
    valid_until = DateField(_l("Valid until"), validators=[Optional()])
    is_active = BooleanField(_l("Listed in the store"), default=True)
    picture = FileField(_l("Picture (optional)"), description=_l("JPEG or PNG, at most 2 MB."))


class RedeemForm(FlaskForm):
    idem_key = HiddenField(validators=[DataRequired()])


class VerifyForm(FlaskForm):
    code = StringField(_l("Voucher code"), validators=[DataRequired(), Length(max=32)])


class SettleForm(FlaskForm):
    organisation_id = HiddenField(validators=[DataRequired(), Regexp(r"^\d{1,10}$")])
    community_id = HiddenField(validators=[DataRequired(), Regexp(r"^\d{1,10}$")])
    month = HiddenField(validators=[DataRequired(), Regexp(r"^\d{4}-\d{2}$")])
