from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, SelectField, StringField, TextAreaField, TimeField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from portal.forms import ActionForm as ActionForm
from portal.volunteering.wishes import WISH_CATEGORIES, WISH_CATEGORY_LABELS


class WishForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=80)])
    description = TextAreaField(_l("Details"), validators=[Optional(), Length(max=1000)])
    category = SelectField(
        _l("Category"),
        choices=[(c, WISH_CATEGORY_LABELS[c]) for c in WISH_CATEGORIES],
        validators=[DataRequired()],
    )
    due_date = DateField(_l("Needed by (optional)"), validators=[Optional()])
    requester_phone = StringField(
        _l("For a resident (staff only): their phone number"), validators=[Optional(), Length(max=11)]
    )


class ClaimForm(FlaskForm):
    team_id = SelectField(_l("Claim as"), choices=[], validators=[Optional()])


class FulfilForm(FlaskForm):
    day = DateField(_l("Date"), validators=[DataRequired()])
    start = TimeField(_l("From"), validators=[DataRequired()])
    end = TimeField(_l("To"), validators=[DataRequired()])
    note = TextAreaField(_l("What did you do"), validators=[Optional(), Length(max=500)])


class ConfirmForm(FlaskForm):
    rating = RadioField(
        _l("How was the help?"),
        coerce=int,
        choices=[(n, str(n)) for n in (1, 2, 3, 4, 5)],
        validators=[InputRequired(message=_l("Choose 1 to 5 stars."))],
    )
    comment = TextAreaField(_l("Comment"), validators=[Optional(), Length(max=500)])
