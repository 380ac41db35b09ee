"""Accounts: sign-up, log-in/out, my account, password change (blueprint ``accounts``).

``mask_phone`` / ``mask_id_number`` (``portal.people.masking``) and ``normalize_phone``
(``portal.accounts.policy``) are for every feature to use.
"""

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.accounts import trust_views  # noqa: F401  (routes on the same blueprint)
    from portal.accounts.views import bp, small_bodies

    app.register_blueprint(bp)
    app.before_request_funcs.setdefault(None, []).insert(0, small_bodies)
