"""Forms of the teams feature (CSRF on every one)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from portal.forms import ActionForm as ActionForm
from portal.teams.services import DESCRIPTION_MAX, NAME_MAX


class TeamForm(FlaskForm):
    name = StringField(
        _l("Team name"),
        validators=[DataRequired(), Length(max=NAME_MAX)],
        description=_l("For example: 夕阳红巡逻队"),
    )
    description = TextAreaField(
        _l("Description"),
        validators=[Optional(), Length(max=DESCRIPTION_MAX)],
        description=_l("What the team does and when it meets."),
    )
    submit = SubmitField(_l("Create team"))
