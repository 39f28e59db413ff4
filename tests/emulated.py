"""Shared setup for the harness tests that drive the emulator over its real transport: start it
and, when it stops, check that no handler crashed along the way; hand a case a freshly reset
module; pick the broker a case needs; talk raw MQTT to a broker, to see its answers packet by
packet (`Raw`), and the checks both real brokers' tests make through it. The fixtures over these
are in tests/conftest.py."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest

from harness.at.channel import ATChannel
from harness.broker import Observer, ObserverError
from harness.broker.embedded import EmbeddedBroker
from harness.broker.mosquitto import MosquittoBroker, missing_reason
from harness.emulator.launcher import EmulatorProcess
from harness.mqtt.codec import ConnAck, Connect, Decoder, Packet, PubComp, Publish, PubRec, PubRel, encode
from harness.spec.timing import boot_deadline_s


@contextlib.contextmanager
def emulator_logged(log: Path, time_scale: float, **start: object) -> Iterator[EmulatorProcess]:
    """A started emulator logging to `log`, stopped at the end; when the block ended normally,
    fail on any `emulator ERROR` log line (a handler or background task that crashed)."""
    emu = EmulatorProcess.start(time_scale=time_scale, log_path=log, **start)  # type: ignore[arg-type]
    try:
        yield emu
    finally:
        emu.stop()
    assert emu.control is None or not emu.control.exists()  # a control socket goes with its emulator
    crashed = [x for x in log.read_text(errors="replace").splitlines() if x.startswith("emulator ERROR")]
    assert not crashed, f"{log}: {crashed}"


def running_emulator(tmp_path_factory: pytest.TempPathFactory, time_scale: float,
                     **start: object) -> Generator[EmulatorProcess, None, str]:
    """For a fixture: yield a started emulator (`emulator_logged`) and return its log, for checks of its own."""
    log = tmp_path_factory.mktemp("emulator") / "stderr.log"
    with emulator_logged(log, time_scale, **start) as emu:
        yield emu
    return log.read_text(errors="replace")


@contextlib.contextmanager
def fresh_module(url: str, time_scale: float) -> Iterator[ATChannel]:
    """A channel to a module just reset with AT+QRST=1 (connections closed, AT+QMTCFG defaults
    back, 3.3.1 "will not be saved"), echo off and numeric errors."""
    ch = ATChannel(url, time_scale=time_scale)
    try:
        assert ch.command("AT+CFUN=1").ok  # a firmware that keeps CFUN (obs. fact 12) boots with the radio on
        assert ch.command("AT+QRST=1").ok
        ch.wait_urc("RDY", boot_deadline_s(time_scale))
        ch.drain_urcs()  # what the previous case's links reported before the reset
        assert ch.command("ATE0").ok and ch.command("AT+CMEE=1").ok
        yield ch
    finally:
        ch.close()


def mosquitto_else_amqtt() -> Iterator[MosquittoBroker | EmbeddedBroker]:
    """mosquitto when installed (a second, independent broker implementation), else amqtt."""
    b: MosquittoBroker | EmbeddedBroker
    b = MosquittoBroker().start() if missing_reason() is None else EmbeddedBroker(host="127.0.0.1", port=0).start()
    yield b
    b.stop()


# -- raw MQTT over a socket, so a broker's answers are seen packet by packet -----------------------

WAIT = 3.0  # loopback answers take milliseconds; this only bounds a broker that stays silent
ACCEPTED = ConnAck(False, 0, flags=0)  # CONNACK: no session present, connection accepted


class Raw:
    """A TCP connection to a broker on loopback speaking MQTT through our codec (no client library)."""

    def __init__(self, port: int, timeout: float = WAIT) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.decoder = Decoder()
        self.queue: list[Packet] = []

    def send(self, packet: Packet) -> None:
        self.sock.sendall(encode(packet))

    def next(self) -> Packet | None:
        """The next packet; None when the broker closed the connection (TimeoutError: it said nothing)."""
        while not self.queue:
            try:
                data = self.sock.recv(4096)
            except ConnectionResetError:
                return None
            if not data:
                return None
            self.queue.extend(self.decoder.feed(data))
        return self.queue.pop(0)

    def connect(self, client_id: str, **kw: object) -> Packet | None:
        self.send(Connect(client_id, **kw))  # type: ignore[arg-type]
        return self.next()

    def retransmit_pubrel(self, packet_id: int = 7) -> None:
        """On a new connection: a QoS 2 PUBLISH through PUBREC, PUBREL and PUBCOMP, then the PUBREL
        again (a retransmission: 3.1.1 4.3.3 wants PUBCOMP again; `next()` says what came)."""
        assert self.connect("pubrel-retry", keepalive=60) == ACCEPTED
        self.send(Publish("pubrel/retry", b"payload", qos=2, packet_id=packet_id))
        assert self.next() == PubRec(packet_id, flags=0)
        self.send(PubRel(packet_id))
        assert self.next() == PubComp(packet_id, flags=0)
        self.send(PubRel(packet_id))

    def duplicate_qos2(self, client_id: str, duplicates: int, packet_id: int = 9) -> None:
        """On a new connection: a QoS 2 PUBLISH, then `duplicates` of it (DUP set) before any PUBREL,
        each acknowledged again with PUBREC (3.1.1 4.3.3)."""
        assert self.connect(client_id, keepalive=60) == ACCEPTED
        self.send(Publish("dup/qos2", b"x", qos=2, packet_id=packet_id))
        assert self.next() == PubRec(packet_id, flags=0)
        for _ in range(duplicates):
            self.send(Publish("dup/qos2", b"x", qos=2, packet_id=packet_id, dup=True))
            assert self.next() == PubRec(packet_id, flags=0)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Raw:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- password checks, as both real brokers' tests make them ----------------------------------------

def password_checked(port: int) -> None:
    """A broker with the one user dut/s3cret and anonymous not allowed: the right password connects,
    a wrong one or an unknown user is refused with 5 (not authorized: amqtt and mosquitto 2.0 never
    answer 4), and no refusal quotes a password."""
    with Observer("127.0.0.1", port, username="dut", password="s3cret").connect() as ok:
        assert ok.connack_code == 0
    for user, password in (("dut", "wrong"), ("nobody", "s3cret")):
        refused = Observer("127.0.0.1", port, username=user, password=password)
        with pytest.raises(ObserverError) as info:
            refused.connect()
        assert str(info.value).endswith("refused the connection: CONNACK return code 5")
        assert refused.connack_code == 5
        assert "wrong" not in str(info.value) and "s3cret" not in str(info.value)
    with pytest.raises(ObserverError, match="CONNACK return code 5"):
        Observer("127.0.0.1", port).connect()  # no user name and anonymous not allowed


def given_password_checked(port: int) -> None:
    """A broker with the user dut/s3cret and anonymous allowed: anonymous connects, a wrong password does not."""
    Observer("127.0.0.1", port).connect().close()
    with pytest.raises(ObserverError, match="CONNACK return code 5"):
        Observer("127.0.0.1", port, username="dut", password="nope").connect()


@contextlib.contextmanager
def back_after_offline(port: int, meanwhile: Callable[[Observer], None] | None = None) -> Iterator[Observer]:
    """A persistent session (clean session 0): persist-1 subscribes to persist/t at QoS 1 and goes
    away; a QoS 1 message is published there meanwhile (`meanwhile` does more with that publisher);
    persist-1, back, is sent the message. Yields persist-1 back."""
    with Observer("127.0.0.1", port, client_id="persist-1", clean_session=False).connect() as first:
        first.subscribe("persist/t", qos=1)
    with Observer("127.0.0.1", port).connect() as pub:
        pub.publish("persist/t", b"while offline", qos=1)
        if meanwhile is not None:
            meanwhile(pub)
    with Observer("127.0.0.1", port, client_id="persist-1", clean_session=False).connect() as again:
        assert again.wait_message("persist/t", timeout=WAIT).payload == b"while offline"
        yield again
