"""`is_authentic`: which `mono-webhook-secret` headers prove a delivery, scheme by scheme."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from mono_dagster.webhooks.verify import hmac_sha512_hex, is_authentic

SECRET = b"whsec_test_0123456789abcdef"
BODY = b'{"event":"mono.events.account_updated","data":{"account":{"_id":"abc"}}}'
BOTH = frozenset({"secret", "hmac-sha512"})


def one_character_off(value: str) -> str:
    return value[:-1] + ("0" if value[-1] != "0" else "1")


def test_the_rfc_scheme_is_hmac_sha512_of_the_raw_body_in_hex():
    assert hmac_sha512_hex(BODY, SECRET) == hmac.new(SECRET, BODY, hashlib.sha512).hexdigest()
    assert len(hmac_sha512_hex(BODY, SECRET)) == 128


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        pytest.param(None, False, id="no header"),
        pytest.param("", False, id="empty header"),
        pytest.param("wrong-secret", False, id="wrong secret"),
        pytest.param(SECRET.decode(), True, id="the secret itself"),
        pytest.param(one_character_off(SECRET.decode()), False, id="secret off by one character"),
        pytest.param(SECRET.decode() + "x", False, id="secret with a suffix"),
        pytest.param(SECRET.decode()[:-1], False, id="secret missing its last character"),
        pytest.param(hmac_sha512_hex(BODY, SECRET), True, id="hmac of the body"),
        pytest.param(hmac_sha512_hex(BODY, SECRET).upper(), True, id="hmac upper-cased"),
        pytest.param(hmac_sha512_hex(BODY + b" ", SECRET), False, id="hmac of a different body"),
        pytest.param(hmac_sha512_hex(BODY, SECRET + b"x"), False, id="hmac under another secret"),
        pytest.param(one_character_off(hmac_sha512_hex(BODY, SECRET)), False, id="hmac off by one character"),
        pytest.param("sécret", False, id="non-ascii header"),
    ],
)
def test_each_header_under_both_schemes(header, accepted):
    assert is_authentic(header, BODY, SECRET, BOTH) is accepted


def test_a_disabled_scheme_proves_nothing():
    assert not is_authentic(SECRET.decode(), BODY, SECRET, {"hmac-sha512"})
    assert is_authentic(hmac_sha512_hex(BODY, SECRET), BODY, SECRET, {"hmac-sha512"})
    assert not is_authentic(hmac_sha512_hex(BODY, SECRET), BODY, SECRET, {"secret"})
    assert is_authentic(SECRET.decode(), BODY, SECRET, {"secret"})
    assert not is_authentic(SECRET.decode(), BODY, SECRET, set())


def test_an_empty_secret_never_accepts():
    assert not is_authentic("", BODY, b"", BOTH)
    assert not is_authentic(hmac_sha512_hex(BODY, b""), BODY, b"", BOTH)
