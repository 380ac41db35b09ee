"""Phone normalisation, password policy and masking: plain functions, no database."""

from __future__ import annotations

import pytest

from portal.accounts.policy import (
    PASSWORD_MAX,
    check_password_policy,
    common_passwords,
    is_common_password,
    normalize_phone,
)
from portal.errors import ServiceError
from portal.people.masking import mask_id_number, mask_phone


@pytest.mark.parametrize(
    "raw",
    [
        "13812345678",
        " 138 1234 5678 ",
        "138-1234-5678",
        "+86 138 1234 5678",
        "+8613812345678",
        "0086 13812345678",
        "8613812345678",
        "(138) 1234-5678",
        "１３８１２３４５６７８",
        "＋８６ １３８１２３４５６７８",
        "138.1234.5678",
    ],
)
def test_normalize_phone_accepts_common_spellings(raw):
    assert normalize_phone(raw) == "13812345678"


@pytest.mark.parametrize("prefix", ["13", "14", "15", "16", "17", "18", "19"])
def test_normalize_phone_accepts_every_mobile_prefix(prefix):
    assert normalize_phone(prefix + "912345678") == prefix + "912345678"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "12812345678",
        "10012345678",
        "23812345678",
        "1381234567",
        "138123456789",
        "+1 138 1234 5678",
        "86 1381234567",
        "1381234567x",
        "138 1234 5678 ext 1",
        "١٣٨١٢٣٤٥٦٧٨",
        "138\x0012345678",
        "1" * 33,
        None,
        "+86+8613812345678",
    ],
)
def test_normalize_phone_refuses_malformed(raw):
    with pytest.raises(ServiceError) as exc:
        normalize_phone(raw)
    assert exc.value.field == "phone" and exc.value.status == 422


def test_common_password_list_is_loaded_and_has_chinese_favourites():
    common = common_passwords()
    assert 2900 <= len(common) <= 3100
    for pw in [
        "123456",
        "5201314",
        "woaini1314",
        "qq123456",
        "a123456",
        "88888888",
        "11111111",
        "password",
        "12345678",
        "iloveyou",
    ]:
        assert pw in common, pw
    assert not any(line.startswith("#") for line in common)


@pytest.mark.parametrize(
    "pw",
    ["woaini1314", "WoAiNi1314", "88888888", "11111111", "Password1", "ｗｏａｉｎｉ１３１４", "qq123456789"],
)
def test_common_passwords_are_refused(pw):
    assert is_common_password(pw)
    with pytest.raises(ServiceError) as exc:
        check_password_policy(pw)
    assert exc.value.code == "password_common"


@pytest.mark.parametrize(
    "pw,code",
    [
        ("", "password_missing"),
        (None, "password_missing"),
        ("Ab1!xyz", "password_short"),
        ("x" * (PASSWORD_MAX + 1), "password_long"),
    ],
)
def test_length_rules(pw, code):
    with pytest.raises(ServiceError) as exc:
        check_password_policy(pw)
    assert exc.value.code == code


@pytest.mark.parametrize("pw", ["13812345678", "+86 138 1234 5678", "138-1234-5678", "13812345678a"])
def test_password_equal_to_phone_is_refused(pw):
    with pytest.raises(ServiceError) as exc:
        check_password_policy(pw, phone="13812345678")
    assert exc.value.code == "password_is_phone"


@pytest.mark.parametrize(
    "pw",
    [
        "Correct-Horse-9",
        "x" * PASSWORD_MAX,
        "我爱我家楼下的桂花树",
        "eight ch",
        "13812345678 is my old number, not my password",
    ],
)
def test_good_passwords_pass(pw):
    check_password_policy(pw, phone="13812345678")


def test_field_name_is_carried_for_the_form():
    with pytest.raises(ServiceError) as exc:
        check_password_policy("short", field="new_password")
    assert exc.value.field == "new_password"


@pytest.mark.parametrize(
    "raw,masked",
    [
        ("13812345678", "138****5678"),
        ("", ""),
        (None, ""),
        ("12", "**"),
        ("1234567", "1*****7"),
        ("021-12345678", "021*****5678"),
    ],
)
def test_mask_phone(raw, masked):
    assert mask_phone(raw) == masked


@pytest.mark.parametrize(
    "raw,masked",
    [
        ("11010519491231002X", "110***********002X"),
        ("110105491231002", "110********1002"),
        ("", ""),
        (None, ""),
        ("ABC", "***"),
        ("A1234", "A***4"),
    ],
)
def test_mask_id_number(raw, masked):
    assert mask_id_number(raw) == masked
    if raw and len(raw) >= 15:
        assert raw[6:14] not in masked  # the date of birth never shows
