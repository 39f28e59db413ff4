"""The MQTT 3.1.1 client duties the public yardsticks check (harness/spec/yardsticks.py: Eclipse
IoT-Testware's client test purposes and paho's client tests) that no other suite did (issue 15
item 2), each against the scripted peer: the CONNECT payload with all five fields in order, a
zero-byte client identifier with "session" 0, a CONNACK with invalid fixed-header flags, no answer
to a QoS 0 delivery, overlapping subscriptions, a client id, topic name and topic filter that are
not ASCII or not UTF-8 at all. Where MQTT 3.1.1 is normative the case gives a
verdict; what the note leaves to the module (whether it refuses a command, which +QMTSTAT code it
reports) is observed and named."""

from __future__ import annotations

import pytest

from harness.at import ATTimeout
from harness.at.flows import is_error
from harness.mqtt import codec
from harness.peer import Match
from harness.spec.plain import qmtstat

pytestmark = pytest.mark.spec("3.3.4")

QMTSTAT_CODES = range(1, 8)  # 5.1 Table 4: 1..7 defined, "8-255 Reserved for future use"
EARLY = 0.9  # a timer may fire at 90 % of its nominal time, not earlier (as suites/test_timers.py)


def _recv(qmt):
    return qmt.urc("+QMTRECV", 0, "AT+QMTPUB")


def _connect_or_refusal(qmt, conn, line: str, observe, what: str) -> codec.Connect | None:
    """AT+QMTCONN whose answer is the module's choice (observed as `what`): refused, it is an error
    and no CONNECT went out (None); accepted, the CONNECT the peer got."""
    resp = qmt.channel.command(line)
    observe(what, resp.final)
    if not resp.ok:
        assert is_error(resp), resp.final
        qmt.close_peer(conn)  # everything sent before the FIN is in
        assert conn.received(codec.Connect) == [], "a refused AT+QMTCONN sent CONNECT"
        return None
    return conn.expect(codec.Connect, qmt.deadline(line))


# --- CONNECT ---------------------------------------------------------------------------------


@pytest.mark.spec("3.3.1")
@pytest.mark.covers("3.3.1/will", "3.3.1/will/will_topic", "3.3.1/will/will_msg", "3.3.4/QMTCONN/write",
                    "3.3.4/QMTCONN/user_name", "3.3.4/QMTCONN/pass_word")
def test_connect_payload_has_all_five_fields_in_order(modem, qmt, peer):
    """TP_MQTT_Client_CONNECT_10: with a will (3.3.1 "will") and AT+QMTCONN=<id>,<clientID>,<username>,
    <password> (3.3.4) the CONNECT payload holds all five fields, which "MUST appear in the order Client
    Identifier, Will Topic, Will Message, User Name, Password" [MQTT-3.1.3-1]: each decodes to what
    was configured, and their bytes stand in that order in the packet."""
    fields = ("dut-five", "w5/topic", "w5-message", "u5-name", "p5-secret")
    client_id, will_topic, will_msg, user, password = fields
    assert modem.command(f'AT+QMTCFG="will",0,1,1,0,"{will_topic}","{will_msg}"').ok
    conn = qmt.accept(peer)
    line = f'AT+QMTCONN=0,"{client_id}","{user}","{password}"'
    assert modem.command(line).ok
    connect = conn.handshake(timeout=qmt.deadline(line))
    assert qmt.urc("+QMTCONN", 0, line).args == [0, 0, 0]
    got = (connect.client_id, connect.will_topic, connect.will_payload, connect.username, connect.password)
    assert got == (client_id, will_topic, will_msg.encode(), user, password.encode()), \
        f"CONNECT payload decodes as {got}: a field is missing or out of order [MQTT-3.1.3-1]"
    raw = conn.received(codec.Connect)[0].raw
    offsets = [raw.index(f.encode()) for f in fields]
    assert offsets == sorted(offsets), f"payload fields at byte offsets {offsets}"
    conn.assert_conformant()


@pytest.mark.spec("3.3.1")
@pytest.mark.covers("3.3.4/QMTCONN/clientID", "3.3.1/session/clean_session", "3.3.4/QMTCONN/ret_code/2")
def test_zero_byte_client_id_with_session_0(modem, qmt, peer, observe):
    """TP_MQTT_Client_CONNECT_12 (and the client's side of paho's test_zero_length_clientid): "If the
    Client supplies a zero-byte ClientId, the Client MUST also set CleanSession to 1" [MQTT-3.1.3-7].
    With AT+QMTCFG="session",0,0 and AT+QMTCONN=0,"": the module may refuse the command (then no
    CONNECT goes out) or send a CONNECT, and a CONNECT with a zero-byte client id has CleanSession 1
    (verdict of the peer's judge). Which of the two it does is its own choice (observed: the note sets
    no minimum length for <clientID>). The peer answers as a server must: CONNACK 2 "identifier
    rejected" to a zero-byte id with CleanSession 0 [MQTT-3.1.3-8], else 0; the result URC carries that
    <ret_code> (3.3.4)."""
    assert modem.command('AT+QMTCFG="session",0,0').ok
    conn = qmt.accept(peer)
    line = 'AT+QMTCONN=0,""'
    # no plain reading: the note has no minimum
    connect = _connect_or_refusal(qmt, conn, line, observe, 'AT+QMTCONN=0,"" with "session" 0')
    if connect is None:
        return
    observe("CONNECT client id and clean session", (connect.client_id, connect.clean_session))
    rejected = not connect.client_id and not connect.clean_session
    conn.send(codec.ConnAck(False, 2 if rejected else 0))
    if rejected:
        conn.close()  # [MQTT-3.2.2-5] a server closes after a refusal
    assert qmt.urc("+QMTCONN", 0, line).args == [0, 0, 2 if rejected else 0]
    conn.assert_conformant()


# --- CONNACK ---------------------------------------------------------------------------------

CONNACK_PKT_TIMEOUT = 20  # module s: the module's own CONNACK wait, far beyond the close it owes


@pytest.mark.spec("5.1")
@pytest.mark.covers("5.1/QMTSTAT/urc", "5.1/QMTSTAT/closes", "5.1/QMTSTAT/4", "unclear/qmtstat_codes")
def test_connack_with_invalid_flags_closes_the_link(modem, qmt, peer, observe):
    """TP_MQTT_Client_CONNACK_01: a CONNACK with fixed-header flags 1111 (MQTT 3.1.1 Table 2.2: 0000).
    "If invalid flags are received, the receiver MUST close the Network Connection" [MQTT-2.2.2-2],
    [MQTT-2.2.2-1]; a packet it cannot accept is closed on ([MQTT-4.8.0-1]). The module closes the link
    well before its own CONNACK wait (<pkt_timeout>, 3.3.4) would have, never reports the connect ID
    connected, and, chapter 5, "will close the MQTT connection and report the URC": some
    +QMTSTAT: 0,<1..7> (verdict). Its code (4 "Receiving CONNACK packet timed out or failed" by the
    plain reading) and the +QMTCONN result are observed."""
    qmt.timeout(0, CONNACK_PKT_TIMEOUT)
    conn = qmt.accept(peer)
    line = 'AT+QMTCONN=0,"dut-bad-connack"'
    assert modem.command(line).ok
    conn.expect(codec.Connect, qmt.deadline(line))
    conn.send_raw(bytes([0x2F, 0x02, 0x00, 0x00]), "CONNACK, fixed-header flags 1111")
    how = conn.wait_closed(EARLY * CONNACK_PKT_TIMEOUT * modem.time_scale)
    observe("how the module closed after a CONNACK with flags 1111", how)
    stat = qmt.urc("+QMTSTAT", 0, line)
    assert stat.args[1] in QMTSTAT_CODES, f"{stat.line}: <err_code> is not one of 5.1's 1..7"
    observe("+QMTSTAT after a CONNACK with invalid flags (expected 4)", stat.line, plain=qmtstat(4, cid=0))
    try:  # whether the pending AT+QMTCONN still reports a result is not in the note: observed
        outcome: str | None = qmt.urc("+QMTCONN", 0, line).line
    except ATTimeout:
        outcome = None
    observe("+QMTCONN result after a CONNACK with invalid flags", outcome)
    assert outcome != "+QMTCONN: 0,0,0", "a CONNACK with invalid flags was taken as success"
    assert "+QMTCONN: 0,3" not in modem.command("AT+QMTCONN?").lines
    assert modem.command("AT+QMTOPEN?").lines == [], "connect ID still open after +QMTSTAT (5.1)"


# --- PUBLISH from the server -----------------------------------------------------------------


def _subscribed(qmt, conn, line: str, granted: list[int]) -> None:
    qmt.ok(line)
    conn.ack_subscribe(granted, timeout=qmt.deadline(line))
    sub = qmt.urc("+QMTSUB", 0, line)
    assert sub.args[:3] == [0, int(line.split(",")[1]), 0], sub.line


@pytest.mark.spec("5.2")
@pytest.mark.covers("5.2/QMTRECV/urc", "3.3.6/QMTSUB/QoS")
def test_qos0_delivery_gets_no_reply(modem, qmt, peer):
    """TP_MQTT_Client_PUBLISH_06: the response a receiver sends to a QoS 0 PUBLISH is "None" (MQTT 3.1.1
    Table 3.4, [MQTT-3.3.4-1]): the module reports the message (5.2 +QMTRECV, <msgID> 0) and sends
    nothing back. No wait decides it: a QoS 1 PUBLISH follows as a fence, and the first packet the
    module sends after the QoS 0 one must be the fence's PUBACK (same packet id, [MQTT-2.3.1-6])."""
    conn, _ = qmt.connect_peer(peer, "dut-q0-in")
    _subscribed(qmt, conn, 'AT+QMTSUB=0,1,"in0/#",1', [1])
    conn.send(codec.Publish("in0/zero", b"no reply", 0, False, False, None))
    got = _recv(qmt)
    assert got.args[1:3] == [0, "in0/zero"], got.line
    conn.send(codec.Publish("in0/fence", b"fence", 1, False, False, 31))
    conn.expect(Match(codec.PubAck, packet_id=31), qmt.deadline("AT+QMTPUB"), ignore=(codec.PingReq,))
    fence = _recv(qmt)
    assert fence.args[1:3] == [31, "in0/fence"], fence.line
    conn.assert_conformant()


@pytest.mark.spec("3.3.6")
@pytest.mark.spec("5.2")
@pytest.mark.covers("3.3.6/QMTSUB/write", "3.3.6/QMTSUB/value/result0", "5.2/QMTRECV/urc")
def test_overlapping_subscriptions_each_copy_is_handled(modem, qmt, peer):
    """paho client_test test_overlapping_subscriptions: two filters that both match one topic ("ov/#"
    at QoS 1 and "ov/+" at QoS 0, one AT+QMTSUB, 3.3.6) may bring the message once or once per matching
    subscription [MQTT-3.3.5-1]; the peer sends a copy per subscription, each at its granted QoS. Each
    copy is handled on its own: the QoS 1 copy is answered with a PUBACK of its packet id, the QoS 0
    copy with nothing ([MQTT-3.3.4-1]; the PUBACK is the first packet back), and both are reported
    (5.2), the QoS 0 one with <msgID> 0."""
    conn, _ = qmt.connect_peer(peer, "dut-overlap")
    _subscribed(qmt, conn, 'AT+QMTSUB=0,2,"ov/#",1,"ov/+",0', [1, 0])
    conn.send(codec.Publish("ov/x", b"copy", 0, False, False, None))
    conn.send(codec.Publish("ov/x", b"copy", 1, False, False, 41))
    conn.expect(Match(codec.PubAck, packet_id=41), qmt.deadline("AT+QMTPUB"), ignore=(codec.PingReq,))
    copies = [_recv(qmt) for _ in range(2)]
    assert sorted(u.args[1] for u in copies) == [0, 41], [u.line for u in copies]
    assert all(u.args[2] == "ov/x" and u.args[-1] == "copy" for u in copies), [u.line for u in copies]
    conn.assert_conformant()


# --- packet identifiers ----------------------------------------------------------------------

IN_FLIGHT_MID = 61
IN_FLIGHT_PKT_TIMEOUT = 20  # module s: no retransmission while the case holds the ACK back
# kind -> (first command, the same <msgID> again for another message, packet type, its ACK, result URC)
IN_FLIGHT = {
    "PUBLISH": ('AT+QMTPUB=0,{mid},1,0,"id/a",5,"first"', 'AT+QMTPUB=0,{mid},1,0,"id/b",6,"second"',
                codec.Publish, lambda mid: codec.PubAck(mid), "+QMTPUB"),
    "SUBSCRIBE": ('AT+QMTSUB=0,{mid},"id/a",1', 'AT+QMTSUB=0,{mid},"id/b",1',
                  codec.Subscribe, lambda mid: codec.SubAck(mid, [1]), "+QMTSUB"),
}


@pytest.mark.spec("3.3.6")
@pytest.mark.spec("3.3.8")
@pytest.mark.covers("3.3.6/QMTSUB/msgID", "3.3.8/QMTPUB/msgID")
@pytest.mark.parametrize("kind", IN_FLIGHT)
def test_msgid_still_in_flight_is_not_reused_on_the_wire(modem, qmt, peer, observe, kind):
    """TP_MQTT_Client_PUBLISH_10 / TP_MQTT_Client_SUBSCRIBE_03: "Each time a Client sends a new SUBSCRIBE,
    UNSUBSCRIBE, or PUBLISH (where QoS > 0) MQTT Control Packet it MUST assign it a currently unused
    Packet Identifier" [MQTT-2.3.1-2]. The host gives the id as <msgID>, and 3.3.6/3.3.8 say it "must be
    unique" in the inflight window; the module's side is what it does when the host breaks that: a
    second command with a <msgID> whose ACK the peer holds back. Refusing it or holding it until the
    first completes is the module's choice (observed: the note has no result for it); a new packet with
    that id on the wire while the first is unacknowledged is a violation. A QoS 0 PUBLISH after it is
    the fence: it must be the next packet. Then the ACK comes and the first command ends with result 0."""
    first_line, second_line, ptype, ack, urc = IN_FLIGHT[kind]
    qmt.timeout(0, IN_FLIGHT_PKT_TIMEOUT)
    conn, _ = qmt.connect_peer(peer, "dut-inflight")
    mid = IN_FLIGHT_MID
    first = first_line.format(mid=mid)
    assert modem.command(first).ok
    conn.expect(Match(ptype, packet_id=mid), qmt.deadline(first))
    resp = modem.command(second_line.format(mid=mid))
    observe(f"a second {kind} command with a <msgID> still in flight", resp.final)
    fence = 'AT+QMTPUB=0,0,0,0,"id/fence",1,"f"'
    assert modem.command(fence).ok
    conn.expect(Match(codec.Publish, topic="id/fence", qos=0), qmt.deadline(fence), ignore=(codec.PingReq,))
    conn.send(ack(mid))
    done = modem.wait_urc(urc, qmt.deadline(first), predicate=lambda u: u.args[:2] == [0, mid])
    assert done.args[2] == 0, done.line
    if resp.ok:  # held until the first completed: it may go out now, and is answered like any other
        conn.expect(Match(ptype, packet_id=mid), qmt.deadline(first), ignore=(codec.PingReq,))
        conn.send(ack(mid))
        observe("its result", modem.wait_urc(urc, qmt.deadline(first),
                                             predicate=lambda u: u.args[:2] == [0, mid]).line)
    conn.assert_conformant()


# --- PUBLISH topic names -----------------------------------------------------------------------


def _publish_then_fence(qmt, observe, line: str, what: str, fence_topic: str) -> str:
    """AT+QMTPUB with a <topic> the note has no rule for: the answer (OK or an error) and any result
    are observed (no plain reading); then a QoS 0 PUBLISH on `fence_topic`, the fence the case waits
    for on the wire. Returns the fence's command line."""
    resp = qmt.channel.command(line)
    observe(what, resp.final)
    assert resp.ok or is_error(resp), resp.final
    if resp.ok:
        observe("its result", qmt.urc("+QMTPUB", 0, line).line)
    fence = f'AT+QMTPUB=0,0,0,0,"{fence_topic}",1,"f"'
    assert qmt.channel.command(fence).ok
    return fence


@pytest.mark.spec("3.3.8")
@pytest.mark.spec("4")
@pytest.mark.covers("3.3.8/QMTPUB/topic", "4/8505")
@pytest.mark.parametrize("topic", ["wild/+/x", "wild/#"])
def test_wildcard_in_publish_topic_never_reaches_the_wire(modem, qmt, peer, observe, topic):
    """TP_MQTT_Client_PUBLISH_05: "The Topic Name in the PUBLISH Packet MUST NOT contain wildcard
    characters" [MQTT-3.3.2-2]. AT+QMTPUB with '+' or '#' in <topic> (3.3.8): the note says nothing of
    wildcards, so the answer is observed (chapter 4 has 8505 "MQTT illegal character"); the verdict is
    that no PUBLISH with such a topic name goes out: a QoS 0 PUBLISH after it is the fence, and it
    must be the next packet."""
    conn, _ = qmt.connect_peer(peer, "dut-wild")
    line = f'AT+QMTPUB=0,0,0,0,"{topic}",1,"w"'
    fence = _publish_then_fence(qmt, observe, line, f"AT+QMTPUB with topic {topic!r}", "wild/fence")
    conn.expect(Match(codec.Publish, topic="wild/fence", qos=0), qmt.deadline(fence), ignore=(codec.PingReq,))
    conn.assert_conformant()


# --- UTF-8 strings -----------------------------------------------------------------------------


def _raw(data: bytes) -> str:
    """`data` as the AT channel writes it: command() encodes its line as UTF-8 with surrogateescape,
    so bytes that are not UTF-8 cross the UART as they are (as suites/test_error_codes.py)."""
    return data.decode("utf-8", "surrogateescape")


def _string_problems(s: str, where: str) -> list[str]:
    """What MQTT 3.1.1 1.5.3 forbids in a string the peer decoded (ill-formed bytes come as surrogate
    escapes): not well-formed UTF-8 [MQTT-1.5.3-1], an encoding of U+0000 [MQTT-1.5.3-2]."""
    out = [f"[MQTT-1.5.3-1] {where} {s!r} is not well-formed UTF-8"] if any(
        "\udc80" <= ch <= "\udcff" for ch in s) else []
    return out + ([f"[MQTT-1.5.3-2] {where} {s!r} holds U+0000"] if "\x00" in s else [])


# what the host types where an MQTT string goes: well-formed non-ASCII, bytes that are not UTF-8, U+0000
BAD_STRINGS = {"not-utf8": _raw(b"\xff\xfe"), "nul": "\x00"}
CLIENT_IDS = {"non-ascii": "dut-\u00dcn\u00efc\u00f8d\u00e9", "not-utf8": "dut-" + _raw(b"\xff\xfe")}


@pytest.mark.spec("3.3.4")
@pytest.mark.covers("3.3.4/QMTCONN/clientID")
@pytest.mark.parametrize("kind", CLIENT_IDS)
def test_client_id_reaches_the_wire_as_utf8(modem, qmt, peer, observe, kind):
    """TP_MQTT_Client_CONNECT_11: "The ClientId MUST be a UTF-8 encoded string" [MQTT-3.1.3-4], and
    every MQTT string is well-formed UTF-8 [MQTT-1.5.3-1]. AT+QMTCONN=0,<clientID> (3.3.4) with
    non-ASCII text sent as its UTF-8 bytes, and with bytes that are not UTF-8. Accepting or refusing
    the command is the module's choice (observed: the note says nothing of the encoding of
    <clientID>); the verdict is that a CONNECT that reaches the peer carries a well-formed client id,
    and for well-formed input exactly what was typed."""
    client_id = CLIENT_IDS[kind]
    conn = qmt.accept(peer)
    line = f'AT+QMTCONN=0,"{client_id}"'
    connect = _connect_or_refusal(qmt, conn, line, observe, f"AT+QMTCONN with a {kind} <clientID>")
    if connect is None:
        return
    problems = _string_problems(connect.client_id, "client identifier")
    assert not problems, f"CONNECT for {line!r}: {problems} [MQTT-3.1.3-4]"
    if kind == "non-ascii":
        assert connect.client_id == client_id, \
            f"CONNECT client id {connect.client_id!r}, typed {client_id!r} [MQTT-3.1.3-4]"
    else:  # what a module makes of bytes that are not UTF-8 (replacement, dropping) is its own
        observe(f"CONNECT client id for a {kind} <clientID>", connect.client_id)
    conn.send(codec.ConnAck(False, 0))
    assert qmt.urc("+QMTCONN", 0, line).args == [0, 0, 0]
    conn.assert_conformant()


@pytest.mark.spec("3.3.8")
@pytest.mark.covers("3.3.8/QMTPUB/topic")
@pytest.mark.parametrize("kind", BAD_STRINGS)
def test_ill_formed_publish_topic_never_reaches_the_wire(modem, qmt, peer, observe, kind):
    """TP_MQTT_Client_PUBLISH_04: the topic name "MUST be a UTF-8 encoded string" [MQTT-3.3.2-1], well
    formed [MQTT-1.5.3-1] and without U+0000 [MQTT-1.5.3-2]. AT+QMTPUB (3.3.8) with a <topic> holding
    bytes that are not UTF-8 (raw on the AT line), or U+0000: refusing it is the module's choice (the
    answer is observed; chapter 4 has 8506 "MQTT illegal UTF8"); the verdict is that no PUBLISH with an
    ill-formed topic name goes out: every PUBLISH up to a QoS 0 fence after it is checked."""
    conn, _ = qmt.connect_peer(peer, "dut-utf8-pub")
    line = f'AT+QMTPUB=0,0,0,0,"utf8/{BAD_STRINGS[kind]}/t",1,"u"'
    fence = _publish_then_fence(qmt, observe, line, f"AT+QMTPUB with a {kind} <topic>", "utf8/fence")
    while True:
        pub = conn.expect(codec.Publish, qmt.deadline(fence), ignore=(codec.PingReq,))
        problems = _string_problems(pub.topic, "topic name")
        assert not problems, f"PUBLISH for {line!r}: {problems} [MQTT-3.3.2-1]"
        if pub.topic == "utf8/fence":
            break
    conn.assert_conformant()


@pytest.mark.spec("3.3.7")
@pytest.mark.covers("3.3.7/QMTUNS/topic")
@pytest.mark.parametrize("kind", BAD_STRINGS)
def test_ill_formed_unsubscribe_filter_never_reaches_the_wire(modem, qmt, peer, observe, kind):
    """TP_MQTT_Client_UNSUBSCRIBE_02: the topic filters of an UNSUBSCRIBE "MUST be UTF-8 encoded strings"
    [MQTT-3.10.3-1], well formed [MQTT-1.5.3-1] and without U+0000 [MQTT-1.5.3-2]. AT+QMTUNS (3.3.7)
    with a <topic> holding bytes that are not UTF-8 (raw on the AT line), or U+0000: refusing it is the
    module's choice (observed); the verdict is that no UNSUBSCRIBE with an ill-formed filter goes out:
    every UNSUBSCRIBE up to a well-formed one after it (the fence) is checked, and each is answered."""
    conn, _ = qmt.connect_peer(peer, "dut-utf8-uns")
    line = f'AT+QMTUNS=0,71,"utf8/{BAD_STRINGS[kind]}/#"'
    resp = modem.command(line)
    observe(f"AT+QMTUNS with a {kind} <topic>", resp.final)  # no plain reading: the note has no rule
    assert resp.ok or is_error(resp), resp.final
    fence = 'AT+QMTUNS=0,72,"utf8/fence"'
    assert modem.command(fence).ok
    while True:
        uns = conn.expect(codec.Unsubscribe, qmt.deadline(fence), ignore=(codec.PingReq,))
        problems = [p for f in uns.topics for p in _string_problems(f, "topic filter")]
        assert not problems, f"UNSUBSCRIBE for {line!r}: {problems} [MQTT-3.10.3-1]"
        conn.send(codec.UnsubAck(uns.packet_id))
        if uns.packet_id == 72:
            break
    if resp.ok:
        observe("its result", modem.wait_urc("+QMTUNS", qmt.deadline(line),
                                             predicate=lambda u: u.args[:2] == [0, 71]).line)
    done = modem.wait_urc("+QMTUNS", qmt.deadline(fence), predicate=lambda u: u.args[:2] == [0, 72])
    assert done.args[2] == 0, done.line
    conn.assert_conformant()
