"""Reasons written by the system, stored as a code and parameters, rendered in the reader's
language at read time.

The ledger seals each transaction's ``reason`` text into its hash chain, so the text must
never change after posting; what it holds is therefore a stable code, not a sentence::

    @hours.approved {"log":40,"minutes":120}
    @gift {"from":"吴*燕","note":"买点水果","to":"孙*兰"}

``note`` is always the person's own free text (a gift note, a correction reason): it is
shown as written, in whatever language its author used. Everything else is rendered from
the catalogue. Rows posted before codes existed (English sentences, the demo's Chinese
memo) are recognised by their pattern and rendered the same way; unknown text is shown as it
is, marked with its language so screen readers pronounce it right.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

PREFIX = "@"

# code -> message. Parameters are %(name)s placeholders; ``note`` is appended separately.
MESSAGES: dict[str, Any] = {
    "hours.approved": _l("Volunteer hours #%(log)s approved (%(minutes)s min)"),
    "hours.reversed": _l("Volunteer hours #%(log)s corrected"),
    "reward.redeemed": _l("Reward: %(title)s"),
    "voucher.cancelled": _l("Voucher #%(voucher)s cancelled"),
    "voucher.expired": _l("Voucher #%(voucher)s expired"),
    "voucher.used": _l("Voucher #%(voucher)s used"),
    "settlement": _l("Settlement for %(month)s"),
    "gift": _l("Gift from %(from)s to %(to)s"),
    "grant": _l("Grant: %(category)s"),
    "grant.corrected": _l("Grant #%(grant)s corrected"),
    "mutual_help": _l("Mutual help #%(agreement)s: %(minutes)s min at %(rate)s 福分 an hour"),
    "expiry": _l("福分 credited before %(month)s expired"),
    "demo.opening": _l("Demo data: welcome 福分"),
    "demo.grant": _l("Demo data: grant"),
}

# Parameters that are themselves codes (rendered through a label function at read time).
_LABELS: dict[str, Any] = {}


def register_label(param: str, labeller: Any) -> None:
    """``labeller(value) -> str`` renders a coded parameter (e.g. a grant category)."""
    _LABELS[param] = labeller


def code(name: str, note: str | None = None, **params: Any) -> str:
    """The stored form of a reason: ``@name {json}`` (keys sorted, so it is stable)."""
    if name not in MESSAGES:
        raise KeyError(f"unknown reason code {name!r}")
    if note:
        params["note"] = note
    return PREFIX + name + " " + json.dumps(params, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def parse(reason: str | None) -> tuple[str, dict[str, Any]] | None:
    """(code, params) for a coded or recognised legacy reason; None for free text."""
    if not reason:
        return None
    if reason.startswith(PREFIX):
        name, _, raw = reason[1:].partition(" ")
        if name in MESSAGES:
            try:
                params = json.loads(raw) if raw else {}
            except ValueError:
                return None
            if isinstance(params, dict):
                return name, params
        return None
    for pattern, name, keys in _LEGACY:
        m = pattern.match(reason)
        if m:
            params = {k: v for k, v in zip(keys, m.groups(), strict=True) if v is not None}
            return name, params
    return None


@dataclass(frozen=True)
class Rendered:
    text: str  # in the reader's language (the note, if any, is not part of it)
    note: str | None  # the author's own words, shown as written
    lang: str | None  # for raw text only: "zh-CN" / "en" when it is not the page's language
    note_lang: str | None = None  # the note's language when it is not the page's


def render(reason: str | None, *, page_lang: str | None = None) -> Rendered:
    parsed = parse(reason)
    if parsed is None:
        text = reason or ""
        lang = text_lang(text)
        return Rendered(text, None, lang if lang != page_lang else None)
    name, params = parsed
    note = params.pop("note", None)
    values: dict[str, Any] = {}
    for key, value in params.items():
        labeller = _LABELS.get(key)
        values[key] = labeller(value) if labeller else value
    try:
        text = gettext(str(MESSAGES[name]._args[0]), **values)  # type: ignore[attr-defined]
    except (KeyError, ValueError, TypeError, AttributeError):
        text = gettext(str(MESSAGES[name]))
    note_lang = text_lang(note) if note else None
    return Rendered(text, note or None, None, note_lang if note_lang != page_lang else None)


def render_mapping(values: Mapping[str, Any]) -> str:
    """For messages stored as ``{"msgid": ..., "params": {...}}`` (the inbox)."""
    msgid = values.get("msgid")
    params = dict(values.get("params") or {})
    if not isinstance(msgid, str):
        return ""
    try:
        return gettext(msgid, **params) if params else gettext(msgid)
    except (KeyError, ValueError, TypeError):
        return gettext(msgid)


_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{3,}")


def text_lang(text: str) -> str | None:
    """A guess good enough for lang= on stored free text: any CJK → zh-CN, words → en."""
    if _CJK.search(text):
        return "zh-CN"
    if _LATIN_WORD.search(text):
        return "en"
    return None


# Sentences posted before reason codes (English, from the code of the time).
_LEGACY: list[tuple[re.Pattern[str], str, tuple[str, ...]]] = [
    (re.compile(r"^Volunteer hours #(\d+) approved \((\d+) min\)$"), "hours.approved", ("log", "minutes")),
    (re.compile(r"^Hours #(\d+) reversed: (.*)$", re.S), "hours.reversed", ("log", "note")),
    (re.compile(r"^Reward #\d+: (.*)$", re.S), "reward.redeemed", ("title",)),
    (re.compile(r"^Voucher #(\d+) cancelled$"), "voucher.cancelled", ("voucher",)),
    (re.compile(r"^Voucher #(\d+) expired$"), "voucher.expired", ("voucher",)),
    (re.compile(r"^Voucher #(\d+) used$"), "voucher.used", ("voucher",)),
    (re.compile(r"^Settlement (\d{4}-\d{2}): merchant #\d+$"), "settlement", ("month",)),
    (re.compile(r"^Gift from (.+?) to (.+?)(?:: (.*))?$", re.S), "gift", ("from", "to", "note")),
    (re.compile(r"^Grant \((\w+)\)(?:: (.*))?$", re.S), "grant", ("category", "note")),
    (re.compile(r"^Grant #(\d+) corrected: (.*)$", re.S), "grant.corrected", ("grant", "note")),
    (
        re.compile(r"^Mutual help #(\d+): (\d+) min at (\d+)/h$"),
        "mutual_help",
        ("agreement", "minutes", "rate"),
    ),
    (re.compile(r"^Points credited before (\d{4}-\d{2}) expired$"), "expiry", ("month",)),
    (re.compile(r"^示范数据：开户赠送福分$"), "demo.opening", ()),
]
