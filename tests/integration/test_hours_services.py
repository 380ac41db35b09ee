"""Hour logs against a real database (SQLite and PostgreSQL): record_hours rules,
approval paying through the ledger once, rejection, reversal, and the DB guards."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

import ledger
from portal.audit.models import AuditEvent
from portal.errors import Conflict, Forbidden, NotFound, ServiceError
from portal.people.models import Role
from portal.settings.services import settings_for_update
from portal.volunteering import hour_logs as svc
from portal.volunteering.hours import HourLog, HourStatus
from portal.volunteering.recording import record_hours
from tests.factories import make_community, make_post, make_street, make_team, make_user

UTC = dt.UTC
NOW = dt.datetime(2024, 6, 12, 8, 0, tzinfo=UTC)  # 16:00 in Shanghai


def at(h: int, m: int = 0, day: int = 12) -> dt.datetime:
    """A time on 2024-06-<day> in UTC (Shanghai is +8)."""
    return dt.datetime(2024, 6, day, h, m, tzinfo=UTC)


@pytest.fixture()
def w(session, app):
    with app.app_context():
        street = make_street(session)
        a = make_community(session, street=street)
        b = make_community(session, street=make_street(session))
        yield {
            "a": a,
            "b": b,
            "staff": make_user(session, community=a, roles=(Role.STAFF,)),
            "staff2": make_user(session, community=a, roles=(Role.STAFF,)),
            "staff_b": make_user(session, community=b, roles=(Role.STAFF,)),
            "vol": make_user(session, community=a),
            "vol2": make_user(session, community=a),
            "outsider": make_user(session, community=b),
        }


def verify_ok(session) -> bool:
    return ledger.verify(session).ok


def rec(session, w, who="vol", start=None, end=None, **kw):
    user = w[who]
    kw.setdefault("source", "other")
    kw.setdefault("source_id", None)
    return record_hours(
        session,
        user_id=user.id,
        community_id=w["a"].id,
        started_at=start or at(1),
        ended_at=end or at(2),
        description="扫楼道",
        reported_by=kw.pop("reported_by", user),
        now=NOW,
        **kw,
    )


def refusals(session, action):
    return session.scalars(
        select(AuditEvent).where(AuditEvent.action == action, AuditEvent.outcome == "refused")
    ).all()


def test_record_hours_rounds_down_and_is_pending(session, w):
    log = rec(session, w, start=at(1, 0), end=at(2, 14))
    assert log.status == HourStatus.PENDING
    assert log.minutes == 60  # 74 min rounded down to 15-minute steps
    assert log.reported_by_id == w["vol"].id


def test_record_hours_refuses_bad_times(session, w):
    with pytest.raises(ServiceError) as e:
        rec(session, w, start=at(2), end=at(1))
    assert e.value.code == "ends_before_start"
    with pytest.raises(ServiceError) as e:
        rec(session, w, start=at(8), end=at(9))  # after NOW
    assert e.value.code == "future"
    with pytest.raises(ServiceError) as e:
        rec(session, w, start=at(1, 0), end=at(1, 10))
    assert e.value.code == "too_short"
    with pytest.raises(ServiceError) as e:
        rec(session, w, start=at(15, day=10), end=at(17, day=10))  # 23:00 → 01:00 Shanghai
    assert e.value.code == "spans_days"
    with pytest.raises(ServiceError):
        rec(session, w, source="nonsense")
    assert session.scalars(select(HourLog)).all() == []
    assert refusals(session, "hours.record")


def test_record_hours_refuses_overlap_but_not_for_rejected(session, w):
    first = rec(session, w, start=at(1), end=at(3))
    with pytest.raises(Conflict) as e:
        rec(session, w, start=at(2), end=at(4))
    assert e.value.code == "overlap"
    rec(session, w, start=at(3), end=at(4))  # touching is fine
    rec(session, w, who="vol2", start=at(1), end=at(3))  # someone else is fine
    svc.reject(session, w["staff"], [first.id], "不对")
    rec(session, w, start=at(1), end=at(2))  # the rejected log no longer blocks


def test_daily_cap(session, w):
    settings_for_update(session, w["a"].id).daily_minutes_cap = 120
    session.flush()
    rec(session, w, start=at(0), end=at(1))
    with pytest.raises(ServiceError) as e:
        rec(session, w, start=at(1), end=at(3))
    assert e.value.code == "daily_cap"
    rec(session, w, start=at(1), end=at(2))
    rec(session, w, start=at(1), end=at(2), day=11) if False else None
    record_hours(
        session,
        user_id=w["vol"].id,
        community_id=w["a"].id,
        source="other",
        source_id=None,
        started_at=at(1, day=11),
        ended_at=at(3, day=11),
        description="x",
        reported_by=w["vol"],
        now=NOW,
    )


def test_record_for_someone_else_needs_staff(session, w):
    with pytest.raises(Forbidden):
        rec(session, w, reported_by=w["vol2"])
    with pytest.raises(Forbidden):
        rec(session, w, reported_by=w["staff_b"])
    assert rec(session, w, reported_by=w["staff"]).reported_by_id == w["staff"].id
    with pytest.raises(NotFound):
        rec(session, w, who="outsider")
    # The activities track records for the attendee (it checked the leader itself).
    act = make_activity(session, w)
    log = rec(
        session,
        w,
        reported_by=w["vol2"],
        source="activity",
        source_id=act.id,
        start=at(3),
        end=at(4),
        points_flat=7,
    )
    assert log.activity_id == act.id and log.points_flat == 7


def make_activity(session, w):
    from portal.volunteering.activities import Activity

    act = Activity(
        community_id=w["a"].id,
        title="清洁家园",
        place="小区广场",
        starts_at=at(1, day=5),
        ends_at=at(3, day=5),
        capacity=20,
        signup_deadline=at(0, day=5),
        leader_id=w["staff"].id,
        created_by_id=w["staff"].id,
        code_secret="x" * 32,
    )
    session.add(act)
    session.flush()
    return act


def _balance(session, community, user):
    acc = ledger.find_account(session, community.id, f"user:{user.id}")
    return 0 if acc is None else ledger.balance(session, acc)


def test_approve_pays_once(session, w):
    log = rec(session, w, start=at(1), end=at(2, 30))  # 90 min × 10/h = 15
    res = svc.approve(session, w["staff"], [log.id], now=NOW)
    assert [x.id for x in res.approved] == [log.id]
    assert log.status == HourStatus.APPROVED and log.points == 15 and log.ledger_tx_id
    assert _balance(session, w["a"], w["vol"]) == 15
    again = svc.approve(session, w["staff2"], [log.id], now=NOW)
    assert again.approved == [] and again.skipped == [log]
    assert log.reviewed_by_id == w["staff"].id
    assert _balance(session, w["a"], w["vol"]) == 15
    assert verify_ok(session)


def test_points_use_rate_or_flat(session, w):
    a = rec(session, w, start=at(1), end=at(1, 45), points_per_hour=20)  # 45 × 20 / 60 = 15
    b = rec(session, w, start=at(2), end=at(3), points_flat=3)
    c = rec(session, w, start=at(3), end=at(3, 15), points_per_hour=1)  # 15 × 1 / 60 → 0: approved, not paid
    svc.approve(session, w["staff"], [a.id, b.id, c.id])
    assert (a.points, b.points, c.points) == (15, 3, 0)
    assert c.status == HourStatus.APPROVED and c.ledger_tx_id is None
    assert _balance(session, w["a"], w["vol"]) == 18


def test_nobody_approves_own_hours(session, w):
    own = rec(session, w, who="staff")
    other = rec(session, w)
    with pytest.raises(Forbidden) as e:
        svc.approve(session, w["staff"], [other.id, own.id])
    assert e.value.code == "own_hours"
    assert own.status == other.status == HourStatus.PENDING
    assert refusals(session, "hours.approve")
    with pytest.raises(Forbidden):
        svc.reject(session, w["staff"], [own.id], "no")


def test_db_refuses_self_review(session, w):
    log = rec(session, w)
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            session.execute(
                update(HourLog).where(HourLog.id == log.id).values(reviewed_by_id=HourLog.user_id)
            )


def test_other_community_and_forged_ids(session, w):
    log = rec(session, w)
    with pytest.raises(Forbidden):
        svc.approve(session, w["staff_b"], [log.id])
    with pytest.raises(NotFound):
        svc.approve(session, w["staff"], [log.id, 10**9])
    with pytest.raises(Forbidden):
        svc.approve(session, w["vol2"], [log.id])
    assert log.status == HourStatus.PENDING


def test_reject_needs_reason_and_is_seen(session, w):
    log = rec(session, w)
    with pytest.raises(ServiceError) as e:
        svc.reject(session, w["staff"], [log.id], "   ")
    assert e.value.code == "reason_required"
    svc.reject(session, w["staff"], [log.id], "照片看不清")
    assert log.status == HourStatus.REJECTED and log.reject_reason == "照片看不清"
    # A rejected log is not approved by a later (stale) approve form.
    assert svc.approve(session, w["staff"], [log.id]).approved == []


def test_reverse(session, w):
    log = rec(session, w)
    svc.approve(session, w["staff"], [log.id])
    assert _balance(session, w["a"], w["vol"]) == 10
    with pytest.raises(ServiceError):
        svc.reverse(session, w["staff"], log.id, "")
    svc.reverse(session, w["staff2"], log.id, "重复登记")
    assert log.status == HourStatus.REVERSED and log.reverse_tx_id
    assert _balance(session, w["a"], w["vol"]) == 0
    with pytest.raises(Conflict):
        svc.reverse(session, w["staff"], log.id, "again")
    assert verify_ok(session)


def test_queue_filters(session, w):
    a = rec(session, w, start=at(1), end=at(2))
    act = make_activity(session, w)
    b = rec(session, w, who="vol2", start=at(1, day=5), end=at(2, day=5), source="activity", source_id=act.id)
    rec(session, w, who="staff", start=at(1), end=at(2))
    ids = lambda f: [x.id for x in session.scalars(svc.queue_query(session, w["staff"], f))]  # noqa: E731
    assert ids(svc.QueueFilter(w["a"].id)) == [b.id, a.id]  # never the staff member's own
    assert ids(svc.QueueFilter(w["a"].id, source="activity")) == [b.id]
    assert ids(svc.QueueFilter(w["a"].id, activity_id=act.id)) == [b.id]
    assert ids(svc.QueueFilter(w["a"].id, date_from=dt.date(2024, 6, 10))) == [a.id]
    assert ids(svc.QueueFilter(w["a"].id, date_to=dt.date(2024, 6, 10))) == [b.id]
    with pytest.raises(Forbidden):
        svc.queue_query(session, w["staff_b"], svc.QueueFilter(w["a"].id))


def test_queue_filter_ids_must_be_the_communitys(session, w):
    post_a, post_b = make_post(session, w["a"], title="A岗位"), make_post(session, w["b"], title="B岗位")
    team_a, team_b = make_team(session, w["a"], name="A队"), make_team(session, w["b"], name="B队")
    opts = svc.queue_filter_options(session, svc.QueueFilter(w["a"].id))
    assert [p.id for p in opts.posts] == [post_a.id] and [t.id for t in opts.teams] == [team_a.id]
    svc.validate_filter(session, w["staff"], svc.QueueFilter(w["a"].id, post_id=post_a.id, team_id=team_a.id))
    for flt in (
        svc.QueueFilter(w["a"].id, post_id=post_b.id),
        svc.QueueFilter(w["a"].id, team_id=team_b.id),
        svc.QueueFilter(w["a"].id, activity_id=987654321),
    ):
        with pytest.raises(ServiceError) as e:
            svc.queue_query(session, w["staff"], flt)
        assert e.value.code == "bad_filter" and e.value.status == 400
