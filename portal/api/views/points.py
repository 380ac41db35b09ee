"""福分: my statement, the community fund (staff), rewards and redemption, vouchers (mine;
merchants fulfil by code), gifts, and the time exchange."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from flask import current_app
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

import ledger
from portal import reasons
from portal.api.auth import actor, protected
from portal.api.idempotency import current_key, idempotent
from portal.api.pagination import id_cursor, id_from_cursor
from portal.api.schemas import Line, PageArgs, QueryId, Text
from portal.exchange import points
from portal.exchange import services as exchange
from portal.exchange.models import AgreementStatus, ListingKind, ListingStatus
from portal.extensions import db, limiter
from portal.policy import community_for_staff
from portal.rewards import services as rewards
from portal.rewards.models import RewardCategory, VoucherStatus

blp = Blueprint(
    "Points", __name__, url_prefix="/points", description="My 福分 statement; the community fund."
)
store_blp = Blueprint(
    "Rewards", __name__, url_prefix="/rewards", description="The rewards store and redemption."
)
voucher_blp = Blueprint(
    "Vouchers", __name__, url_prefix="/vouchers", description="My vouchers; merchants fulfil."
)
gift_blp = Blueprint(
    "Gifts", __name__, url_prefix="/gifts", description="Give 福分 to a neighbour or family."
)
exchange_blp = Blueprint(
    "Exchange", __name__, url_prefix="/exchange", description="Time exchange (时间互换)."
)
blueprints = (blp, store_blp, voucher_blp, gift_blp, exchange_blp)


def _service_key() -> str:
    """The idempotency key handed to services that keep one of their own: derived from the
    client's Idempotency-Key (so a retry finds the same voucher or gift), else fresh."""
    key = current_key()
    if key is None:
        return uuid.uuid4().hex
    return "api-" + hashlib.sha256(f"{current_user.id}:{key}".encode()).hexdigest()[:40]


def _per_person() -> str:
    # One budget per person across all their tokens and their session.
    return f"api:user:{current_user.id}" if current_user.is_authenticated else "api:anon"


# --- statement and fund -------------------------------------------------------------------------


class StatementLineSchema(Schema):
    entry_id = fields.Integer(required=True)
    tx_id = fields.Integer(required=True)
    kind = fields.String(required=True)
    amount = fields.Integer(required=True, metadata={"description": "Positive: in; negative: out."})
    balance_after = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    reason = fields.Function(
        lambda line: _reason(line.reason).text,
        required=True,
        metadata={"description": "What the line is, in the request's language."},
    )
    reason_code = fields.Function(
        lambda line: _reason_code(line.reason),
        required=True,
        allow_none=True,
        metadata={"description": "A stable code (e.g. hours.approved); null for free text."},
    )
    note = fields.Function(
        lambda line: _reason(line.reason).note,
        required=True,
        allow_none=True,
        metadata={"description": "The person's own words (a gift note, a correction reason), as written."},
    )
    ref_type = fields.String(required=True, allow_none=True)
    ref_id = fields.Integer(required=True, allow_none=True)


def _reason(stored: str) -> reasons.Rendered:
    """Ledger reasons are codes with parameters (portal/reasons.py), rendered per request."""
    return reasons.render(stored)


def _reason_code(stored: str) -> str | None:
    parsed = reasons.parse(stored)
    return parsed[0] if parsed else None


class StatementSchema(Schema):
    community_id = fields.Integer(required=True, allow_none=True)
    balance = fields.Integer(required=True)
    held = fields.Integer(required=True)
    available = fields.Integer(required=True)
    items = fields.List(fields.Nested(StatementLineSchema), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class FundArgs(PageArgs):
    community_id = QueryId(required=True)


def _statement(account_id: int | None, args: dict[str, Any], filters: dict[str, Any]) -> dict[str, Any]:
    if account_id is None:
        return {"items": [], "next_cursor": None}
    before = id_from_cursor(args.get("cursor"), filters)
    page = ledger.statement(db.session, account_id, limit=args["limit"], before=before)
    return {"items": page.lines, "next_cursor": id_cursor(page.next_before, filters)}


@blp.route("/statement", methods=["GET"])
@protected(blp, "points:read")
@blp.arguments(PageArgs, location="query")
@blp.response(200, StatementSchema)
def statement(args: dict[str, Any]) -> dict[str, Any]:
    """My balance, held, available and statement lines in my home community, newest first."""
    user = actor()
    if user.community_id is None:
        summary = points.Summary(None, 0, 0, 0)
    else:
        summary = points.summary(db.session, user.id, user.community_id)
    lines = _statement(summary.account_id, args, {"a": summary.account_id})
    return {
        "community_id": user.community_id,
        "balance": summary.balance,
        "held": summary.held,
        "available": summary.available,
        **lines,
    }


@blp.route("/fund", methods=["GET"])
@protected(blp, "staff:read")
@blp.arguments(FundArgs, location="query")
@blp.response(200, StatementSchema)
def fund(args: dict[str, Any]) -> dict[str, Any]:
    """Staff: the community fund (社区治理发展基金) — balance and statement."""
    community = community_for_staff(db.session, actor(), args["community_id"])
    account_id = ledger.find_account(db.session, community.id, "fund")
    info = ledger.get_account(db.session, account_id) if account_id is not None else None
    balance, held = (info.balance, info.held) if info else (0, 0)
    lines = _statement(account_id, args, {"a": account_id})
    return {
        "community_id": community.id,
        "balance": balance,
        "held": held,
        "available": balance - held,
        **lines,
    }


# --- rewards ------------------------------------------------------------------------------------


class RewardSchema(Schema):
    id = fields.Integer(required=True)
    community_id = fields.Integer(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    category = fields.Enum(RewardCategory, by_value=True, required=True)
    price = fields.Integer(required=True)
    stock = fields.Integer(required=True)
    monthly_limit = fields.Integer(required=True)
    valid_from = fields.Date(required=True, allow_none=True)
    valid_until = fields.Date(required=True, allow_none=True)
    owner = fields.String(required=True, metadata={"description": "The merchant or the community."})
    affordable = fields.Boolean(required=True)


class StoreSchema(Schema):
    items = fields.List(fields.Nested(RewardSchema), required=True)


class StoreArgs(Schema):
    category = fields.Enum(RewardCategory, by_value=True)
    affordable = fields.Boolean(load_default=False)


class VoucherSchema(Schema):
    id = fields.Integer(required=True)
    reward_id = fields.Integer(required=True)
    community_id = fields.Integer(required=True)
    code = fields.String(required=True, metadata={"description": "Show it (or its QR) at the counter."})
    price = fields.Integer(required=True)
    status = fields.Enum(VoucherStatus, by_value=True, required=True)
    expires_at = fields.DateTime(required=True)
    created_at = fields.DateTime(required=True)
    fulfilled_at = fields.DateTime(required=True, allow_none=True)


class VoucherListSchema(Schema):
    items = fields.List(fields.Nested(VoucherSchema), required=True)


class VoucherFulfilSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(1, 32))


@store_blp.route("", methods=["GET"])
@protected(store_blp, "community:read")
@store_blp.arguments(StoreArgs, location="query")
@store_blp.response(200, StoreSchema)
def store(args: dict[str, Any]) -> dict[str, Any]:
    """Rewards of my communities on offer today, cheapest first."""
    category = args.get("category")
    page = rewards.store(
        db.session, actor(), category=category.value if category else None, affordable_only=args["affordable"]
    )
    return {
        "items": [{**_reward(i.reward), "owner": i.owner, "affordable": i.affordable} for i in page.items]
    }


def _reward(r: Any) -> dict[str, Any]:
    keys = "id community_id title description category price stock monthly_limit valid_from valid_until"
    return {k: getattr(r, k) for k in keys.split()}


@store_blp.route("/<int:reward_id>/redeem", methods=["POST"])
@limiter.limit(lambda: str(current_app.config["REDEEM_LIMIT"]), key_func=_per_person)
@protected(store_blp, "points:write")
@idempotent(store_blp)
@store_blp.response(201, VoucherSchema)
def redeem(reward_id: int) -> Any:
    """Redeem a reward: the price is held and a voucher issued (fulfilled at the counter)."""
    return rewards.redeem(db.session, actor(), reward_id, _service_key()).voucher


@voucher_blp.route("", methods=["GET"])
@protected(voucher_blp, "points:read")
@voucher_blp.response(200, VoucherListSchema)
def my_vouchers() -> dict[str, Any]:
    """My vouchers, newest first."""
    return {"items": rewards.my_vouchers(db.session, actor().id)}


@voucher_blp.route("/<int:voucher_id>/cancel", methods=["POST"])
@protected(voucher_blp, "points:write")
@idempotent(voucher_blp)
@voucher_blp.response(200, VoucherSchema)
def cancel_voucher(voucher_id: int) -> Any:
    """Cancel an unused voucher: the points are released and the reward goes back on the shelf."""
    return rewards.cancel(db.session, actor(), voucher_id)


@voucher_blp.route("/fulfil", methods=["POST"])
@protected(voucher_blp, "merchant:write")
@idempotent(voucher_blp)
@voucher_blp.arguments(VoucherFulfilSchema)
@voucher_blp.response(200, VoucherSchema)
def fulfil(data: dict[str, Any]) -> Any:
    """Merchant or staff: accept a voucher by its code; the held points are paid."""
    return rewards.fulfil(db.session, actor(), data["code"])


# --- gifts --------------------------------------------------------------------------------------


class GiftSchema(Schema):
    id = fields.Integer(required=True)
    community_id = fields.Integer(required=True)
    giver_id = fields.Integer(required=True)
    recipient_id = fields.Integer(required=True)
    amount = fields.Integer(required=True)
    note = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    direction = fields.String(required=True, metadata={"enum": ["in", "out"]})


class GiftListSchema(Schema):
    items = fields.List(fields.Nested(GiftSchema), required=True)


class NewGiftSchema(Schema):
    mobile = fields.String(required=True, validate=validate.Length(1, 32))
    amount = fields.Integer(required=True, strict=True, validate=validate.Range(1, 10**9))
    note = Text(200, optional=True, load_default="")


def _gift(g: Any, me: int) -> dict[str, Any]:
    keys = "id community_id giver_id recipient_id amount note created_at"
    return {**{k: getattr(g, k) for k in keys.split()}, "direction": "out" if g.giver_id == me else "in"}


@gift_blp.route("", methods=["GET"])
@protected(gift_blp, "points:read")
@gift_blp.response(200, GiftListSchema)
def my_gifts() -> dict[str, Any]:
    """Gifts I gave and received, newest first."""
    me = actor().id
    return {"items": [_gift(g, me) for g in exchange.my_gifts(db.session, me, limit=100)]}


@gift_blp.route("", methods=["POST"])
@limiter.limit(
    lambda: str(current_app.config.get("GIFT_LIMIT", "10 per minute; 50 per day")), key_func=_per_person
)
@protected(gift_blp, "points:write")
@idempotent(gift_blp)
@gift_blp.arguments(NewGiftSchema)
@gift_blp.response(201, GiftSchema)
def give(data: dict[str, Any]) -> dict[str, Any]:
    """Give 福分 to a member of my community, found by mobile number (daily limits apply)."""
    me = actor()
    gift = exchange.give(db.session, me, data["mobile"], data["amount"], data["note"], _service_key())
    return _gift(gift, me.id)


# --- time exchange ------------------------------------------------------------------------------


class ListingSchema(Schema):
    id = fields.Integer(required=True)
    community_id = fields.Integer(required=True)
    owner_id = fields.Integer(required=True)
    kind = fields.Enum(ListingKind, by_value=True, required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    est_minutes = fields.Integer(required=True)
    status = fields.Enum(ListingStatus, by_value=True, required=True)
    created_at = fields.DateTime(required=True)


class ListingListSchema(Schema):
    items = fields.List(fields.Nested(ListingSchema), required=True)


class NewListingSchema(Schema):
    kind = fields.Enum(ListingKind, by_value=True, required=True)
    title = Line(80, required=True)
    description = Text(2000, optional=True, load_default="")
    est_minutes = fields.Integer(required=True, strict=True, validate=validate.Range(1, 24 * 60))


class AgreementSchema(Schema):
    id = fields.Integer(required=True)
    community_id = fields.Integer(required=True)
    listing_id = fields.Integer(required=True)
    receiver_id = fields.Integer(required=True)
    provider_id = fields.Integer(required=True)
    status = fields.Enum(AgreementStatus, by_value=True, required=True)
    reported_minutes = fields.Integer(required=True, allow_none=True)
    paid_minutes = fields.Integer(required=True, allow_none=True)
    points = fields.Integer(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    done_at = fields.DateTime(required=True, allow_none=True)
    closed_at = fields.DateTime(required=True, allow_none=True)


class AgreementListSchema(Schema):
    items = fields.List(fields.Nested(AgreementSchema), required=True)


class DoneSchema(Schema):
    minutes = fields.Integer(required=True, strict=True, validate=validate.Range(1, 24 * 60))


@exchange_blp.route("/listings", methods=["GET"])
@protected(exchange_blp, "community:read")
@exchange_blp.response(200, ListingListSchema)
def listings() -> dict[str, Any]:
    """Open offers and requests in my home community, newest first."""
    return {"items": exchange.open_listings(db.session, actor())}


@exchange_blp.route("/listings", methods=["POST"])
@protected(exchange_blp, "points:write")
@exchange_blp.arguments(NewListingSchema)
@exchange_blp.response(201, ListingSchema)
def new_listing(data: dict[str, Any]) -> Any:
    """Offer time (offer) or ask for help (request)."""
    return exchange.create_listing(
        db.session, actor(), data["kind"], data["title"], data["description"], data["est_minutes"]
    )


@exchange_blp.route("/listings/<int:listing_id>/respond", methods=["POST"])
@protected(exchange_blp, "points:write")
@exchange_blp.response(201, AgreementSchema)
def respond(listing_id: int) -> Any:
    """Take a request or ask for an offer: an agreement between receiver and provider."""
    return exchange.respond(db.session, actor(), listing_id)


@exchange_blp.route("/agreements", methods=["GET"])
@protected(exchange_blp, "points:read")
@exchange_blp.response(200, AgreementListSchema)
def agreements() -> dict[str, Any]:
    """My agreements, newest first."""
    return {"items": exchange.my_agreements(db.session, actor().id)}


@exchange_blp.route("/agreements/<int:agreement_id>/done", methods=["POST"])
@protected(exchange_blp, "points:write")
@exchange_blp.arguments(DoneSchema)
@exchange_blp.response(200, AgreementSchema)
def done(data: dict[str, Any], agreement_id: int) -> Any:
    """The provider reports the time spent."""
    return exchange.mark_done(db.session, actor(), agreement_id, data["minutes"])


@exchange_blp.route("/agreements/<int:agreement_id>/pay", methods=["POST"])
@protected(exchange_blp, "points:write")
@idempotent(exchange_blp)
@exchange_blp.response(200, AgreementSchema)
def pay(agreement_id: int) -> Any:
    """The receiver approves the time and pays the provider in 福分."""
    return exchange.approve_and_pay(db.session, actor(), agreement_id)


@exchange_blp.route("/agreements/<int:agreement_id>/cancel", methods=["POST"])
@protected(exchange_blp, "points:write")
@exchange_blp.response(200, AgreementSchema)
def cancel_agreement(agreement_id: int) -> Any:
    """Either party cancels an agreement before payment."""
    return exchange.cancel_agreement(db.session, actor(), agreement_id)
