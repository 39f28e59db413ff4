"""AT+QMTCFG="aliauth" (3.3.1): the three strings (max 64 bytes), the bracketed query, the device
secret kept out of every transcript, per connect ID, and the CONNECT it produces (NOTE 4: with
"aliauth" configured, <user_name> and <pass_word> of AT+QMTCONN "can be omitted").

The note gives no way to unset "aliauth" except a reset ("The configuration will not be saved"),
so every case here ends with AT+QRST=1: the next case must not connect with Alibaba credentials.
The reset case of test_qmtcfg.py checks the query prints no line when nothing is configured.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator

import pytest
from _cfg_support import CIDS, error_code, expect_error, expect_ok, query

from harness.at.flows import is_error
from harness.spec.qmtcfg import ALIAUTH, SECTION

pytestmark = pytest.mark.spec(SECTION)

PK, DN, DS = ALIAUTH.params
SECRET = "wN9Y6pZSIIy7Exa5qVzcmigEGO4kAazZ"  # chapter 6.1's device secret (public)


@pytest.fixture
def aliauth_modem(modem, qmt) -> Iterator:
    """The modem, reset after the case so no Alibaba device information leaks into the next one."""
    yield modem
    qmt.reset_module()


def _line(cid: int, pk: str, dn: str, ds: str) -> str:
    return ALIAUTH.write_line(cid, pk, dn, ds)


def _query_line(pk: str, dn: str, ds: str) -> str:
    return f'+QMTCFG: "{pk}","{dn}","{ds}"'


LENGTH_CASES = [(i, p, n, ok) for i, p in enumerate(ALIAUTH.params) for n, ok in ((1, True), (64, True), (65, False))]


@pytest.mark.covers("3.3.1/aliauth", "3.3.1/aliauth/query", "3.3.1/aliauth/product_key",
                    "3.3.1/aliauth/device_name", "3.3.1/aliauth/device_secret")
@pytest.mark.parametrize(("index", "param", "length", "valid"), LENGTH_CASES,
                         ids=[f"{p.name}-{n}" for _, p, n, _ in LENGTH_CASES])
def test_aliauth_string_length(aliauth_modem, index, param, length, valid):
    """"Maximum length: 64 bytes" for each string: 64 is accepted and read back exactly
    ("+QMTCFG: <product_key>,<device_name>,<device_secret>", strings quoted as in the write),
    65 is an error and the configuration stays as it was."""
    modem = aliauth_modem
    before = ["pk0", "dn0", "ds0"]
    expect_ok(modem, _line(2, *before))
    values = ["pk", "dn", "ds"]
    values[index] = param.sample(length)
    if valid:
        expect_ok(modem, _line(2, *values))
        assert query(modem, "aliauth", 2) == [_query_line(*values)]
    else:
        expect_error(modem, _line(2, *values), f"<{param.name}> of {length} bytes")
        assert query(modem, "aliauth", 2) == [_query_line(*before)]


@pytest.mark.covers("3.3.1/aliauth/product_key", "3.3.1/aliauth/device_name", "3.3.1/aliauth/device_secret")
@pytest.mark.parametrize("index", [0, 1, 2], ids=[p.name for p in ALIAUTH.params])
def test_aliauth_empty_string_is_observed(aliauth_modem, observe, index):
    """The note gives these strings a maximum only: whether "" is accepted is an observation;
    accepted, it reads back."""
    values = ["pk", "dn", "ds"]
    values[index] = ""
    resp = aliauth_modem.command(_line(0, *values))
    observe(f"empty <{ALIAUTH.params[index].name}> answer", error_code(resp))  # no plain reading: no minimum
    assert resp.ok or is_error(resp)
    if resp.ok:
        assert query(aliauth_modem, "aliauth", 0) == [_query_line(*values)]


@pytest.mark.covers("3.3.1/aliauth", "unclear/omitted_optional")
@pytest.mark.parametrize("args", ['"pk"', '"pk","dn"', '"pk","dn","ds","x"'], ids=["1", "2", "4"])
def test_aliauth_needs_exactly_three_strings(aliauth_modem, args):
    """Syntax "[,<product_key>,<device_name>,<device_secret>]": the three come together or not at all."""
    expect_ok(aliauth_modem, _line(1, "pk1", "dn1", "ds1"))
    expect_error(aliauth_modem, f'AT+QMTCFG="aliauth",1,{args}', "partial aliauth list")
    assert query(aliauth_modem, "aliauth", 1) == [_query_line("pk1", "dn1", "ds1")]


@pytest.mark.covers("3.3.1/aliauth/product_key", "3.3.1/aliauth/device_name")
@pytest.mark.parametrize("args", ['1,"dn","ds"', '"pk",2,"ds"'], ids=["product_key-int", "device_name-int"])
def test_aliauth_integer_for_a_string_is_observed(aliauth_modem, observe, args):
    """"String type": an unquoted integer where a string belongs is an observation (unclear/quoted_strings)."""
    resp = aliauth_modem.command(f'AT+QMTCFG="aliauth",0,{args}')
    observe(f"aliauth {args} answer", error_code(resp))  # no plain reading (unclear "quoted_strings")
    assert resp.ok or is_error(resp)


@pytest.mark.covers("3.3.1/aliauth/device_secret", "3.3.1/aliauth/query")
def test_device_secret_never_appears_in_the_transcript(aliauth_modem):
    """The device secret is a credential: the module prints it back in the query (3.3.1), and the
    case's transcript (the report's evidence) shows *** wherever it passed, never the secret."""
    expect_ok(aliauth_modem, _line(0, "oyjtmPl5a5j", "MQTT_TEST", SECRET))
    assert query(aliauth_modem, "aliauth", 0) == [_query_line("oyjtmPl5a5j", "MQTT_TEST", SECRET)]
    text = aliauth_modem.transcript.render()
    assert SECRET not in text, "the device secret reached the transcript"
    assert "***" in text and "MQTT_TEST" in text


@pytest.mark.covers("3.3.1/aliauth", "3.3.1/TCP_connectID")
@pytest.mark.parametrize("cid", CIDS)
def test_aliauth_is_per_connect_id(aliauth_modem, cid):
    """Device information configured for one connect ID is not that of the others."""
    expect_ok(aliauth_modem, _line(cid, f"pk{cid}", f"dn{cid}", f"ds{cid}"))
    for other in CIDS:
        lines = query(aliauth_modem, "aliauth", other)
        if other == cid:
            assert lines == [_query_line(f"pk{cid}", f"dn{cid}", f"ds{cid}")]
        else:
            assert f"pk{cid}" not in "".join(lines), f"connect ID {other} shows the aliauth of {cid}: {lines}"


@pytest.mark.covers("3.3.1/note/4", "3.3.1/aliauth", "3.3.1/note/6")
def test_aliauth_supplies_user_name_and_password(aliauth_modem, qmt, peer, observe):
    """NOTE 4: with "aliauth" configured (before AT+QMTOPEN, NOTE 6), <user_name> and <pass_word>
    "can be omitted": the CONNECT of AT+QMTCONN=<id>,<clientID> carries a user name and a password.
    How they derive from the device information is Alibaba's scheme, not the note's: observed."""
    modem = aliauth_modem
    pk, dn = "oyjtmPl5a5j", "MQTT_TEST"
    expect_ok(modem, _line(0, pk, dn, SECRET))
    conn, connect = qmt.connect_peer(peer, "clientExample")
    conn.assert_conformant()
    assert connect.username, "CONNECT without a user name although aliauth is configured (NOTE 4)"
    assert connect.password, "CONNECT without a password although aliauth is configured (NOTE 4)"
    assert SECRET.encode() not in connect.password, "the device secret itself is sent as the password"
    # No plain reading: how the credentials derive from the device information is Alibaba's, not the note's.
    observe("aliauth CONNECT client identifier", connect.client_id)
    observe("aliauth CONNECT user name", connect.username)
    observe("aliauth user name is <device_name>&<product_key>", connect.username == f"{dn}&{pk}")
    signed = {"clientId": connect.client_id.split("|", 1)[0], "deviceName": dn, "productKey": pk}
    content = "".join(f"{k}{v}" for k, v in sorted(signed.items())).encode()
    expected = {hmac.new(SECRET.encode(), content, algo).hexdigest() for algo in (hashlib.sha1, hashlib.sha256,
                                                                                   hashlib.md5)}
    observe("aliauth password is Alibaba's HMAC of the device information",
            connect.password.decode(errors="replace").lower() in expected)
