"""Every packet through the fault proxy is judged against MQTT 3.1.1 (issue 15 item 3), and a
violation fails the case that caused it.

First the proxy alone: a raw TCP client breaks rules on purpose through a real FaultProxy in front
of the real embedded amqtt broker, and the wire log names each statement. Then a throw-away
conformance project (tests/run_project.py) runs cases that use the product's `wire` fixture: the
case whose client broke a rule fails with the violation named, the one that did not passes, a
violation logged after the body is an error of that case, and one outside every case is a
session-level entry (terminal summary and record.json)."""

from __future__ import annotations

import json
import socket
import ssl

import pytest
from run_project import make_project, run, summary_counts

from harness.mqtt import codec
from harness.mqtt.codec import Direction, Frame
from harness.proxy import Drop, FaultProxy, Rule
from harness.proxy.judge import MALFORMED, WireJudge

pytestmark = pytest.mark.timeout(60)
C2B, B2C = Direction.C2B, Direction.B2C


def connected(proxy: FaultProxy, client_id: str) -> socket.socket:
    """A raw client through the proxy, CONNECT sent and CONNACK read."""
    sock = socket.create_connection((proxy.host, proxy.port), timeout=5)
    sock.sendall(codec.encode(codec.Connect(client_id)))
    proxy.log.wait_for(direction=B2C, type=codec.ConnAck)
    return sock


def raw(packet: codec.Packet, flags: int | None = None) -> bytes:
    """The packet's bytes, with the fixed-header flags replaced when given (a rule broken on purpose)."""
    data = bytearray(codec.encode(packet))
    if flags is not None:
        data[0] = (data[0] & 0xF0) | flags
    return bytes(data)


def test_publish_qos1_with_packet_id_0_is_named(proxy: FaultProxy) -> None:
    with connected(proxy, "bad-pid") as sock:
        sock.sendall(raw(codec.Publish("t/a", b"x", qos=1, packet_id=0)))
        rec = proxy.log.wait_for(direction=C2B, type=codec.Publish)
    assert any(v.startswith("[MQTT-2.3.1-1]") for v in rec.violations), rec.violations
    assert "VIOLATES [MQTT-2.3.1-1]" in rec.line(rec.t)
    (as_json,) = [r for r in json.loads(proxy.log.to_json())["records"] if r["seq"] == rec.seq]
    assert as_json["violations"] == list(rec.violations)
    assert [r.type for r in proxy.log.violations(direction=C2B)] == ["PUBLISH"]


def test_subscribe_with_wrong_fixed_header_flags_is_named(proxy: FaultProxy) -> None:
    with connected(proxy, "bad-flags") as sock:
        sock.sendall(raw(codec.Subscribe(3, [("t/#", 1)]), flags=0b0000))
        rec = proxy.log.wait_for(direction=C2B, type=codec.Subscribe)
    assert any(v.startswith("[MQTT-2.2.2-2] SUBSCRIBE fixed-header flags must be 0b0010") for v in rec.violations)


def test_a_conformant_client_has_no_violation(proxy: FaultProxy) -> None:
    with connected(proxy, "good") as sock:
        sock.sendall(codec.encode(codec.Subscribe(1, [("g/#", 1)])))
        proxy.log.wait_for(direction=B2C, type=codec.SubAck)
        sock.sendall(codec.encode(codec.Publish("g/1", b"hi", qos=1, packet_id=2)))
        proxy.log.wait_for(direction=B2C, type=codec.PubAck)
        sock.sendall(codec.encode(codec.Disconnect()))
        proxy.log.wait_for(type="EOF")
    assert proxy.log.violations() == []


def test_session_rules_apply_first_packet_must_be_connect(proxy: FaultProxy) -> None:
    with socket.create_connection((proxy.host, proxy.port), timeout=5) as sock:
        sock.sendall(codec.encode(codec.PingReq()))
        rec = proxy.log.wait_for(direction=C2B, type=codec.PingReq)
    assert any(v.startswith("[MQTT-3.1.0-1]") for v in rec.violations), rec.violations


def test_resend_after_a_dropped_puback_must_carry_dup(proxy: FaultProxy) -> None:
    """The PUBACK the proxy dropped never reached the client, so its re-send is judged as one:
    DUP=0 breaks [MQTT-3.3.1-1], DUP=1 is what MQTT asks for."""
    proxy.add_rule(Rule(Drop(), direction=B2C, type=codec.PubAck, count=2))
    with connected(proxy, "resend") as sock:
        first = codec.Publish("r/1", b"x", qos=1, packet_id=9)
        sock.sendall(codec.encode(first))
        proxy.log.wait_for(direction=B2C, type=codec.PubAck)
        sock.sendall(codec.encode(first))  # re-sent without DUP
        proxy.log.wait_for(direction=B2C, type=codec.PubAck, count=2)
        sock.sendall(codec.encode(codec.Publish("r/1", b"x", qos=1, packet_id=9, dup=True)))
        proxy.log.wait_for(direction=B2C, type=codec.PubAck, count=3)
    sent = proxy.log.packets(direction=C2B, type=codec.Publish)
    assert [bool(r.violations) for r in sent] == [False, True, False], [r.line(sent[0].t) for r in sent]
    assert sent[1].violations[0].startswith("[MQTT-3.3.1-1]")


def test_a_tls_client_at_a_plain_listener_is_named_not_judged(proxy: FaultProxy) -> None:
    """3.3.1 "ssl": a module with <SSL_enable> 1 sends a real ClientHello to the plain listener; that is
    a correct TLS handshake, not a malformed CONNECT, so it is named and breaks no MQTT statement."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    # the broker never answers a ClientHello
    with socket.create_connection((proxy.host, proxy.port), timeout=1) as sock, \
            pytest.raises((ssl.SSLError, OSError)):
        context.wrap_socket(sock, server_hostname="broker.invalid")
    event = proxy.log.wait_for(type="NOT-MQTT")
    assert "TLS handshake" in event.note
    assert proxy.log.violations() == [], [r.line(r.t) for r in proxy.log.violations()]


def test_a_client_whose_first_bytes_only_look_like_tls_is_still_judged() -> None:
    judge = WireJudge()  # 0x16 0x02: not a TLS record (major version 2), a CONNECT with bad flags
    assert judge.received(C2B, Frame(b"\x16\x02\x00\x00", None, "CONNECT: truncated"))[0].startswith(MALFORMED)
    assert judge.not_mqtt == ""


def test_undecodable_frame_is_a_violation_and_a_cut_link_is_not() -> None:
    judge = WireJudge()
    assert judge.received(C2B, Frame(b"\x30\x02\x00\x05", None, "PUBLISH: truncated at byte 2")) == (
        f"{MALFORMED} PUBLISH: truncated at byte 2",)
    assert judge.received(C2B, Frame(b"\x30", None, "stream ended inside a packet (1 bytes)")) == ()


def test_broker_packets_are_judged_alone_and_mqtt31_dup_flags_are_allowed() -> None:
    judge = WireJudge()
    assert judge.received(B2C, Frame(b"", codec.SubAck(1, [3])))[0].startswith("[MQTT-3.9.3-2]")
    judge.received(C2B, Frame(b"", codec.Connect("old", protocol_name="MQIsdp", protocol_level=3)))
    assert judge.received(C2B, Frame(b"", codec.Subscribe(4, [("a", 1)], flags=0b1010))) == ()
    judge311 = WireJudge()
    judge311.received(C2B, Frame(b"", codec.Connect("new")))
    assert judge311.received(C2B, Frame(b"", codec.Subscribe(4, [("a", 1)], flags=0b1010)))


def test_a_pubrel_resent_on_a_resumed_session_is_not_out_of_turn() -> None:
    """[MQTT-4.4.0-1]: reconnected with CleanSession 0 the client re-sends the PUBREL whose PUBREC came on
    the earlier connection; with CleanSession 1 a PUBREL without PUBREC is still [MQTT-4.3.3-1]."""
    resumed, fresh = WireJudge(), WireJudge()
    resumed.received(C2B, Frame(b"", codec.Connect("dut", clean_session=False)))
    assert resumed.received(C2B, Frame(b"", codec.PubRel(9))) == ()
    fresh.received(C2B, Frame(b"", codec.Connect("dut", clean_session=True)))
    assert fresh.received(C2B, Frame(b"", codec.PubRel(9)))[0].startswith("[MQTT-4.3.3-1]")


# --- a case fails because of it: a real pytest run of cases that use the `wire` fixture -----------

CASES = '''
import socket
import ssl
import time

import pytest

from harness.mqtt import codec


def _client(proxy, client_id):
    mark = proxy.log.mark()
    sock = socket.create_connection((proxy.host, proxy.port), timeout=5)
    sock.sendall(codec.encode(codec.Connect(client_id)))
    proxy.log.wait_for(direction="B>C", type=codec.ConnAck, since=mark)
    return sock


def test_client_breaks_mqtt(wire):
    with _client(wire.proxy, "breaks") as sock:
        sock.sendall(codec.encode(codec.Publish("t/x", b"x", qos=1, packet_id=0)))
        wire.log.wait_for(direction="C>B", type=codec.Publish)
    # the body itself asserts nothing: the wire verdict is what fails this case


def test_client_conforms(wire):
    with _client(wire.proxy, "conforms") as sock:
        sock.sendall(codec.encode(codec.Publish("t/y", b"y", qos=1, packet_id=7)))
        wire.log.wait_for(direction="B>C", type=codec.PubAck)
        sock.sendall(codec.encode(codec.Disconnect()))


@pytest.fixture
def late_sender(wire):
    sock = _client(wire.proxy, "late")
    yield
    bad = bytearray(codec.encode(codec.Unsubscribe(5, ["u"])))
    bad[0] &= 0xF0  # UNSUBSCRIBE with flags 0000
    sock.sendall(bytes(bad))
    wire.log.wait_for(direction="C>B", type=codec.Unsubscribe)
    sock.close()


def test_violation_after_the_body(wire, late_sender):
    pass


def test_outside_every_case_slice(_proxy):
    mark = _proxy.log.mark()
    with _client(_proxy, "nobody") as sock:
        bad = bytearray(codec.encode(codec.Subscribe(6, [("s", 0)])))
        bad[0] &= 0xF0
        sock.sendall(bytes(bad))
        _proxy.log.wait_for(direction="C>B", type=codec.Subscribe, since=mark)
'''


def test_a_violation_fails_the_case_that_caused_it(tmp_path) -> None:
    project = make_project(tmp_path, {"test_wire_verdicts.py": CASES})
    proc = run(project, "-rA")
    out = proc.stdout
    counts = summary_counts(out)
    assert counts == {"failed": 1, "passed": 3, "error": 1}, out[-3000:]
    assert "FAILED suites/test_wire_verdicts.py::test_client_breaks_mqtt" in out
    assert "WireViolation: the DUT broke MQTT 3.1.1 on the wire (fault proxy)" in out
    assert "PUBLISH (wire log seq" in out and "[MQTT-2.3.1-1]" in out
    assert "ERROR at teardown of test_violation_after_the_body" in out
    assert "[MQTT-2.2.2-2] UNSUBSCRIBE fixed-header flags" in out
    assert "PASSED suites/test_wire_verdicts.py::test_client_conforms" in out
    # the SUBSCRIBE of a case without `wire` belongs to no case: a session-level entry
    summary = out.split("MQTT 3.1.1 violations on the wire that no case owns", 1)[1]
    assert "SUBSCRIBE" in summary and "[MQTT-2.2.2-2]" in summary
    record = json.loads((project / "reports" / "record.json").read_text())
    verdicts = {c["nodeid"].split("::")[1]: c["verdict"] for c in record["cases"]}
    assert verdicts == {"test_client_breaks_mqtt": "failed", "test_client_conforms": "passed",
                        "test_violation_after_the_body": "error", "test_outside_every_case_slice": "passed"}
    outside = record["wire_violations"]["dut_outside_cases"]
    assert [(v["type"], v["violations"][0][:14]) for v in outside] == [("SUBSCRIBE", "[MQTT-2.2.2-2]")]
