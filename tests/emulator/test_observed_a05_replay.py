"""The observations file's exchanges replayed against the emulator playing `observed-a05` (issue 13,
"Done when"): one test per fact, byte for byte where the capture recorded bytes.

The table maps a fact number (../shared/observations/real-modules.md) to its exchange: what the
host sent (`Say`), what the module sent unprompted (`Hear`), what the broker did (`Broker`), and the
bytes expected back. Where a fact is an exact log, the expected bytes are the capture's, except the
values the network or the SIM assigns (identifiers the source redacted, the cell, the operator,
timers), which are matched by shape (a regular expression that spells out everything else). Where a
fact is only quoted in code or inferred from a parser, the bytes are the framing every capture
shows around the quoted line. After each exchange the module must stay quiet: an extra URC (such
as a `+QMTOPEN: 0,2` after the refused open of fact 32) fails the fact.

Every replay starts from a module reset with AT+QRST=1, then ATE0 and AT+CMEE=2 (the source of
the verbose error texts, CF, ran with AT+CMEE=2), on a scripted broker (harness.peer). Facts not
in the table are listed, with the reason, in NOT_REPLAYED.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
import serial
from emulated import running_emulator

from harness.emulator import profile_file
from harness.emulator.launcher import EmulatorProcess
from harness.mqtt import codec
from harness.peer import Connection, Match, ScriptedPeer

pytestmark = pytest.mark.timeout(60)
SCALE = 0.05
WAIT = 5.0  # real seconds for any expected byte
QUIET = 0.3  # real seconds of silence that end an exchange
OK = b"\r\nOK\r\n"
Expected = bytes | re.Pattern[bytes]


def rx(pattern: bytes) -> re.Pattern[bytes]:
    return re.compile(pattern)


@dataclass(frozen=True)
class Say:
    """The host sends `line` and <CR>; the module answers exactly `answer` ({port}: the broker's port)."""

    line: bytes
    answer: Expected
    end: bytes = b"\r"  # b"" for data-mode input (the payload and its Ctrl+Z)


@dataclass(frozen=True)
class Hear:
    """The module sends `answer` on its own (a URC or a prompt)."""

    answer: Expected


@dataclass(frozen=True)
class Broker:
    """The broker side acts (accept, CONNACK, close, deliver...); nothing crosses the UART."""

    what: str
    act: Callable[[Replay], object]


@dataclass(frozen=True)
class Sleep:
    """Module seconds without UART traffic (the module may fall asleep)."""

    module_s: float


Step = Say | Hear | Broker | Sleep


@dataclass(frozen=True)
class Fact:
    grade: str  # "exact log", "quoted in code", "inferred from parser" (the observations file's)
    steps: tuple[Step, ...]


@dataclass
class Replay:
    port: serial.Serial
    peer: ScriptedPeer
    conn: Connection | None = None
    seen: list[bytes] = field(default_factory=list)
    rest: bytes = b""  # read past a pattern's end, not yet consumed

    def take(self, n: int) -> bytes:
        if self.rest:
            out, self.rest = self.rest[:n], self.rest[n:]
            return out
        return self.port.read(n)

    def fill(self, data: bytes) -> bytes:
        return data.replace(b"{port}", str(self.peer.port).encode())

    def read(self, want: Expected, what: str) -> None:
        """Exactly `want` and no byte more (read only as many bytes as an exact answer has)."""
        buf = b""
        deadline = time.monotonic() + WAIT
        if isinstance(want, bytes):
            want = self.fill(want)
            while len(buf) < len(want) and time.monotonic() < deadline:
                buf += self.take(len(want) - len(buf))
            assert buf == want, f"{what}: expected {want!r}, the module sent {buf!r}"
        else:
            pattern = re.compile(self.fill(want.pattern), want.flags)
            while not pattern.fullmatch(buf) and time.monotonic() < deadline:
                buf += self.take(1)
            assert pattern.fullmatch(buf), f"{what}: expected /{pattern.pattern!r}/, the module sent {buf!r}"
            while more := self.take(1):  # greedy: "\r\n>" matches, and so does "\r\n> " a moment later
                if not pattern.fullmatch(buf + more):
                    self.rest = more + self.rest
                    break
                buf += more
        self.seen.append(buf)

    def run(self, steps: tuple[Step, ...]) -> None:
        for i, step in enumerate(steps, 1):
            if isinstance(step, Say):
                self.port.write(self.fill(step.line) + step.end)
                self.read(step.answer, f"step {i}, {self.fill(step.line).decode()}")
            elif isinstance(step, Hear):
                self.read(step.answer, f"step {i}, unprompted")
            elif isinstance(step, Broker):
                step.act(self)
            else:
                time.sleep(step.module_s * SCALE)
        self.port.timeout = QUIET
        extra = self.rest + self.port.read(4096)
        assert extra == b"", f"after the exchange the module sent {extra!r}"


# --- the broker's moves ------------------------------------------------------------------------


def accept(r: Replay) -> None:
    r.conn = r.peer.accept(WAIT)


def connack(code: int = 0) -> Broker:
    def act(r: Replay) -> None:
        assert r.conn is not None
        r.conn.handshake(code, timeout=WAIT)

    return Broker(f"CONNACK {code}", act)


def close(r: Replay) -> None:
    assert r.conn is not None
    r.conn.close()
    r.conn.wait_closed(WAIT)


def deliver(topic: str, payload: bytes) -> Broker:
    def act(r: Replay) -> None:
        assert r.conn is not None
        r.conn.send(codec.Publish(topic, payload))

    return Broker(f"PUBLISH {topic}", act)


def queued_then_suback(topic: str, payload: bytes) -> Broker:
    """Fact 42: a persistent session's queued message goes out the moment the client subscribes,
    before the SUBACK."""

    def act(r: Replay) -> None:
        assert r.conn is not None
        sub = r.conn.expect(codec.Subscribe, WAIT)
        r.conn.send(codec.Publish(topic, payload))
        r.conn.send(codec.SubAck(sub.packet_id, [q for _, q in sub.topics]))

    return Broker("PUBLISH queued, then SUBACK", act)


def ack_subscribe(r: Replay) -> None:
    assert r.conn is not None
    r.conn.ack_subscribe(timeout=WAIT)


def receive(**fields: object) -> Broker:
    def act(r: Replay) -> None:
        assert r.conn is not None
        r.conn.ack_publish(timeout=WAIT, **fields)

    return Broker(f"PUBLISH {fields}", act)


def expect_connect(**fields: object) -> Broker:
    def act(r: Replay) -> None:
        assert r.conn is not None
        r.conn.expect(Match(codec.Connect, **fields), WAIT)
        r.conn.send(codec.ConnAck(False, 0))

    return Broker(f"CONNECT {fields}, CONNACK 0", act)


ACCEPT = Broker("accept", accept)
CLOSE = Broker("close (FIN)", close)
SUBACK = Broker("SUBACK", ack_subscribe)
OPEN = (Say(b'AT+QMTOPEN=0,"127.0.0.1",{port}', OK), ACCEPT, Hear(b"\r\n+QMTOPEN: 0,0\r\n"))
CONN = (Say(b'AT+QMTCONN=0,"obs-a05","user"', OK), connack(0), Hear(b"\r\n+QMTCONN: 0,0,0\r\n"))
JSON = b'{"method":"setValue","params":{"on":true}}'  # raw double quotes, as ThingsBoard RPCs carry
BEFORE_SLEEP = 12.0  # module seconds of silence: more than the 10 s a module stays awake (fact 21)
ENTER = b'\r\n+QNBIOTEVENT: "ENTER DEEPSLEEP"\r\n'  # fact 21, quoted as ZE matches it (CF writes no quotes)
EXIT = b'\r\n+QNBIOTEVENT: "EXIT DEEPSLEEP"\r\n'
IP = rx(rb"\r\n\+IP: \d+\.\d+\.\d+\.\d+\r\n")  # fact 22: the address is the network's
NO_PUBLISH = Broker("no PUBLISH", lambda r: r.conn.expect_nothing(QUIET, ignore=(codec.PingReq,)))  # type: ignore[union-attr]


def info(*lines: bytes) -> bytes:
    """Information lines, one CRLF apart, then a blank line and OK (facts 1, 19: every capture)."""
    return b"\r\n" + b"\r\n".join(lines) + b"\r\n" + OK


# --- the table: fact number -> exchange -> expected bytes ------------------------------------------

FACTS: dict[int, Fact] = {
    1: Fact("exact log", (Say(b"ATI", b"\r\nQuectel_Ltd\r\nQuectel_BC660K-GL\r\nRevision: BC660KGLAAR01A05\r\n"
                                      b"\r\nOK\r\n"),)),
    2: Fact("exact log", (Say(b"AT+CGMR", b"\r\nRevision: BC660KGLAAR01A05\r\n\r\nOK\r\n"),)),
    3: Fact("quoted in code", (Say(b"AT+CGMM", info(b"Quectel_BC660K-GL")),)),
    4: Fact("exact log", (Say(b"AT+CGSN=1", rx(rb"\r\n\+CGSN: \d{15}\r\n\r\nOK\r\n")),  # IMEI redacted
                          Say(b"AT+CIMI", rx(rb"\r\n\d{15}\r\n\r\nOK\r\n")),  # a bare IMSI line
                          Say(b"AT+QCCID", rx(rb"\r\n\+QCCID: \d{20}\r\n\r\nOK\r\n")),
                          Say(b"AT+CPIN?", info(b"+CPIN: READY")))),
    5: Fact("exact log", (Say(b"AT+CBC", b"\r\n+CBC: 3470\r\n\r\nOK\r\n"),)),
    6: Fact("exact log", (Say(b"AT+QTEMP", b"\r\nERROR\r\n"),)),
    # stat 5 (roaming), TAC, cell and the network's timers are the network's: by shape
    7: Fact("exact log", (Say(b"AT+CEREG=4", OK),
                          Say(b"AT+CEREG?", rx(rb'\r\n\+CEREG: 4,[15],"[0-9A-F]{4}","[0-9A-F]{8}",9,,,"[01]{8}",'
                                              rb'"[01]{8}"\r\n\r\nOK\r\n')))),
    8: Fact("exact log", (Say(b"AT+CPSMS?", info(b'+CPSMS: 1,,,"01000001","00000101"')),)),  # UD: a fresh module
    9: Fact("exact log", (Say(b"AT+CEDRXS?", info(b'+CEDRXS: 5,"0011"')),
                          Say(b"AT+CEDRXRDP", info(b"+CEDRXRDP: 0")))),
    10: Fact("exact log", (Say(b"AT+QSCLK=1", OK), Say(b"AT+QSCLK?", info(b"+QSCLK: 1")))),
    # the SIM unpowered at CFUN=0 (UD), and CFUN kept across a restart: `ue not power on` until CFUN=1 (CF)
    12: Fact("quoted in code", (Say(b"AT+CFUN=0", OK), Say(b"AT+CPIN?", info(b"+CPIN: NOT READY")),
                                Say(b"AT+QRST=1", OK), Hear(b"\r\nRDY\r\n"), Say(b"AT+CMEE=2", OK),
                                Say(b"AT+CPIN?", b"\r\n+CME ERROR: ue not power on\r\n"),
                                Say(b"AT+CFUN=1", OK), Say(b"AT+CPIN?", info(b"+CPIN: READY")), Hear(IP))),
    11: Fact("exact log", (Say(b"AT+CGDCONT?", rx(rb'\r\n\+CGDCONT: 0,"IP","[^"]+","\d+\.\d+\.\d+\.\d+"\r\n'
                                                  rb"\r\nOK\r\n")),
                           Say(b"AT+CGPADDR=1", info(b"+CGPADDR: 1")),
                           Say(b'AT+CGDCONT=0,"IP","iot.example"', b"\r\n+CME ERROR: operation not supported\r\n"))),
    13: Fact("quoted in code", (*OPEN,
                                Say(b'AT+QMTOPEN=0,"127.0.0.1",{port}', b"\r\n+CME ERROR: operation not allowed\r\n"),
                                Say(b'AT+CGDCONT=0,"IP","x"', b"\r\n+CME ERROR: operation not supported\r\n"),
                                Say(b'AT+QMTCONN=0,"id","token",""', b"\r\n+CME ERROR: Incorrect parameters\r\n"))),
    14: Fact("exact log", (Say(b"AT+QSCLK=1", OK), Sleep(BEFORE_SLEEP), Say(b"AT", b"\r\n"), Say(b"AT", OK))),
    15: Fact("inferred from parser", (Say(b"ATE1", OK),
                                      Say(b'AT+QSSLCFG=0,0,"seclevel",2', b'AT+QSSLCFG=0,0,"seclevel",2\r\r\nOK\r\n'))),
    17: Fact("exact log", (Say(b'AT+QPING=0,"192.0.2.1",4,4', b"\r\nOK\r\n"),  # nothing answers: every request lost
                           Hear(b"\r\n\r\n+QPING: 569\r\n" + b"\r\n+QPING: 569\r\n" * 3
                                + b"\r\n+QPING: 0,4,0,4,0,0,0\r\n"))),
    18: Fact("exact log", (Say(b'AT+COPS=1,2,"00101"', OK), Say(b"AT+COPS?", info(b'+COPS: 1,2,"00101",9')))),
    19: Fact("exact log", (Say(b"AT+QENG=0", rx(rb"\r\n\+QENG: 0,\d+,\d+,\d+,\"[0-9A-F]{8}\",-\d+,-\d+,-\d+,-?\d+,\d+,"
                                                rb"\"[0-9A-F]{4}\",\d,-?\d+,\d\r\n\+QENG: 1,\d+,\d+,-\d+,-\d+\r\n"
                                                rb"\r\nOK\r\n")),
                           Say(b'AT+QENG="servingcell"', b"\r\nERROR\r\n"))),
    20: Fact("quoted in code", (Say(b"AT+CCLK?", rx(rb"\r\n\+CCLK: \d\d/\d\d/\d\d,\d\d:\d\d:\d\d\+08\r\n\r\nOK\r\n")),
                                Say(b"AT+CTZR=3", OK), Say(b"AT+CFUN=0", OK), Say(b"AT+CFUN=1", OK),
                                Hear(rx(rb'\r\n\+CTZEU: "\+8",1,"\d{4}/\d\d/\d\d,\d\d:\d\d:\d\d"\r\n')), Hear(IP))),
    21: Fact("quoted in code", (Say(b"AT+QNBIOTEVENT=1,1", OK), Say(b"AT+QSCLK=1", OK), Hear(ENTER),
                                Say(b"AT", b"\r\n"), Hear(EXIT), Say(b"AT", OK), Say(b"AT+QSCLK=0", OK))),
    22: Fact("quoted in code", (Say(b"AT+CFUN=0", OK), Say(b"AT+CFUN=1", OK), Hear(IP))),
    25: Fact("inferred from parser", (Say(b'AT+QMTCFG="will",0', rx(rb"\r\n\+QMTCFG: [^\r]*\r\n\r\nOK\r\n")),
                                      Say(b'AT+QMTCFG="session",0,1', OK), Say(b'AT+QMTCFG="keepalive",0,60', OK),
                                      Say(b'AT+QMTCFG="timeout",0,30', OK), Say(b'AT+QMTCFG="version",0,1', OK),
                                      Say(b'AT+QMTCFG="ssl",0,1,0,0', OK), Say(b'AT+QMTCFG="ssl",0,0', OK))),
    26: Fact("quoted in code", (Say(b'AT+QMTCFG="keepalive",0,3600', OK), Say(b'AT+QMTCFG="session",0,0', OK),
                                *OPEN, Say(b'AT+QMTCONN=0,"obs-a05"', OK),
                                expect_connect(keepalive=3600, clean_session=False),
                                Hear(b"\r\n+QMTCONN: 0,0,0\r\n"))),
    27: Fact("inferred from parser", (Say(b'AT+QMTCFG="version",0,1', OK), *OPEN, Say(b'AT+QMTCONN=0,"obs-a05"', OK),
                                      expect_connect(protocol_name="MQTT", protocol_level=4),  # MQTT 3.1.1
                                      Hear(b"\r\n+QMTCONN: 0,0,0\r\n"))),
    30: Fact("quoted in code", OPEN),
    32: Fact("quoted in code", (Say(b"AT+QMTCLOSE=0", b"\r\nERROR\r\n"), *OPEN,  # nothing open: ERROR, harmless
                                Say(b'AT+QMTOPEN=0,"127.0.0.1",{port}', b"\r\n+CME ERROR: operation not allowed\r\n"),
                                Say(b"AT+QMTCLOSE=0", b"\r\nOK\r\n\r\n+QMTCLOSE: 0,0\r\n"), *OPEN)),
    33: Fact("quoted in code", (*OPEN, CLOSE, Hear(b"\r\n+QMTSTAT: 0,7\r\n"))),  # the broker drops the idle link
    34: Fact("inferred from parser", (Say(b"AT+QMTOPEN?", OK), *OPEN,
                                      Say(b"AT+QMTOPEN?", info(b'+QMTOPEN: 0,"127.0.0.1",{port}')))),
    36: Fact("inferred from parser", (*OPEN, Say(b"AT+QMTCLOSE=0", b"\r\nOK\r\n\r\n+QMTCLOSE: 0,0\r\n"))),
    37: Fact("quoted in code", (*OPEN,
                                Say(b'AT+QMTCONN=0,"id","token",""', b"\r\n+CME ERROR: Incorrect parameters\r\n"),
                                Say(b'AT+QMTCONN=0,"id","token"', OK), expect_connect(username="token", password=None),
                                Hear(b"\r\n+QMTCONN: 0,0,0\r\n"))),
    38: Fact("inferred from parser", (*OPEN, Say(b'AT+QMTCONN=0,"obs-a05","user"', OK), connack(5),
                                      Hear(b"\r\n+QMTCONN: 0,0,5\r\n"), Hear(rx(rb"\r\n\+QMTSTAT: 0,\d\r\n")))),
    39: Fact("inferred from parser", (*OPEN, *CONN, Say(b"AT+QMTDISC=0", b"\r\nOK\r\n\r\n+QMTDISC: 0,0\r\n"))),
    41: Fact("inferred from parser", (*OPEN, *CONN, Say(b'AT+QMTSUB=0,1,"v1/devices/me/rpc/request/+",1', OK),
                                      SUBACK, Hear(b"\r\n+QMTSUB: 0,1,0,1\r\n"))),
    42: Fact("quoted in code", (*OPEN, *CONN, Say(b'AT+QMTSUB=0,1,"cmd",1', OK), queued_then_suback("cmd", b"on"),
                                Hear(b'\r\n+QMTRECV: 0,0,"cmd","on"\r\n'), Hear(b"\r\n+QMTSUB: 0,1,0,1\r\n"))),
    43: Fact("quoted in code", (*OPEN, *CONN, Say(b'AT+QMTPUB=0,0,0,0,"v1/devices/me/telemetry"', rx(rb"(\r\n)?> ?")),
                                Say(JSON + b"\x1a", OK, end=b""), receive(payload=JSON, qos=0),
                                Hear(b"\r\n+QMTPUB: 0,0,0\r\n"))),
    44: Fact("quoted in code", (*OPEN, *CONN, Say(b"AT+QNBIOTEVENT=1,1", OK), Say(b"AT+QSCLK=1", OK), Hear(ENTER),
                                Say(b'AT+QMTPUB=0,0,0,0,"t"', b"\r\n"), Hear(EXIT),  # no prompt, no ERROR
                                Say(b"AT+QSCLK=0", OK), NO_PUBLISH)),  # the publish is lost
    45: Fact("quoted in code", (*OPEN, *CONN, Say(b'AT+QMTPUB=0,1,1,0,"t"', rx(rb"(\r\n)?> ?")),
                                Say(b"x\x1a", OK, end=b""), receive(payload=b"x", qos=1),
                                Hear(b"\r\n+QMTPUB: 0,1,0\r\n"))),
    46: Fact("quoted in code", (*OPEN, *CONN, Say(b'AT+QMTPUB=0,0,0,0,"t",5,"hello"', OK), receive(payload=b"hello"),
                                Hear(b"\r\n+QMTPUB: 0,0,0\r\n"))),
    49: Fact("quoted in code", (*OPEN, *CONN, Say(b'AT+QMTSUB=0,1,"v1/devices/me/rpc/request/+",1', OK), SUBACK,
                                Hear(b"\r\n+QMTSUB: 0,1,0,1\r\n"), deliver("v1/devices/me/rpc/request/7", JSON),
                                Hear(b'\r\n+QMTRECV: 0,0,"v1/devices/me/rpc/request/7","' + JSON + b'"\r\n'))),
    50: Fact("quoted in code", (*OPEN, *CONN, Say(b'AT+QMTSUB=0,1,"rpc",0', OK), SUBACK,
                                Hear(b"\r\n+QMTSUB: 0,1,0,0\r\n"), deliver("rpc", b"p" * 200),
                                Hear(b'\r\n+QMTRECV: 0,0,"rpc","' + b"p" * 200 + b'"\r\n'))),  # one line, uncut
    53: Fact("quoted in code", (*OPEN, CLOSE, Hear(b"\r\n+QMTSTAT: 0,7\r\n"),  # dead: the host reopens
                                Say(b"AT+QMTCLOSE=0", b"\r\nERROR\r\n"), *OPEN, *CONN)),
    55: Fact("inferred from parser", (Say(b'AT+QSSLCFG=0,0,"seclevel",0', OK),
                                      Say(b'AT+QSSLCFG=0,0,"sslversion",4', OK),
                                      Say(b'AT+QSSLCFG=0,0,"dataformat",0,0', OK),
                                      Say(b'AT+QSSLCFG=0,0,"timeout",90', OK), Say(b'AT+QSSLCFG=0,0,"debug",0', OK),
                                      Say(b'AT+QMTCFG="ssl",0,1,0,0', OK))),
}

# Facts with no exchange replayed here, and why (the report of issue 13 item 3 lists them too).
NOT_REPLAYED: dict[int, str] = {
    16: "boot: PWRKEY, then RDY after about 10 s: a time, not bytes (tests/emulator/test_emulator_power.py times it)",
    23: "UART rate and AT+IPR: the emulator has no baud mismatch to replay",
    24: "timing of simple commands (21-42 ms): not bytes; the emulator answers at once",
    28: "AT+QMTCFG=ssl,... without quotes: the outcome was never recorded",
    29: "BC66/BC20 defaults: not a BC660K fact",
    31: "+CSCON: 1 before +QMTOPEN: RRC is not modelled (general_net.py: the module is always idle)",
    35: "host timeouts: no exchange",
    40: "host timeouts: no exchange",
    47: "~1400-byte payload limit: one host's comment, not measured, no failure mode recorded (see observed-a05.toml)",
    48: "BC66 non-data AT+QMTPUB without a length: not a BC660K form",
    51: "+QMTRECV inside any command's response: no exchange recorded to replay (fact 42 is the one recorded)",
    52: "BC66 in PSM: not a BC660K fact",
    54: "+QMTSTAT: 0,8 after a QoS 1 burst: not from a BC660K",
    56: "certificate upload: from the SSL note, not observed",
}


def test_every_fact_is_replayed_or_says_why_not() -> None:
    assert not set(FACTS) & set(NOT_REPLAYED)
    assert set(range(1, 57)) - {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 17, 18, 19, 20} - set(FACTS) \
        - set(NOT_REPLAYED) == set()


# --- running the table ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """observed-a05; BC660K_REPLAY_FIRMWARE replays the facts against another profile (a name or a
    lab's file), which shows where that firmware differs from the real A05."""
    firmware = os.environ.get("BC660K_REPLAY_FIRMWARE", "observed-a05")
    assert profile_file.resolve(firmware).name == firmware or os.sep in firmware
    yield from running_emulator(tmp_path_factory, SCALE, firmware=firmware)


@pytest.fixture(scope="module")
def port(emulator: EmulatorProcess) -> Iterator[serial.Serial]:
    p = serial.serial_for_url(emulator.url, timeout=0.05)  # one connection: pyserial sleeps in every close
    yield p
    p.close()


@pytest.fixture
def replay(port: serial.Serial) -> Iterator[Replay]:
    """A module just reset (AT+QRST=1, RDY), echo off, verbose errors; a broker of its own."""
    port.timeout = 0.05
    port.write(b"AT\r")  # wakes a module the previous fact left asleep (fact 14), as real hosts do
    time.sleep(0.2)
    port.reset_input_buffer()
    port.write(b"AT+CFUN=1\r")  # the radio on before the reset: a module keeps CFUN across it (fact 12)
    port.write(b"AT+QRST=1\r")
    buf = b""
    deadline = time.monotonic() + WAIT
    while not buf.endswith(b"RDY\r\n") and time.monotonic() < deadline:
        buf += port.read(max(1, port.in_waiting))
    assert buf.endswith(b"RDY\r\n"), buf
    with ScriptedPeer(default_timeout=WAIT) as peer:
        r = Replay(port, peer)
        for line in (b"ATE0", b"AT+CMEE=2"):
            port.write(line + b"\r")
            r.read(rx(rb"(ATE0\r)?\r\nOK\r\n"), line.decode())
        yield r


@pytest.mark.parametrize("fact", sorted(FACTS), ids=lambda n: f"fact-{n}")
def test_replay(replay: Replay, fact: int) -> None:
    replay.run(FACTS[fact].steps)
