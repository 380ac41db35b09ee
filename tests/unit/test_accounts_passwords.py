"""argon2 hashing: NFKC normalisation, rehash, burn_time."""

from __future__ import annotations

from portal.accounts import passwords


def test_hash_and_verify_with_fullwidth_input():
    h = passwords.hash_password("ＡＢＣ-ｄｅｆ-１２３")
    assert h.startswith("$argon2id$")
    assert passwords.verify_password(h, "ABC-def-123")
    assert not passwords.verify_password(h, "ABC-def-124")


def test_verify_tolerates_garbage_hashes():
    assert not passwords.verify_password("not-a-hash", "anything")


def test_burn_time_runs_without_error():
    passwords.burn_time("whatever")
