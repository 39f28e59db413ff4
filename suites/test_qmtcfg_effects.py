"""AT+QMTCFG (3.3.1) settings seen on the wire: "keepalive" -> the CONNECT's keep-alive, "session"
-> its clean-session flag, "version" -> protocol name and level; and NOTE 6, items changed while
a connection is open (an observation, harness.spec.unclear "cfg_while_open"). The will and aliauth
effects are in their own suites; showrecvlen/echomode/dataformat belong to the publish/receive area.
"""

from __future__ import annotations

import pytest
from _cfg_support import OTHER, connect_on_wire, error_code, expect_ok, query

from harness.at.flows import is_error
from harness.mqtt import codec
from harness.spec.qmtcfg import KEEPALIVE, SECTION

pytestmark = pytest.mark.spec(SECTION)


@pytest.mark.covers("3.3.1/keepalive", "3.3.1/keepalive/keep_alive_time", "3.3.1/note/6",
                    "3.3.1/characteristics/1")
@pytest.mark.parametrize("value", [None, 0, 60, 3600], ids=lambda v: "default" if v is None else str(v))
def test_keepalive_is_the_connect_keep_alive(modem, qmt, wire, value):
    """<keep_alive_time> (Range 0–3600, "Default value: 120") configured before AT+QMTOPEN is the
    CONNECT's keep-alive field (MQTT 3.1.2.10); 0 means "The client is not disconnected"."""
    if value is not None:
        expect_ok(modem, f'AT+QMTCFG="keepalive",0,{value}')
    connect = connect_on_wire(qmt, wire, f"ka-{value}")
    assert connect.keepalive == (KEEPALIVE.params[0].default if value is None else value)


@pytest.mark.covers("3.3.1/session", "3.3.1/session/clean_session", "3.3.1/note/2", "unclear/lost_defaults")
@pytest.mark.parametrize("value", [None, 0, 1], ids=lambda v: "known-state" if v is None else str(v))
def test_session_is_the_connect_clean_session_flag(modem, qmt, wire, value):
    """<clean_session> 0 "Non-clean session", 1 "Clean session" is the CONNECT's clean-session flag
    (MQTT 3.1.2.4); the known state writes 1. NOTE 2: the broker supports session cleaning, so 1 is
    valid and the connection is accepted."""
    if value is not None:
        expect_ok(modem, f'AT+QMTCFG="session",0,{value}')
    connect = connect_on_wire(qmt, wire, f"session-{value}")
    assert connect.clean_session is (value != 0)


@pytest.mark.covers("3.3.1/version", "3.3.1/version/version_num")
@pytest.mark.parametrize(("value", "name", "level"), [(0, "MQIsdp", 3), (1, "MQTT", 4)], ids=["3.1.0", "3.1.1"])
def test_version_is_the_connect_protocol(modem, qmt, peer, value, name, level):
    """<version_num> 0 "MQTT version 3.1.0", 1 "MQTT version 3.1.1": the CONNECT's protocol name
    and level (MQIsdp/3, MQTT/4). The scripted peer answers both (amqtt drops MQTT 3.1)."""
    expect_ok(modem, f'AT+QMTCFG="version",0,{value}')
    conn, connect = qmt.connect_peer(peer, f"version-{value}")
    conn.assert_conformant()
    assert (connect.protocol_name, connect.protocol_level) == (name, level)


@pytest.mark.covers("3.3.1/version", "unclear/lost_defaults")
def test_known_state_version_is_mqtt_3_1_1(qmt, peer):
    """The known state writes <version_num> 1 (its underlined default was lost, harness.spec.unclear):
    the CONNECT is MQTT 3.1.1."""
    conn, connect = qmt.connect_peer(peer, "version-known")
    conn.assert_conformant()
    assert (connect.protocol_name, connect.protocol_level) == ("MQTT", 4)


WHILE_OPEN = ["will", "session", "keepalive", "aliauth", "version", "ssl"]


def _connect_field(connect: codec.Connect, item: str) -> object:
    return {"will": (connect.will_flag, connect.will_topic), "session": connect.clean_session,
            "keepalive": connect.keepalive, "aliauth": connect.username,
            "version": (connect.protocol_name, connect.protocol_level), "ssl": "plain CONNECT"}[item]


@pytest.mark.covers("3.3.1/note/6", "unclear/cfg_while_open", *(f"3.3.1/{i}" for i in WHILE_OPEN))
@pytest.mark.parametrize("item", WHILE_OPEN)
def test_item_changed_while_open_is_observed(modem, qmt, peer, observe, item):
    """NOTE 6: "will", "session", "keepalive", "aliauth", "version" and "ssl" "have to be configured
    before executing AT+QMTOPEN". Changed after it, the AT answer and whether the CONNECT uses the
    new value are observations (harness.spec.unclear); the verdicts are that the module answers OK
    or an error, and that a refused write changes nothing."""
    qmt.uplink_timeout(0)
    conn = qmt.accept(peer)
    before = query(modem, item, 0)
    values = OTHER[item] if item != "ssl" else [1, 0, 0]
    line = f'AT+QMTCFG="{item}",0,' + ",".join(f'"{v}"' if isinstance(v, str) else str(v) for v in values)
    resp = modem.command(line)
    # No plain reading: NOTE 6 "have to be configured before" names no answer, and "takes effect immediately".
    observe(f"{item} written while open: answer", error_code(resp))
    assert resp.ok or is_error(resp), f"{line} answered {resp.final!r}"
    after = query(modem, item, 0)
    if not resp.ok:
        assert after == before, f"a refused {item} write changed the setting: {before} -> {after}"
    conn_line = 'AT+QMTCONN=0,"while-open"'
    expect_ok(modem, conn_line)
    try:
        connect = conn.handshake(return_code=0, timeout=qmt.deadline(conn_line))
        observe(f"{item} written while open: CONNECT uses", _connect_field(connect, item))
        done = modem.wait_urc("+QMTCONN", qmt.deadline(conn_line))
        observe(f"{item} written while open: +QMTCONN", done.line)
    except AssertionError as exc:  # no CONNECT (e.g. the module now expects TLS): part of the observation
        observe(f"{item} written while open: CONNECT", f"none ({str(exc).splitlines()[0]})")
    if item == "aliauth" and resp.ok:
        qmt.reset_module()  # "aliauth" has no unset but a reset (3.3.1 "will not be saved")


@pytest.mark.covers("3.3.1/note/3", "3.3.1/timeout/pkt_timeout")
def test_shortest_pkt_timeout_does_not_cut_a_full_publish(modem, qmt, wire):
    """NOTE 3: "Care must be taken to ensure message delivery does not time out while it is still
    being sent." With <pkt_timeout> at its minimum (1 s; on a slow uplink the least that covers its
    round trip, harness.rig.uplink) and a broker that answers at once, the
    largest data-mode message (1460 bytes, 3.3.8) at QoS 1 completes: +QMTPUB result 0, one
    PUBLISH on the wire, no retransmission."""
    qmt.uplink_timeout(0)
    connect_on_wire(qmt, wire, "note3")
    line = 'AT+QMTPUB=0,5,1,0,"cfg/note3"'
    payload = bytes(65 + i % 26 for i in range(1460))
    resp = modem.send_data(line, payload)
    assert resp.ok, f"{line} answered {resp.final!r}"
    done = modem.wait_urc("+QMTPUB", qmt.deadline(line), predicate=lambda u: u.args[:2] == [0, 5])
    assert done.args == [0, 5, 0], done.line
    sent = wire.log.packets(direction="C>B", type=codec.Publish)
    assert len(sent) == 1 and sent[0].packet.payload == payload and not sent[0].dup
