"""社区一张表: the community's resident table — filter, tag, view, export, import.

Staff of the community only (street admins of its street too), checked here for every
call. Filters are parsed strictly into a ``TableFilter`` (ints and known flags only; tag
ids must be the community's own) and turned into one SQL query with bound parameters.
Exports and full views of a person are audited; imports are all-or-nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import tempfile
import unicodedata
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import IO, Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, delete, exists, func, or_, select
from sqlalchemy.orm import Session

from core.clock import LOCAL_TZ
from core.db import utcnow
from portal.audit.services import record, record_refusal
from portal.errors import Forbidden, NotFound, ServiceError
from portal.exports import FORMULA_STARTS, safe_cell
from portal.people.masking import mask_id_number, mask_phone
from portal.people.models import Role, RoleAssignment, User
from portal.places.models import Building, Community, Grid
from portal.places.services import get_community
from portal.policy import is_staff
from portal.roster.models import ResidentInfo, Tag, UserTag

PAGE_SIZE = 50
TAG_MAX = 20
MAX_FILTER_TAGS = 20
BULK_MAX = 1000
EXPORT_BATCH = 1000
IMPORT_MAX_BYTES = 2 * 1024 * 1024
IMPORT_MAX_ROWS = 5000
ELDERLY_YEARS = 60
VOLUNTEER_DAYS = 365
FLAGS = ("party", "elderly", "alone", "disabled", "volunteer")
FLAG_LABELS = {
    "party": _l("Party member"),
    "elderly": _l("60 or older"),
    "alone": _l("Lives alone"),
    "disabled": _l("Disability"),
    "volunteer": _l("Volunteer"),
}
_FORMULA_START = FORMULA_STARTS  # a cell starting with one of these is a formula (CSV injection)


def _refuse(session: Session, actor: User, action: str, err: ServiceError, **detail: Any) -> ServiceError:
    record_refusal(session, f"roster.{action}", actor_id=actor.id, code=err.code, **detail)
    return err


def community_for_table(session: Session, actor: User, community_id: int, action: str = "view") -> Community:
    community = get_community(session, community_id)
    if not is_staff(actor, community):
        raise _refuse(
            session,
            actor,
            action,
            Forbidden(_l("Only the staff of this community can do this."), code="not_staff"),
            community_id=community_id,
        )
    return community


# --- filters -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableFilter:
    flags: tuple[str, ...] = ()
    building_id: int | None = None
    grid_id: int | None = None
    tag_ids: tuple[int, ...] = ()
    q: str = ""

    def as_audit(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items() if v}

    def as_args(self) -> list[tuple[str, str]]:
        args = [("flag", f) for f in self.flags] + [("tag", str(t)) for t in self.tag_ids]
        if self.building_id:
            args.append(("building", str(self.building_id)))
        if self.grid_id:
            args.append(("grid", str(self.grid_id)))
        if self.q:
            args.append(("q", self.q))
        return args


def _int_arg(raw: str | None, field_name: str) -> int | None:
    if raw is None or raw == "" or raw == "0":
        return None
    if not raw.isdigit() or len(raw) > 12:
        raise ServiceError(_l("This filter is not valid."), code="bad_filter", field=field_name)
    return int(raw)


def parse_filter(session: Session, community: Community, args: Any) -> TableFilter:
    """Strict parsing of request args (a MultiDict): unknown flags, non-integer ids, other
    communities' tags, buildings or grids are refused with a clear message."""
    flags = tuple(sorted(set(args.getlist("flag"))))
    if any(f not in FLAGS for f in flags):
        raise ServiceError(_l("This filter is not valid."), code="bad_filter", field="flag")
    raw_tags = args.getlist("tag")
    if len(raw_tags) > MAX_FILTER_TAGS:
        raise ServiceError(
            _l("Choose at most %(n)d tags.", n=MAX_FILTER_TAGS), code="bad_filter", field="tag"
        )
    tag_ids = tuple(sorted({t for t in (_int_arg(r, "tag") for r in raw_tags) if t is not None}))
    if tag_ids:
        found = set(
            session.scalars(select(Tag.id).where(Tag.id.in_(tag_ids), Tag.community_id == community.id))
        )
        if found != set(tag_ids):
            raise ServiceError(_l("This filter is not valid."), code="bad_filter", field="tag")
    building_id = _int_arg(args.get("building"), "building")
    if building_id is not None:
        b = session.get(Building, building_id)
        if b is None or b.community_id != community.id:
            raise ServiceError(_l("This filter is not valid."), code="bad_filter", field="building")
    grid_id = _int_arg(args.get("grid"), "grid")
    if grid_id is not None:
        g = session.get(Grid, grid_id)
        if g is None or g.community_id != community.id:
            raise ServiceError(_l("This filter is not valid."), code="bad_filter", field="grid")
    q = " ".join((args.get("q") or "").split())[:40]
    return TableFilter(flags, building_id, grid_id, tag_ids, q)


def _sixty_cutoff(today: dt.date) -> dt.date:
    try:
        return today.replace(year=today.year - ELDERLY_YEARS)
    except ValueError:  # 29 February
        return today.replace(year=today.year - ELDERLY_YEARS, day=28)


def table_query(community: Community, flt: TableFilter, now: dt.datetime | None = None) -> Select[Any]:
    """Residents of ``community`` (home community) matching ``flt``, with their info row."""
    from portal.volunteering.hours import HourLog, HourStatus

    now = now or utcnow()
    today = now.astimezone(LOCAL_TZ).date()
    q = (
        select(User, ResidentInfo)
        .outerjoin(ResidentInfo, ResidentInfo.user_id == User.id)
        .where(User.community_id == community.id, User.is_active.is_(True))
    )
    for flag in flt.flags:
        if flag == "party":
            q = q.where(
                exists().where(
                    RoleAssignment.user_id == User.id,
                    RoleAssignment.role == Role.PARTY_MEMBER,
                    RoleAssignment.community_id == community.id,
                )
            )
        elif flag == "elderly":
            q = q.where(ResidentInfo.birth_date <= _sixty_cutoff(today))
        elif flag == "alone":
            q = q.where(ResidentInfo.lives_alone.is_(True))
        elif flag == "disabled":
            q = q.where(ResidentInfo.disability.is_(True))
        elif flag == "volunteer":
            q = q.where(
                exists().where(
                    HourLog.user_id == User.id,
                    HourLog.community_id == community.id,
                    HourLog.status == HourStatus.APPROVED,
                    HourLog.started_at >= now - dt.timedelta(days=VOLUNTEER_DAYS),
                )
            )
    if flt.building_id:
        q = q.where(User.building_id == flt.building_id)
    if flt.grid_id:
        q = q.where(User.building_id.in_(select(Building.id).where(Building.grid_id == flt.grid_id)))
    for tag_id in flt.tag_ids:
        q = q.where(exists().where(UserTag.user_id == User.id, UserTag.tag_id == tag_id))
    if flt.q:
        pattern = "%" + flt.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        q = q.where(
            or_(
                User.display_name.like(pattern, escape="\\"),
                User.real_name.like(pattern, escape="\\"),
                and_(User.phone.is_not(None), User.phone.like(pattern, escape="\\")),
            )
        )
    return q


@dataclass
class Row:
    user: User
    info: ResidentInfo | None
    building: str = ""
    grid: str = ""
    tags: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)

    @property
    def phone_masked(self) -> str:
        return mask_phone(self.user.phone) or (self.user.landline and mask_phone(self.user.landline)) or ""

    @property
    def id_masked(self) -> str:
        return mask_id_number(self.info.id_number) if self.info and self.info.id_number else ""


def _decorate(
    session: Session, community: Community, pairs: list[tuple[User, ResidentInfo | None]], now: dt.datetime
) -> list[Row]:
    """Building, grid, tags and built-in flags for one page or batch (a few grouped queries)."""
    from portal.volunteering.hours import HourLog, HourStatus

    ids = [u.id for u, _i in pairs]
    if not ids:
        return []
    places = {
        b_id: (b_name, g_name)
        for b_id, b_name, g_name in session.execute(
            select(Building.id, Building.name, Grid.name)
            .join(Grid, Grid.id == Building.grid_id)
            .where(Building.community_id == community.id)
        )
    }
    tags: dict[int, list[str]] = {}
    for user_id, name in session.execute(
        select(UserTag.user_id, Tag.name)
        .join(Tag, Tag.id == UserTag.tag_id)
        .where(UserTag.user_id.in_(ids))
        .order_by(Tag.name)
    ):
        tags.setdefault(user_id, []).append(name)
    party = set(
        session.scalars(
            select(RoleAssignment.user_id).where(
                RoleAssignment.user_id.in_(ids),
                RoleAssignment.role == Role.PARTY_MEMBER,
                RoleAssignment.community_id == community.id,
            )
        )
    )
    volunteers = set(
        session.scalars(
            select(HourLog.user_id)
            .where(
                HourLog.user_id.in_(ids),
                HourLog.community_id == community.id,
                HourLog.status == HourStatus.APPROVED,
                HourLog.started_at >= now - dt.timedelta(days=VOLUNTEER_DAYS),
            )
            .distinct()
        )
    )
    cutoff = _sixty_cutoff(now.astimezone(LOCAL_TZ).date())
    rows = []
    for user, info in pairs:
        flags = []
        if user.id in party:
            flags.append("party")
        if info is not None and info.birth_date is not None and info.birth_date <= cutoff:
            flags.append("elderly")
        if info is not None and info.lives_alone:
            flags.append("alone")
        if info is not None and info.disability:
            flags.append("disabled")
        if user.id in volunteers:
            flags.append("volunteer")
        b_name, g_name = places.get(user.building_id or 0, ("", ""))
        rows.append(Row(user, info, b_name, g_name, tags.get(user.id, []), flags))
    return rows


@dataclass
class Page:
    rows: list[Row]
    total: int
    next_after: int | None


def table_page(
    session: Session,
    actor: User,
    community_id: int,
    flt: TableFilter,
    *,
    after: int = 0,
    now: dt.datetime | None = None,
) -> Page:
    """One page (keyset on user id, so page 1000 costs what page 1 costs) and the total."""
    community = community_for_table(session, actor, community_id)
    now = now or utcnow()
    base = table_query(community, flt, now)
    total = session.scalar(select(func.count()).select_from(base.with_only_columns(User.id).subquery())) or 0
    pairs = list(session.execute(base.where(User.id > after).order_by(User.id).limit(PAGE_SIZE + 1)).tuples())
    more = len(pairs) > PAGE_SIZE
    pairs = pairs[:PAGE_SIZE]
    return Page(
        _decorate(session, community, pairs, now), int(total), pairs[-1][0].id if more and pairs else None
    )


def community_tags(session: Session, community_id: int) -> list[Tag]:
    return list(session.scalars(select(Tag).where(Tag.community_id == community_id).order_by(Tag.name)))


# --- tags ----------------------------------------------------------------------------------


def _clean_tag(name: str | None) -> str:
    value = " ".join(unicodedata.normalize("NFKC", name or "").split())
    if not value:
        raise ServiceError(_l("Enter a tag name."), code="required", field="name")
    if len(value) > TAG_MAX or any(ord(c) < 32 for c in value) or value[0] in _FORMULA_START:
        raise ServiceError(
            _l("A tag has at most %(n)d characters and does not start with = + - @.", n=TAG_MAX),
            code="bad_tag",
            field="name",
        )
    return value


def create_tag(session: Session, actor: User, community_id: int, name: str) -> Tag:
    community = community_for_table(session, actor, community_id, "tag.create")
    name = _clean_tag(name)
    existing = session.scalar(select(Tag).where(Tag.community_id == community.id, Tag.name == name))
    if existing is not None:
        return existing
    tag = Tag(community_id=community.id, name=name, created_by_id=actor.id)
    session.add(tag)
    session.flush()
    record(
        session,
        "roster.tag.create",
        actor_id=actor.id,
        community_id=community.id,
        target=("tag", tag.id),
        name=name,
    )
    return tag


def _tag_of(session: Session, community: Community, tag_id: int) -> Tag:
    tag = session.get(Tag, tag_id)
    if tag is None or tag.community_id != community.id:
        raise NotFound(_l("This tag does not exist."), code="tag_not_found", field="tag_id")
    return tag


def set_tag(
    session: Session, actor: User, community_id: int, tag_id: int, user_ids: list[int], *, on: bool
) -> int:
    """Add (``on``) or remove a tag for one or many residents of the community; returns how
    many rows changed. Ids of people of other communities are refused, nothing changes."""
    community = community_for_table(session, actor, community_id, "tag.set")
    tag = _tag_of(session, community, tag_id)
    ids = sorted({int(i) for i in user_ids})
    if not ids:
        raise ServiceError(_l("Choose at least one resident."), code="empty", field="user_ids")
    if len(ids) > BULK_MAX:
        raise ServiceError(
            _l("At most %(n)d entries at once.", n=BULK_MAX), code="too_many", field="user_ids"
        )
    ours = set(session.scalars(select(User.id).where(User.id.in_(ids), User.community_id == community.id)))
    if ours != set(ids):
        raise _refuse(
            session,
            actor,
            "tag.set",
            Forbidden(
                _l("Some of these people are not residents of this community."), code="other_community"
            ),
            community_id=community.id,
        )
    if on:
        have = set(
            session.scalars(select(UserTag.user_id).where(UserTag.tag_id == tag.id, UserTag.user_id.in_(ids)))
        )
        todo = [i for i in ids if i not in have]
        session.add_all([UserTag(tag_id=tag.id, user_id=i, created_by_id=actor.id) for i in todo])
        changed = len(todo)
    else:
        changed = session.execute(
            delete(UserTag)
            .where(UserTag.tag_id == tag.id, UserTag.user_id.in_(ids))
            .execution_options(synchronize_session=False)
        ).rowcount
    session.flush()
    record(
        session,
        "roster.tag.add" if on else "roster.tag.remove",
        actor_id=actor.id,
        community_id=community.id,
        target=("tag", tag.id),
        count=changed,
        user_ids=ids[:200],
    )
    return int(changed or 0)


# --- one person ----------------------------------------------------------------------------


def person_for_staff(session: Session, actor: User, community_id: int, user_id: int) -> tuple[Row, list[Tag]]:
    """The whole record of one resident, phone and ID number unmasked: staff of the
    person's own community only, and the view is audited."""
    community = community_for_table(session, actor, community_id, "person.view")
    user = session.get(User, user_id)
    if user is None or user.community_id != community.id:
        raise NotFound(_l("This person does not exist."), code="person_not_found")
    info = session.get(ResidentInfo, user.id)
    (row,) = _decorate(session, community, [(user, info)], utcnow())
    record(
        session, "roster.person.view", actor_id=actor.id, community_id=community.id, target=("user", user.id)
    )
    return row, community_tags(session, community.id)


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def normalize_id_number(raw: str | None) -> str | None:
    """A mainland resident ID (18 characters, valid check digit), or None when empty."""
    value = unicodedata.normalize("NFKC", raw or "").strip().upper()
    if not value:
        return None
    if not re.fullmatch(r"[0-9]{17}[0-9X]", value):
        raise ServiceError(_l("Enter an 18-character ID number."), code="bad_id_number", field="id_number")
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    if _ID_CHECK[total % 11] != value[17]:
        raise ServiceError(
            _l("This ID number is not valid (check digit)."), code="bad_id_number", field="id_number"
        )
    return value


def update_info(
    session: Session,
    actor: User,
    community_id: int,
    user_id: int,
    *,
    birth_date: dt.date | None,
    id_number: str | None,
    lives_alone: bool,
    disability: bool,
) -> ResidentInfo:
    community = community_for_table(session, actor, community_id, "person.update")
    user = session.get(User, user_id)
    if user is None or user.community_id != community.id:
        raise NotFound(_l("This person does not exist."), code="person_not_found")
    if (
        birth_date is not None
        and not dt.date(1900, 1, 1) <= birth_date <= utcnow().astimezone(LOCAL_TZ).date()
    ):
        raise ServiceError(_l("Enter a real birth date."), code="bad_birth_date", field="birth_date")
    info = session.get(ResidentInfo, user.id) or ResidentInfo(user_id=user.id)
    session.add(info)
    changed = []
    for name, value in (
        ("birth_date", birth_date),
        ("id_number", normalize_id_number(id_number)),
        ("lives_alone", bool(lives_alone)),
        ("disability", bool(disability)),
    ):
        if getattr(info, name) != value:
            setattr(info, name, value)
            changed.append(name)
    info.updated_by_id = actor.id
    session.flush()
    record(
        session,
        "roster.person.update",
        actor_id=actor.id,
        community_id=community.id,
        target=("user", user.id),
        fields=changed,  # names only: the values are personal data
    )
    return info


# --- export --------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    _l("Name"),
    _l("Building"),
    _l("Grid"),
    _l("Phone"),
    _l("ID number"),
    _l("Birth date"),
    _l("Marks"),
    _l("Tags"),
)


def escape_cell(value: Any) -> Any:
    """Defuse spreadsheet formulas: the one shared escape (``portal.exports.safe_cell``)."""
    return safe_cell(value)


def _export_values(row: Row) -> list[Any]:
    return [
        escape_cell(row.user.real_name or row.user.display_name),
        escape_cell(row.building),
        escape_cell(row.grid),
        row.phone_masked,
        row.id_masked,
        row.info.birth_date.isoformat() if row.info and row.info.birth_date else "",
        " ".join(str(FLAG_LABELS[f]) for f in row.flags),
        escape_cell(" ".join(row.tags)),
    ]


def _batches(
    session: Session, community: Community, flt: TableFilter, now: dt.datetime
) -> Iterator[list[Row]]:
    """Keyset batches: memory stays flat however many rows the table has."""
    after = 0
    base = table_query(community, flt, now)
    while True:
        pairs = list(
            session.execute(base.where(User.id > after).order_by(User.id).limit(EXPORT_BATCH)).tuples()
        )
        if not pairs:
            return
        yield _decorate(session, community, pairs, now)
        after = pairs[-1][0].id
        session.expunge_all()  # the identity map would otherwise keep every row


def start_export(
    session: Session, actor: User, community_id: int, flt: TableFilter, fmt: str
) -> tuple[Community, int]:
    """Check, count and audit an export before it streams (who, when, filter, rows)."""
    if fmt not in ("csv", "xlsx"):
        raise ServiceError(_l("Choose CSV or Excel."), code="bad_format", field="format")
    community = community_for_table(session, actor, community_id, "export")
    rows = (
        session.scalar(
            select(func.count()).select_from(
                table_query(community, flt).with_only_columns(User.id).subquery()
            )
        )
        or 0
    )
    record(
        session,
        "roster.export",
        actor_id=actor.id,
        community_id=community.id,
        format=fmt,
        filter=flt.as_audit(),
        rows=int(rows),
    )
    return community, int(rows)


def export_csv(
    session: Session, community: Community, flt: TableFilter, now: dt.datetime | None = None
) -> Iterator[bytes]:
    now = now or utcnow()
    buf = io.StringIO()
    writer = csv.writer(buf)
    yield "\ufeff".encode()  # Excel opens UTF-8 CSV correctly only with a BOM
    writer.writerow([str(c) for c in EXPORT_COLUMNS])
    for batch in _batches(session, community, flt, now):
        for row in batch:
            writer.writerow(_export_values(row))
        yield buf.getvalue().encode("utf-8")
        buf.seek(0)
        buf.truncate()
    yield buf.getvalue().encode("utf-8")


def export_xlsx(
    session: Session, community: Community, flt: TableFilter, now: dt.datetime | None = None
) -> IO[bytes]:
    """openpyxl's write-only workbook streams rows to a temporary file on disk (memory stays
    flat as rows grow); the caller sends that file and closes it (an xlsx is a zip, so it
    cannot be produced byte by byte)."""
    from openpyxl import Workbook

    now = now or utcnow()
    tmp = tempfile.TemporaryFile()
    try:
        wb = Workbook(write_only=True)
        ws = wb.create_sheet(title="社区一张表")
        ws.append([str(c) for c in EXPORT_COLUMNS])
        for batch in _batches(session, community, flt, now):
            for row in batch:
                ws.append(_export_values(row))
        wb.save(tmp)
        wb.close()
    except BaseException:
        tmp.close()
        raise
    tmp.seek(0)
    return tmp


# --- import --------------------------------------------------------------------------------

IMPORT_COLUMNS = ("姓名", "手机号", "楼栋", "出生日期", "身份证号", "独居", "残疾", "标签")
_YES = {"是", "yes", "y", "1", "true", "✓"}
_NO = {"否", "no", "n", "0", "false", ""}


def import_template() -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "居民"
    ws.append(list(IMPORT_COLUMNS))
    ws.append(["孙桂兰", "", "1号楼", "1948-03-02", "", "是", "否", "低保户 楼栋长"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@dataclass
class ImportProblem:
    row: int
    messages: list[str]


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    problems: list[ImportProblem] = field(default_factory=list)


def _yes_no(value: Any, column: str, errors: list[str]) -> bool:
    text = str(value if value is not None else "").strip().lower()
    if text in _YES:
        return True
    if text not in _NO:
        errors.append(str(_l("%(column)s: write 是 or 否.", column=column)))
    return False


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def import_residents(session: Session, actor: User, community_id: int, data: bytes) -> ImportResult:
    """Read an xlsx in the template's columns; every row is checked first and, if any row
    has a problem, nothing is written and the per-row report is returned. Otherwise people
    are created (without login: enrolled like 代办) or updated by phone, in one go."""
    from openpyxl import load_workbook

    from portal.accounts.policy import try_normalize_phone
    from portal.people.carers import NO_LOGIN

    community = community_for_table(session, actor, community_id, "import")
    if len(data) > IMPORT_MAX_BYTES:
        raise ServiceError(_l("The file is too large (at most 2 MB)."), code="too_large", field="file")
    if not data.startswith(b"PK"):
        raise ServiceError(_l("Upload the Excel (.xlsx) template."), code="not_xlsx", field="file")
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
        sheet = wb.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = [_cell_text(c) for c in next(rows, ())]
    except Exception:  # noqa: BLE001 - any parse failure of an untrusted file is "not a template"
        raise ServiceError(_l("Upload the Excel (.xlsx) template."), code="not_xlsx", field="file") from None
    if tuple(header[: len(IMPORT_COLUMNS)]) != IMPORT_COLUMNS:
        raise ServiceError(
            _l("The columns must be: %(cols)s.", cols="、".join(IMPORT_COLUMNS)),
            code="bad_columns",
            field="file",
        )
    buildings = {
        b.name: b.id for b in session.scalars(select(Building).where(Building.community_id == community.id))
    }
    tags = {t.name: t for t in community_tags(session, community.id)}
    result = ImportResult()
    seen_phones: dict[str, int] = {}
    plan: list[dict[str, Any]] = []
    try:
        for n, raw in enumerate(rows, start=2):
            if n - 1 > IMPORT_MAX_ROWS:
                raise ServiceError(
                    _l("At most %(n)d rows at once.", n=IMPORT_MAX_ROWS), code="too_many_rows", field="file"
                )
            cells = list(raw[: len(IMPORT_COLUMNS)]) + [None] * (len(IMPORT_COLUMNS) - len(raw))
            if all(c is None or _cell_text(c) == "" for c in cells):
                continue
            errors: list[str] = []
            if any(isinstance(c, str) and c.startswith("=") for c in cells):
                errors.append(str(_l("Formulas are not accepted; type the values.")))
            name, phone_raw, building, birth, id_raw, alone, disabled, tag_text = cells
            name = _cell_text(name)
            if not name or len(name) > 40:
                errors.append(str(_l("姓名: required, at most 40 characters.")))
            phone = None
            if _cell_text(phone_raw):
                phone = try_normalize_phone(_cell_text(phone_raw))
                if phone is None:
                    errors.append(str(_l("手机号: not a valid mobile number.")))
                elif phone in seen_phones:
                    errors.append(str(_l("手机号: the same number is on row %(n)d.", n=seen_phones[phone])))
                else:
                    seen_phones[phone] = n
            b_id = buildings.get(_cell_text(building)) if _cell_text(building) else None
            if _cell_text(building) and b_id is None:
                errors.append(str(_l("楼栋: no such building in this community.")))
            birth_date = None
            if isinstance(birth, dt.datetime):
                birth_date = birth.date()
            elif isinstance(birth, dt.date):
                birth_date = birth
            elif _cell_text(birth):
                try:
                    birth_date = dt.date.fromisoformat(_cell_text(birth))
                except ValueError:
                    errors.append(str(_l("出生日期: write it as 1950-01-31.")))
            if (
                birth_date is not None
                and not dt.date(1900, 1, 1) <= birth_date <= utcnow().astimezone(LOCAL_TZ).date()
            ):
                errors.append(str(_l("出生日期: write it as 1950-01-31.")))
            id_number = None
            try:
                id_number = normalize_id_number(_cell_text(id_raw))
            except ServiceError as exc:
                errors.append(f"身份证号: {exc.message}")
            row_tags = []
            for t in _cell_text(tag_text).replace("，", " ").replace(",", " ").split():
                try:
                    row_tags.append(_clean_tag(t))
                except ServiceError as exc:
                    errors.append(f"标签: {exc.message}")
            lives_alone = _yes_no(alone, "独居", errors)
            disability = _yes_no(disabled, "残疾", errors)
            if errors:
                result.problems.append(ImportProblem(n, errors))
                continue
            plan.append(
                dict(
                    row=n,
                    name=name,
                    phone=phone,
                    building_id=b_id,
                    birth_date=birth_date,
                    id_number=id_number,
                    lives_alone=lives_alone,
                    disability=disability,
                    tags=row_tags,
                )
            )
    finally:
        wb.close()
    # Phones already used by someone of another community cannot be imported here.
    phones = [p["phone"] for p in plan if p["phone"]]
    existing = (
        {u.phone: u for u in session.scalars(select(User).where(User.phone.in_(phones)))} if phones else {}
    )
    for p in plan:
        other = existing.get(p["phone"]) if p["phone"] else None
        if other is not None and other.community_id != community.id:
            result.problems.append(
                ImportProblem(
                    p["row"], [str(_l("手机号: this number belongs to a resident of another community."))]
                )
            )
    if result.problems:
        result.problems.sort(key=lambda p: p.row)
        record_refusal(
            session,
            "roster.import",
            actor_id=actor.id,
            community_id=community.id,
            code="rows_invalid",
            bad_rows=len(result.problems),
        )
        return result
    for p in plan:
        user = existing.get(p["phone"]) if p["phone"] else None
        if user is None:
            user = User(
                phone=p["phone"],
                password_hash=NO_LOGIN,
                display_name=p["name"],
                real_name=p["name"],
                community_id=community.id,
                building_id=p["building_id"],
                enrolled_by_id=actor.id,
            )
            session.add(user)
            session.flush()
            result.created += 1
        else:
            if p["building_id"]:
                user.building_id = p["building_id"]
            user.real_name = p["name"]
            result.updated += 1
        info = session.get(ResidentInfo, user.id) or ResidentInfo(user_id=user.id)
        info.birth_date = p["birth_date"] or info.birth_date
        info.id_number = p["id_number"] or info.id_number
        info.lives_alone = p["lives_alone"]
        info.disability = p["disability"]
        info.updated_by_id = actor.id
        session.add(info)
        for name in p["tags"]:
            tag = tags.get(name)
            if tag is None:
                tag = Tag(community_id=community.id, name=name, created_by_id=actor.id)
                session.add(tag)
                session.flush()
                tags[name] = tag
            if session.get(UserTag, (tag.id, user.id)) is None:
                session.add(UserTag(tag_id=tag.id, user_id=user.id, created_by_id=actor.id))
    session.flush()
    record(
        session,
        "roster.import",
        actor_id=actor.id,
        community_id=community.id,
        created=result.created,
        updated=result.updated,
    )
    return result
