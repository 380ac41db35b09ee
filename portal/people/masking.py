"""Masking of personal numbers for lists, logs and audit details (PIPL Art. 6; ASVS 14.2.6).

Usable everywhere (no Flask, no database): ``mask_phone("13812345678") == "138****5678"``.
"""

from __future__ import annotations


def mask_phone(phone: str | None) -> str:
    """``138****5678`` for a mainland mobile number; other lengths keep at most the first
    three and last four characters and never show more than half of the value."""
    if not phone:
        return ""
    phone = str(phone)
    n = len(phone)
    if n >= 8:
        return phone[:3] + "*" * (n - 7) + phone[-4:]
    if n >= 3:
        keep = n // 2 // 2  # at most a quarter at each end
        return phone[:keep] + "*" * (n - 2 * keep) + (phone[-keep:] if keep else "")
    return "*" * n


def mask_id_number(id_number: str | None) -> str:
    """Resident ID numbers (18 or 15 characters): keep the first three (province) and
    the last four, hide the region and the date of birth: ``110***********123X``."""
    if not id_number:
        return ""
    value = str(id_number).strip()
    n = len(value)
    if n >= 10:
        return value[:3] + "*" * (n - 7) + value[-4:]
    if n >= 4:
        return value[:1] + "*" * (n - 2) + value[-1:]
    return "*" * n


def mask_name(name: str | None, *, keep_last: bool = True) -> str:
    """A name as neighbours see it: ``张*明`` (first and last character; a two-character
    name keeps its first). ``keep_last=False`` is the merchants' rule, ``王**``: no more
    than the first character (PIPL Art. 23)."""
    name = (name or "").strip()
    if not name:
        return "*"
    if not keep_last or len(name) <= 2:
        return name[0] + "*" * max(len(name) - 1, 1)
    return name[0] + "*" * (len(name) - 2) + name[-1]
