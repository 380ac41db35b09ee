"""Forms of the posts feature (CSRF on every one). Limits mirror the services', which
check again."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from portal.forms import ActionForm as ActionForm
from portal.ids import coerce_id
from portal.posts.services import DUTIES_MAX, NOTE_MAX, PLACES_MAX, POINTS_MAX, SCHEDULE_MAX, TITLE_MAX


class PostForm(FlaskForm):
    title = StringField(
        _l("Title"),
        validators=[DataRequired(), Length(max=TITLE_MAX)],
        description=_l("For example: 宣传员, 调解员, 楼栋长"),
    )
    duties = TextAreaField(
        _l("Duties"),
        validators=[Optional(), Length(max=DUTIES_MAX)],
        description=_l("What the volunteer does in this post."),
    )
    grid_id = SelectField(_l("Grid"), coerce=coerce_id, validate_choice=False)
    building_id = SelectField(_l("Building"), coerce=coerce_id, validate_choice=False)
    schedule = StringField(
        _l("Schedule"),
        validators=[Optional(), Length(max=SCHEDULE_MAX)],
        description=_l("For example: every Saturday morning"),
    )
    places = IntegerField(
        _l("Places"), default=1, validators=[InputRequired(), NumberRange(min=1, max=PLACES_MAX)]
    )
    point_rule = RadioField(
        _l("Points"),
        default="hour",
        choices=[("hour", _l("Per hour")), ("duty", _l("Per duty")), ("none", _l("No points"))],
        validators=[DataRequired()],
    )
    points = IntegerField(
        _l("Points each"), default=10, validators=[Optional(), NumberRange(min=0, max=POINTS_MAX)]
    )
    submit = SubmitField(_l("Save"))


class NoteForm(FlaskForm):
    note = StringField(_l("Note"), validators=[Optional(), Length(max=NOTE_MAX)])
    submit = SubmitField(_l("Confirm"))
