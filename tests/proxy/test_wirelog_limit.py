"""The wire log is bounded (issue 19, item 4: "bounded resources ... with a visible note when they
drop"): the fault proxy runs for the whole session, so a flood of PUBLISHes, or megabytes of
payload, must not grow it (and every report built from it) without end. The oldest records go
first; a slice that lost records says how many, in its text and its JSON; seqs and marks keep
their meaning. Checked on the log itself and through a real proxy in front of the real amqtt
broker, flooded by a real MQTT client."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from harness.broker import EmbeddedBroker, Observer
from harness.mqtt import codec
from harness.mqtt.codec import Direction
from harness.proxy import FaultProxy, WireLog
from harness.proxy.wirelog import MAX_BYTES, MAX_RECORDS

pytestmark = pytest.mark.timeout(60)


def _publish(log: WireLog, size: int = 10) -> int:
    packet = codec.Publish(topic="t", payload=b"x" * size, qos=0)
    raw = codec.encode(packet)
    return log.packet(1, Direction.C2B, raw, packet)


def test_the_oldest_records_go_first_with_a_note_in_the_slice_that_lost_them() -> None:
    log = WireLog(max_records=5)
    start = log.mark()
    seqs = [log.event(1, "OPEN", f"number {i}") for i in range(12)]
    assert len(log) == 5 and log.dropped == 7
    assert [r.seq for r in log.records()] == seqs[-5:]  # the newest kept
    assert log.mark() == seqs[-1] + 1  # seqs count every record, kept or dropped
    text = log.render(since=start)
    assert text.splitlines()[1] == ("… 7 records dropped (wire log limit: 5 records or "
                                    f"{MAX_BYTES} bytes of frames kept, the oldest dropped first) …"), text
    assert "number 11" in text and "number 6" not in text
    assert json.loads(log.to_json(since=start))["dropped"]["records"] == 7
    # a slice that begins after the dropped records lost nothing: no note
    later = log.render(since=seqs[-2])
    assert "dropped" not in later and len(later.splitlines()) == 3
    assert "dropped" not in json.loads(log.to_json(since=seqs[-2]))
    # a slice that began inside the dropped part counts only its own losses
    assert "… 2 records dropped" in log.render(since=seqs[5])
    # forwarded() on a dropped record is a no-op, on a kept one it stamps that one
    log.forwarded(seqs[0])
    log.forwarded(seqs[-1], t=123.0)
    assert [r.t_out for r in log.records()] == [None] * 4 + [123.0]


def test_bytes_of_frames_are_bounded_and_the_newest_frame_stays_however_big() -> None:
    log = WireLog(max_bytes=1000)
    for _ in range(10):
        _publish(log, size=290)  # about 300 bytes on the wire each
    assert len(log) == 3 and log.dropped == 7
    assert sum(r.size for r in log.records()) <= 1000
    big = _publish(log, size=5000)
    assert [r.seq for r in log.records()] == [big]
    assert "… 10 records dropped" in log.render()


def test_clear_starts_a_new_log_with_nothing_lost() -> None:
    log = WireLog(max_records=2)
    for i in range(5):
        log.event(1, "OPEN", str(i))
    log.clear()
    assert log.render() == "wire log: no records" and "dropped" not in log.to_json()
    log.event(1, "OPEN", "again")
    assert "dropped" not in log.render()


def test_the_default_limits_are_real_bounds() -> None:
    assert 1000 <= MAX_RECORDS <= 1_000_000 and MAX_BYTES <= 256 * 1024 * 1024
    with pytest.raises(ValueError, match="max_records"):
        WireLog(max_records=0)


@pytest.fixture
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as running:
        yield running


def test_a_flood_through_the_real_proxy_keeps_the_newest_with_a_note(broker: EmbeddedBroker) -> None:
    with FaultProxy(broker.host, broker.port) as proxy:
        proxy.log = WireLog(max_records=100)  # before any connection: the proxy logs into it
        mark = proxy.log.mark()
        client = Observer(proxy.host, proxy.port, client_id="flood").connect()
        try:
            for i in range(400):
                client.publish("flood/t", f"message {i}".encode(), qos=0)
            last = proxy.log.wait_for(lambda r: r.packet is not None and getattr(r.packet, "payload", b"")
                                      == b"message 399", timeout=10, direction=Direction.C2B, type="PUBLISH",
                                      since=mark)
        finally:
            client.close()
        assert len(proxy.log) <= 100 and proxy.log.dropped >= 300
        text = proxy.log.render(since=mark)
        assert "records dropped (wire log limit: 100 records" in text.splitlines()[1], text[:500]
        assert "payload=b'message 399'" in text  # the newest kept
        assert "CONNECT" not in [r.type for r in proxy.log.records()]  # the oldest (CONNECT) went first
        assert last.seq == max(r.seq for r in proxy.log.packets(type="PUBLISH"))
