"""Flask extensions, created unbound here and bound in ``create_app`` via ``init_app``."""

from __future__ import annotations

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from portal.database import Database

db = Database()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
# Default limits stay off: only the routes that need a budget (login, sign-up,
# redemption) declare one, with their own keys (per IP and per account).
limiter = Limiter(key_func=get_remote_address, default_limits=[])
