"""社区一张表 over HTTP (SQLite and PostgreSQL): filter, mask, tag in bulk, the audited
person page, audited and formula-safe exports, all-or-nothing import; refusals."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.people.models import Role, User
from portal.places.models import Building, Grid
from portal.roster.models import ResidentInfo, Tag, UserTag
from tests.factories import login, make_community, make_street, make_user

ID_OK = "11010519491231002X"


@pytest.fixture()
def w(session, client, app):
    app.config["WTF_CSRF_ENABLED"] = False
    client.set_cookie("fufen_lang", "en")
    street = make_street(session)
    a = make_community(session, street=street)
    b = make_community(session, street=street)
    grid = Grid(community_id=a.id, name="一网格")
    session.add(grid)
    session.flush()
    building = Building(grid_id=grid.id, community_id=a.id, name="1号楼")
    session.add(building)
    session.flush()
    old = make_user(
        session, community=a, roles=(Role.PARTY_MEMBER,), display_name="=HYPERLINK(1)", phone="13812345678"
    )
    old.building_id = building.id
    session.add(
        ResidentInfo(user_id=old.id, birth_date=dt.date(1950, 1, 1), id_number=ID_OK, lives_alone=True)
    )
    young = make_user(session, community=a, display_name="小李")
    session.add(ResidentInfo(user_id=young.id, birth_date=dt.date(1995, 5, 5)))
    session.flush()
    return {
        "a": a,
        "b": b,
        "building": building,
        "old": old,
        "young": young,
        "staff": make_user(session, community=a, roles=(Role.STAFF,)),
        "staff_b": make_user(session, community=b, roles=(Role.STAFF,)),
        "resident": make_user(session, community=a),
        "far": make_user(session, community=b),
    }


def _audit(session, action):
    session.expire_all()
    return session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def test_filter_mask_and_person_page(client, session, w):
    login(client, w["staff"])
    cid = w["a"].id
    page = client.get(f"/community/{cid}/table?flag=elderly&flag=alone&flag=party").data.decode()
    assert "138****5678" in page and "13812345678" not in page and ID_OK not in page
    assert "小李" not in page
    page = client.get(f"/community/{cid}/table?building={w['building'].id}").data.decode()
    assert "小李" not in page and "138****5678" in page
    person = client.get(f"/community/{cid}/table/{w['old'].id}").data.decode()
    assert "13812345678" in person and ID_OK in person
    assert _audit(session, "roster.person.view")[0].target_id == w["old"].id
    # Hostile filters: a clear message, nothing shown of another community.
    for bad in ("flag=drop table", "tag=1 OR 1=1", "building=99999999", "grid=-1", "tag=" + "9" * 40):
        resp = client.get(f"/community/{cid}/table?{bad}")
        assert resp.status_code == 400, bad


def test_bulk_tags(client, session, w):
    login(client, w["staff"])
    cid = w["a"].id
    ids = [w["old"].id, w["young"].id]
    resp = client.post(
        f"/community/{cid}/table/tags", data={"new_tag": "低保户", "user_id": ids, "action": "add"}
    )
    assert resp.status_code == 302
    tag = session.scalar(select(Tag).where(Tag.name == "低保户"))
    assert len(session.scalars(select(UserTag).where(UserTag.tag_id == tag.id)).all()) == 2
    page = client.get(f"/community/{cid}/table?tag={tag.id}").data.decode()
    assert "小李" in page
    client.post(
        f"/community/{cid}/table/tags",
        data={"tag_id": tag.id, "user_id": [w["young"].id], "action": "remove"},
    )
    assert len(session.scalars(select(UserTag).where(UserTag.tag_id == tag.id)).all()) == 1
    # Someone of another community in the batch: refused, nothing changed.
    resp = client.post(
        f"/community/{cid}/table/tags", data={"tag_id": tag.id, "user_id": [w["young"].id, w["far"].id]}
    )
    assert resp.status_code == 403
    assert len(session.scalars(select(UserTag).where(UserTag.tag_id == tag.id)).all()) == 1


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_is_audited_masked_and_formula_safe(client, session, w, fmt):
    login(client, w["staff"])
    resp = client.post(f"/community/{w['a'].id}/table/export", data={"format": fmt, "flag": "elderly"})
    assert resp.status_code == 200
    data = resp.get_data()
    resp.close()  # a file response: the server closes the temporary file with the response
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    else:
        rows = [
            list(r)
            for r in load_workbook(io.BytesIO(data), read_only=True).active.iter_rows(values_only=True)
        ]
    assert len(rows) == 2  # header + the one elderly resident
    assert rows[1][0] == "'=HYPERLINK(1)" and rows[1][3] == "138****5678" and ID_OK not in str(rows)
    (event,) = _audit(session, "roster.export")
    assert event.actor_id == w["staff"].id and event.detail["rows"] == 1
    assert event.detail["filter"] == {"flags": ["elderly"]} and event.detail["format"] == fmt


def _xlsx(rows):
    wb = Workbook()
    ws = wb.active
    ws.append(["姓名", "手机号", "楼栋", "出生日期", "身份证号", "独居", "残疾", "标签"])
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_import_all_or_nothing(client, session, w):
    login(client, w["staff"])
    url = f"/community/{w['a'].id}/table/import"
    assert client.get(f"{url}/template.xlsx").status_code == 200
    bad = _xlsx(
        [
            ["王大爷", "13900001111", "1号楼", "1940-02-03", "", "是", "否", "独居老人"],
            ["", "12345", "9号楼", "昨天", "123", "也许", "否", "=cmd"],
            ["张三", "13900001111", "", "", "", "", "", ""],
            ["李四", w["far"].phone, "", "", "", "", "", ""],
        ]
    )
    resp = client.post(url, data={"file": (io.BytesIO(bad), "r.xlsx")}, content_type="multipart/form-data")
    assert resp.status_code == 422
    page = resp.data.decode()
    assert "Row 3" in page and "Row 4" in page and "Row 5" in page and "Row 2" not in page
    assert session.scalar(select(User).where(User.display_name == "王大爷")) is None
    good = _xlsx([["王大爷", "13900001111", "1号楼", "1940-02-03", ID_OK, "是", "否", "独居老人"]])
    resp = client.post(url, data={"file": (io.BytesIO(good), "r.xlsx")}, content_type="multipart/form-data")
    assert resp.status_code == 302
    user = session.scalar(select(User).where(User.display_name == "王大爷"))
    assert user.community_id == w["a"].id and session.get(ResidentInfo, user.id).lives_alone
    for junk in (b"not a spreadsheet", b"PK" + b"\0" * 5000):
        resp = client.post(
            url, data={"file": (io.BytesIO(junk), "j.xlsx")}, content_type="multipart/form-data"
        )
        assert resp.status_code == 400
    from portal.errors import ServiceError
    from portal.roster.services import import_residents

    with pytest.raises(ServiceError, match="too large"):
        import_residents(session, w["staff"], w["a"].id, b"PK" + b"x" * (3 * 1024 * 1024))


@pytest.mark.parametrize("who", ["resident", "staff_b"])
def test_only_this_communitys_staff(client, session, w, who):
    login(client, w[who])
    cid = w["a"].id
    assert client.get(f"/community/{cid}/table").status_code == 403
    assert client.get(f"/community/{cid}/table/{w['old'].id}").status_code == 403
    assert client.post(f"/community/{cid}/table/export", data={"format": "csv"}).status_code == 403
    assert client.get(f"/community/{cid}/table/import").status_code == 403
    assert [e.outcome for e in _audit(session, "roster.export")] == ["refused"]  # audited, nothing sent
    if who == "staff_b":
        # Their own community's table does not show a person of community a.
        assert client.get(f"/community/{w['b'].id}/table/{w['old'].id}").status_code == 404
