"""Forms every feature shares."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SubmitField


class ActionForm(FlaskForm):
    """A bare POST button (approve, withdraw, revoke…): only the CSRF token."""

    submit = SubmitField(_l("Confirm"))
