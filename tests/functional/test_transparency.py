"""The public transparency page: totals and the latest signed checkpoint, open to anyone,
in both languages; an unknown community is a 404, never a 500."""

from __future__ import annotations

from typing import Any

import ledger
from tests.factories import give_points, make_community, make_user


def test_public_page_shows_totals_and_the_signed_head(app: Any, client: Any, session: Any) -> None:
    community = make_community(session)
    resident = make_user(session, community=community)
    give_points(session, community, resident, 30)
    session.commit()
    page = client.get(f"/transparency/{community.id}", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Issued by the community fund" in text and "No signed checkpoint yet" in text
    assert resident.display_name not in text  # community totals only, never a person

    pem, public = ledger.generate_key()
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(pem, password=None)
    cp = ledger.checkpoint(session, community.id, key)  # type: ignore[arg-type]
    session.commit()
    text = client.get(f"/transparency/{community.id}", headers={"Accept-Language": "en"}).get_data(
        as_text=True
    )
    assert cp["digest"] in text and cp["signature"] in text and "Latest signed checkpoint" in text
    zh = client.get(f"/transparency/{community.id}", headers={"Accept-Language": "zh-CN"}).get_data(
        as_text=True
    )
    assert "流通" in zh


def test_unknown_community_is_not_found(client: Any) -> None:
    assert client.get("/transparency/999999").status_code == 404
    assert client.get("/transparency/99999999999999999999").status_code == 404
