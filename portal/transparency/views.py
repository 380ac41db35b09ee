"""The public transparency page. Read-only and open to anyone (no login): it shows only
community totals and the signed chain heads, never a person's account."""

from __future__ import annotations

from flask import Blueprint, render_template

import ledger
from core.db import read_only
from portal.extensions import db
from portal.places.services import get_community

bp = Blueprint("transparency", __name__, url_prefix="/transparency")


@bp.get("/<int:community_id>")
def community(community_id: int) -> str:
    session = db.session
    with read_only():
        place = get_community(session, community_id)
        totals = ledger.totals(session, place.id)
        latest = ledger.latest_checkpoint(session, place.id)
    return render_template(
        "transparency/community.html",
        community=place,
        totals=totals,
        checkpoint=latest,
        verify_keys=ledger.config().verify_keys,
    )
