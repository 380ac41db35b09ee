"""公开透明 — a public page per community: 福分 issued, redeemed and in circulation, and the
latest signed checkpoint of its ledger (docs/ledger.md, "Signed checkpoints")."""

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.transparency.views import bp

    app.register_blueprint(bp)
