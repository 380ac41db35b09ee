"""In-app inbox plus a pluggable delivery channel (SMS/WeChat later; log-only now)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.notifications.delivery import configure_sender
    from portal.notifications.views import bp

    app.register_blueprint(bp)
    configure_sender(app)

    @app.context_processor
    def _bell() -> dict[str, object]:
        """``inbox_unread()`` for the header bell: one indexed COUNT, only when called."""

        def inbox_unread() -> int:
            from flask_login import current_user
            from sqlalchemy.exc import SQLAlchemyError

            from portal.extensions import db
            from portal.notifications.services import unread_count

            if not getattr(current_user, "is_authenticated", False):
                return 0
            try:
                return unread_count(db.session, current_user.id)
            except SQLAlchemyError:  # an error page must still render when the database is down
                return 0

        return {"inbox_unread": inbox_unread}
