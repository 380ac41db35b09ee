from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, SelectField, StringField, TextAreaField, TimeField
from wtforms.validators import DataRequired, Length, Optional

from portal.forms import ActionForm as ActionForm


class ReportForm(FlaskForm):
    source = SelectField(_l("What was it for"), validators=[DataRequired()], choices=[])
    day = DateField(_l("Date"), validators=[DataRequired()])
    start = TimeField(_l("From"), validators=[DataRequired()])
    end = TimeField(_l("To"), validators=[DataRequired()])
    description = TextAreaField(_l("What did you do"), validators=[DataRequired(), Length(max=2000)])
    photo = FileField(_l("Photo (optional)"), description=_l("JPEG or PNG, at most 5 MB."))


class ReasonForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=500)])
