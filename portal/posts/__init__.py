"""服务岗位: posts that staff publish and volunteers claim."""

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.posts.views import bp, my_post_claims

    app.register_blueprint(bp)
    # For templates/posts/_my_claims.html when the including page did not pass ``claims``.
    app.jinja_env.globals["my_post_claims"] = my_post_claims
