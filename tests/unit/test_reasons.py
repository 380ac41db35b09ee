"""Reasons stored as codes and rendered in the reader's language (portal/reasons.py), the
one date format (portal/ui/dates.py) and the English catalogue's rule for 福分."""

from __future__ import annotations

import datetime as dt

import pytest
from flask_babel import force_locale

from portal import reasons
from portal.i18n import english_text
from portal.ui.dates import format_date, format_datetime, format_time
from tests.conftest import make_test_app


@pytest.fixture(scope="module")
def app():
    from portal.i18n import compile_catalogs

    compile_catalogs()
    return make_test_app()


def _render(app, reason: str, locale: str, page_lang: str | None = None) -> reasons.Rendered:
    with app.test_request_context(), force_locale(locale):
        return reasons.render(reason, page_lang=page_lang)


def test_a_code_is_stable_and_renders_in_each_language(app) -> None:
    stored = reasons.code("hours.approved", log=40, minutes=120)
    assert stored == '@hours.approved {"log":40,"minutes":120}'
    assert _render(app, stored, "en").text == "Volunteer hours #40 approved (120 min)"
    assert _render(app, stored, "zh_Hans_CN").text == "志愿服务时长 #40 已审核通过（120 分钟）"


def test_the_persons_own_words_stay_as_written_and_carry_their_language(app) -> None:
    stored = reasons.code("gift", note="孙阿姨，买点水果", **{"from": "吴*燕", "to": "孙*兰"})
    shown = _render(app, stored, "en", page_lang="en")
    assert shown.text == "Gift from 吴*燕 to 孙*兰" and shown.note == "孙阿姨，买点水果"
    assert shown.note_lang == "zh-CN"
    assert _render(app, stored, "zh_Hans_CN", page_lang="zh-CN").note_lang is None


@pytest.mark.parametrize(
    ("legacy", "zh"),
    [
        ("Voucher #1 used", "兑换券 #1 已使用"),
        ("Volunteer hours #40 approved (120 min)", "志愿服务时长 #40 已审核通过（120 分钟）"),
        ("Gift from 吴*燕 to 孙*兰: 买水果", "吴*燕 转赠给 孙*兰"),
        ("示范数据：开户赠送福分", "示范数据：开户赠送福分"),
    ],
)
def test_rows_written_before_codes_render_in_the_readers_language(app, legacy: str, zh: str) -> None:
    assert _render(app, legacy, "zh_Hans_CN").text == zh
    assert "示范数据" not in _render(app, legacy, "en").text


def test_unknown_text_is_shown_as_is_and_marked_when_foreign(app) -> None:
    shown = _render(app, "调解3号楼邻里噪音纠纷", "en", page_lang="en")
    assert shown.text == "调解3号楼邻里噪音纠纷" and shown.lang == "zh-CN"
    assert _render(app, "@not.a.code {}", "en").text == "@not.a.code {}"  # never a crash
    assert _render(app, '@gift {"from":', "en").text == '@gift {"from":'


def test_an_unknown_code_cannot_be_stored() -> None:
    with pytest.raises(KeyError):
        reasons.code("made.up")


def test_one_date_format_in_community_time() -> None:
    when = dt.datetime(2026, 12, 31, 16, 30, tzinfo=dt.UTC)  # New Year's Day in Shanghai
    assert format_date(when) == "2027-01-01"
    assert format_datetime(when) == "2027-01-01\u00a000:30"
    assert format_time(when) == "00:30"
    assert format_date(dt.date(2026, 12, 4)) == "2026-12-04"
    assert format_datetime(None) == ""


def test_english_text_for_msgids_with_chinese() -> None:
    assert english_text("%(n)d 福分 expired") == "%(n)d Fufen points expired"
    assert english_text("For example: 垃圾分类宣传") == "For example: waste sorting awareness"
    assert english_text("Plain English") is None
