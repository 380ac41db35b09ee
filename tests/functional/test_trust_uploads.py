"""Issue 9 #9: an uploaded picture is kept only when its request commits, and uploads
have a per-user budget. Goes through the one upload routine (portal.uploads.store_image)
that hour photos and reward pictures share."""

from __future__ import annotations

import datetime as dt
import io

from sqlalchemy import select

from core.db import utcnow
from portal.people.models import Role
from portal.volunteering.hours import HourLog
from portal.volunteering.posts import ClaimStatus, PostClaim, PostStatus, ServicePost
from tests.conftest import make_test_app
from tests.factories import login, make_community, make_user
from tests.image_samples import png


def _world(session):
    community = make_community(session)
    staff = make_user(session, community=community, roles=(Role.STAFF,))
    vol = make_user(session, community=community)
    post = ServicePost(
        community_id=community.id, title="楼栋长", places=2, status=PostStatus.OPEN, created_by_id=staff.id
    )
    session.add(post)
    session.flush()
    session.add(
        PostClaim(post_id=post.id, user_id=vol.id, community_id=community.id, status=ClaimStatus.ACTIVE)
    )
    session.flush()
    return vol, post


def _form(post, **over):
    day = (utcnow() - dt.timedelta(days=1)).date().isoformat()
    data = {
        "source": f"post:{post.id}",
        "day": day,
        "start": "09:00",
        "end": "10:30",
        "description": "巡查楼道",
    }
    data.update(over)
    data["photo"] = (io.BytesIO(png()), "photo.png")
    return data


def _report(client, data):
    return client.post("/hours/report", data=data, content_type="multipart/form-data")


def test_a_refused_request_leaves_no_file(db_url, engine, connection, session, tmp_path):
    app = make_test_app(
        DATABASE_URL=db_url, DATABASE_ENGINE=engine, DATABASE_BIND=connection, UPLOAD_FOLDER=str(tmp_path)
    )
    client = app.test_client()
    vol, post = _world(session)
    login(client, vol)
    # Valid picture, refused report (2001 is far beyond the back-dating limit; a post the
    # person does not hold): nothing stays on disk.
    assert _report(client, _form(post, day="2001-01-01")).status_code == 400
    assert _report(client, _form(post, source="post:999999")).status_code in (400, 404)
    assert list(tmp_path.iterdir()) == []
    # Accepted report: its photo is kept and belongs to the row.
    assert _report(client, _form(post)).status_code == 302
    log = session.scalar(select(HourLog).where(HourLog.user_id == vol.id))
    assert [p.name for p in tmp_path.iterdir()] == [log.photo_path]


def test_uploads_have_a_per_user_budget(db_url, engine, connection, session, tmp_path):
    app = make_test_app(
        DATABASE_URL=db_url, DATABASE_ENGINE=engine, DATABASE_BIND=connection,
        UPLOAD_FOLDER=str(tmp_path), UPLOAD_LIMIT_PER_USER="2 per hour", BABEL_DEFAULT_LOCALE="en",
    )  # fmt: skip
    client = app.test_client()
    vol, post = _world(session)
    login(client, vol)
    statuses = [_report(client, _form(post, day="2001-01-01")).status_code for _ in range(3)]
    assert statuses == [400, 400, 429]
    assert list(tmp_path.iterdir()) == []
