"""Forms of 三单. Choices are filled by the views; the services check everything again."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional


class NeedForm(FlaskForm):
    category = SelectField(_l("What kind of help"), validators=[DataRequired()])
    title = StringField(_l("What do you need?"), validators=[DataRequired(), Length(max=80)])
    description = TextAreaField(_l("Details"), validators=[Optional(), Length(max=2000)])
    urgency = RadioField(_l("How urgent"), default="normal", validators=[DataRequired()])
    building_id = SelectField(_l("Building"), coerce=int, validate_choice=False, validators=[Optional()])
    photo = FileField(_l("Photo (optional)"))


class MatchForm(FlaskForm):
    carrier = SelectField(_l("Who carries it out"), validators=[DataRequired()], validate_choice=False)
    owner_id = SelectField(_l("Staff member responsible"), coerce=int, validate_choice=False)
    deadline = DateField(_l("Deadline"), validators=[DataRequired()])
    title = StringField(_l("Project title (optional)"), validators=[Optional(), Length(max=80)])


class NoteForm(FlaskForm):
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=500)])


class ConfirmForm(FlaskForm):
    rating = RadioField(
        _l("How was the help?"),
        coerce=int,
        choices=[(n, str(n)) for n in (1, 2, 3, 4, 5)],
        validators=[InputRequired(message=_l("Choose 1 to 5 stars."))],
    )
    comment = TextAreaField(_l("Comment"), validators=[Optional(), Length(max=500)])


class ResourceForm(FlaskForm):
    kind = SelectField(_l("Kind"), validators=[DataRequired()])
    title = StringField(_l("Name"), validators=[DataRequired(), Length(max=80)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])
    capacity = IntegerField(
        _l("Capacity"),
        validators=[InputRequired(), NumberRange(min=1, max=100000)],
        description=_l("People, places or sessions a month."),
    )
    hours = StringField(
        _l("Opening hours"),
        validators=[Optional(), Length(max=100)],
        description=_l("For example: 每周六 9:00–11:30"),
    )


class ActionForm(FlaskForm):
    """A bare POST button: only the CSRF token."""
