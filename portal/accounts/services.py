"""Account operations: sign-up, log-in, password change.

Plain values in, a Session passed by the caller; refusals are ``ServiceError`` with
translated messages; nothing here commits (the request does, once). Failures that must be
remembered although the request rolls back are audited with ``record_refusal``.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from core.db import utcnow
from portal.accounts import passwords
from portal.accounts.policy import check_password_policy, normalize_phone
from portal.accounts.throttle import Device, LoginThrottle, check_budget, spend_budget
from portal.audit.services import record, record_refusal
from portal.errors import ServiceError
from portal.people.masking import mask_id_number, mask_phone  # noqa: F401  (re-exported)
from portal.people.models import Role, RoleAssignment, User
from portal.places.models import Community, Street

NAME_MAX = 40

BAD_CREDENTIALS = _l("The mobile number or password is not correct.")
# No fixed wait in the text: the windows are configurable (15 minutes per address, an
# hour for the whole account by default).
THROTTLED = _l(
    "Too many failed attempts. Please wait a while and try again, "
    "or log in from a phone you have used here before."
)


class Throttled(ServiceError):
    status = 429


# --- sign-up ----------------------------------------------------------------------------


def open_communities(session: Session) -> list[tuple[Street, list[Community]]]:
    """Communities a resident may choose at sign-up, grouped by street."""
    rows = session.scalars(
        select(Community)
        .join(Community.street)
        .where(Community.is_open.is_(True))
        .options(selectinload(Community.street))
        .order_by(Street.name, Community.name)
    ).all()
    return [(street, list(group)) for street, group in groupby(rows, key=lambda c: c.street)]


def _clean_name(value: str | None, *, field: str, required: bool) -> str | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise ServiceError(
                _l("Enter the name your neighbours know you by."),
                status=422,
                field=field,
                code="name_missing",
            )
        return None
    if len(value) > NAME_MAX:
        raise ServiceError(
            _l("Use at most %(max)d characters.", max=NAME_MAX), status=422, field=field, code="name_long"
        )
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ServiceError(
            _l("Use letters, digits and punctuation only."), status=422, field=field, code="name_invalid"
        )
    return value


def clean_name(value: str | None, *, field: str, required: bool) -> str | None:
    """The rules for a person's name, for features that enrol people (代办)."""
    return _clean_name(value, field=field, required=required)


def _duplicate_phone() -> ServiceError:
    # Says no more than needed: no name, no community, nothing about the other account.
    return ServiceError(
        _l("This mobile number is already registered. Log in instead, or ask your community staff for help."),
        code="phone_taken",
        status=422,
        field="phone",
    )


def phone_taken(session: Session, phone: str) -> bool:
    return session.scalar(select(User.id).where(User.phone == phone)) is not None


def register(
    session: Session,
    *,
    phone: str,
    password: str,
    display_name: str,
    real_name: str | None,
    community_id: int | None,
) -> User:
    """Create a resident account in an open community (RESIDENT there via community_id)."""
    phone = normalize_phone(phone)
    display = _clean_name(display_name, field="display_name", required=True)
    real = _clean_name(real_name, field="real_name", required=False)
    community = session.get(Community, community_id) if community_id else None
    if community is None or not community.is_open:
        raise ServiceError(
            _l("Choose your community from the list."),
            code="community_invalid",
            status=422,
            field="community",
        )
    check_password_policy(password, phone=phone)
    if phone_taken(session, phone):
        raise _duplicate_phone()
    user = User(
        phone=phone,
        password_hash=passwords.hash_password(password),
        display_name=display,
        real_name=real,
        community_id=community.id,
    )
    try:
        # A concurrent sign-up with the same number loses at the unique index here (on
        # PostgreSQL the INSERT waits for the other transaction, then fails), inside a
        # savepoint so the request can still answer with a friendly message.
        with session.begin_nested():
            session.add(user)
            session.flush()
    except IntegrityError:
        raise _duplicate_phone() from None
    record(
        session,
        "signup",
        actor_id=user.id,
        community_id=community.id,
        target=("user", user.id),
        phone=mask_phone(phone),
    )
    return user


# --- log-in -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginResult:
    user: User
    known_device: bool


def authenticate(
    session: Session, *, phone: str, password: str, ip: str, device: Device | None = None
) -> LoginResult:
    """Check a phone and password, throttled per IP, per account and per device.

    Unknown numbers and wrong passwords get the same message and take the same time
    (``burn_time``), so neither tells which numbers have accounts.
    """
    try:
        phone = normalize_phone(phone)
    except ServiceError:
        raise ServiceError(BAD_CREDENTIALS, code="bad_credentials", status=401) from None
    user = session.scalar(select(User).where(User.phone == phone))
    throttle = LoginThrottle(phone, ip, device, user.id if user else None)
    blocked = throttle.exhausted()
    if blocked:
        record_refusal(
            session,
            "login.throttled",
            actor_id=user.id if user else None,
            phone=mask_phone(phone),
            budgets=blocked,
        )
        raise Throttled(THROTTLED, code="throttled")
    if user is None:
        passwords.burn_time(password)
        ok = False
    else:
        ok = passwords.verify_password(user.password_hash, password) and user.is_active
    if not ok:
        throttle.failed()
        record_refusal(
            session,
            "login.failed",
            actor_id=user.id if user else None,
            phone=mask_phone(phone),
            reason="no_account" if user is None else "bad_password",
        )
        raise ServiceError(BAD_CREDENTIALS, code="bad_credentials", status=401)
    assert user is not None
    throttle.succeeded()
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    user.last_login_at = utcnow()
    record(
        session, "login", actor_id=user.id, community_id=user.community_id, known_device=throttle.known_device
    )
    return LoginResult(user=user, known_device=throttle.known_device)


def logged_out(session: Session, user: User) -> None:
    record(session, "logout", actor_id=user.id, community_id=user.community_id)


def ended_other_sessions(session: Session, user: User, count: int) -> None:
    record(session, "sessions.end_others", actor_id=user.id, community_id=user.community_id, count=count)


# --- password change --------------------------------------------------------------------


def change_password(session: Session, user: User, *, current_password: str, new_password: str) -> None:
    """Set a new password and end every other session (``session_version`` + 1).

    Wrong current passwords are throttled per user, so a stolen session cannot be used
    to guess the password.
    """
    limit = str(current_app.config["LOGIN_LIMIT_PER_ACCOUNT"])
    if not check_budget("password-change", limit, str(user.id)):
        record_refusal(session, "password.change", actor_id=user.id, reason="throttled")
        raise Throttled(THROTTLED, code="throttled", field="current_password")
    if not passwords.verify_password(user.password_hash, current_password or ""):
        spend_budget("password-change", limit, str(user.id))
        record_refusal(session, "password.change", actor_id=user.id, reason="bad_current_password")
        raise ServiceError(
            _l("Your current password is not correct."),
            code="bad_current_password",
            status=422,
            field="current_password",
        )
    check_password_policy(new_password, phone=user.phone, field="new_password")
    if passwords.verify_password(user.password_hash, new_password):
        raise ServiceError(
            _l("Choose a password different from your current one."),
            code="password_unchanged",
            status=422,
            field="new_password",
        )
    user.password_hash = passwords.hash_password(new_password)
    user.password_changed_at = utcnow()
    user.session_version = (user.session_version or 1) + 1
    session.flush()
    record(session, "password.change", actor_id=user.id, community_id=user.community_id)


# --- my account ------------------------------------------------------------------------

ROLE_LABELS = {
    Role.RESIDENT: _l("Resident"),
    Role.PARTY_MEMBER: _l("Party member"),
    Role.STAFF: _l("Community staff"),
    Role.MERCHANT: _l("Merchant"),
    Role.STREET_ADMIN: _l("Street administrator"),
    Role.SYSADMIN: _l("System administrator"),
}


@dataclass(frozen=True)
class RoleView:
    role: Role
    label: str
    place: str


def roles_held(session: Session, user: User) -> list[RoleView]:
    """Every role the user holds, with the place it is held in (home community first)."""
    out: list[RoleView] = []
    if user.community is not None:
        out.append(RoleView(Role.RESIDENT, str(ROLE_LABELS[Role.RESIDENT]), user.community.name))
    assignments = session.scalars(
        select(RoleAssignment)
        .where(RoleAssignment.user_id == user.id)
        .options(selectinload(RoleAssignment.community))
        .order_by(RoleAssignment.id)
    ).all()
    street_ids = {a.street_id for a in assignments if a.street_id is not None}
    streets = (
        {s.id: s.name for s in session.scalars(select(Street).where(Street.id.in_(street_ids)))}
        if street_ids
        else {}
    )
    for a in assignments:
        if a.role == Role.RESIDENT and a.community_id == user.community_id:
            continue
        if a.community is not None:
            place = a.community.name
        elif a.street_id is not None:
            place = streets.get(a.street_id, "")
        else:
            place = str(_l("All communities"))
        out.append(RoleView(a.role, str(ROLE_LABELS.get(a.role, a.role.value)), place))
    return out
