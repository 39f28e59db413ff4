"""A host written by someone else can use the emulator.

Two kinds of "someone else" (DESIGN: users include a firmware or host-MCU developer who wants
a module on the desk without the module):
- the broker side is Eclipse mosquitto with its own command-line clients: mosquitto_sub sees
  exactly the messages the AT side publishes (3.3.8) at each QoS, and mosquitto_pub's messages
  arrive as +QMTRECV (5.2) at each QoS, exactly once at QoS 2;
- the UART side is a minimal host MCU written the way C host libraries are (raw bytes with
  read/write on the pty, a line buffer, string matching; no harness import), running the
  chapter 6.1 flow in its own process.
"""

from __future__ import annotations

import selectors
import subprocess
import sys
import time
from pathlib import Path

import pytest
from emulated import emulator_logged

from harness.at.channel import ATChannel
from harness.broker.mosquitto import MosquittoBroker, missing_reason
from harness.spec.timing import deadline_s

pytestmark = [pytest.mark.timeout(30),
              pytest.mark.skipif(missing_reason() is not None, reason=missing_reason() or "")]

SCALE = 0.05
OPEN_WAIT = deadline_s('AT+QMTOPEN=0,"127.0.0.1",1', SCALE)  # 3.3.2: 176 module s
URC_WAIT = deadline_s('AT+QMTPUB=0,1,1,0,"t"', SCALE)  # 3.3.8: <pkt_timeout> x (<retry_times> + 1)
CLIENT_WAIT = 10.0  # real seconds for mosquitto_sub/_pub (process start + one round trip on loopback)


@pytest.fixture
def at(at: ATChannel, mosquitto_broker: MosquittoBroker) -> ATChannel:
    """A freshly reset module (tests/conftest.py), connected to mosquitto on connect ID 0 (3.3.2, 3.3.4)."""
    assert at.command(f'AT+QMTOPEN=0,"127.0.0.1",{mosquitto_broker.port}').ok
    assert at.wait_urc("+QMTOPEN", OPEN_WAIT).args == [0, 0]
    assert at.command('AT+QMTCONN=0,"emulated-bc660k"').ok
    assert at.wait_urc("+QMTCONN", URC_WAIT).args == [0, 0, 0]
    return at


# --- mosquitto's own clients ---------------------------------------------------------------------


class Sub:
    """`mosquitto_sub -v -C <n> -q <qos>`: stdout lines `<topic> <payload>`, read with a deadline."""

    def __init__(self, broker: MosquittoBroker, qos: int, count: int, *topics: str) -> None:
        args = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", str(qos), "-v",
                "-C", str(count), "-W", str(int(CLIENT_WAIT * 2))]  # -W: it stops by itself, whatever happens
        for t in topics:
            args += ["-t", t]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._buf = b""

    def line(self, timeout: float = CLIENT_WAIT) -> bytes:
        assert self.proc.stdout is not None
        end = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while b"\n" not in self._buf:
                left = end - time.monotonic()
                assert left > 0 and sel.select(left), f"mosquitto_sub printed nothing more; so far {self._buf!r}"
                chunk = self.proc.stdout.read1(65536)
                assert chunk, f"mosquitto_sub ended: {self._stderr()}"
                self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line

    def finish(self) -> int:
        """mosquitto_sub exits by itself after -C messages; its exit status."""
        try:
            return self.proc.wait(CLIENT_WAIT)
        finally:
            self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        for f in (self.proc.stdout, self.proc.stderr):
            if f is not None:
                f.close()

    def _stderr(self) -> str:
        return self.proc.stderr.read().decode(errors="replace").strip() if self.proc.stderr else ""


def mosquitto_pub(broker: MosquittoBroker, topic: str, payload: bytes, qos: int, retain: bool = False) -> None:
    args = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", topic, "-q", str(qos), "-s"]
    r = subprocess.run(args + (["-r"] if retain else []), input=payload, capture_output=True, timeout=CLIENT_WAIT)
    assert r.returncode == 0, r.stderr.decode(errors="replace")


def subscribed(broker: MosquittoBroker, qos: int, count: int, topic: str) -> Sub:
    """mosquitto_sub on `topic` and on a ready topic holding a retained message: once that
    message is printed, the subscription (one SUBSCRIBE for both) is in place."""
    ready = f"{topic}/ready"
    mosquitto_pub(broker, ready, b"ready", 1, retain=True)
    sub = Sub(broker, qos, count + 1, topic, ready)
    assert sub.line() == f"{ready} ready".encode()
    return sub


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_mosquitto_sub_sees_exactly_what_the_at_side_publishes(at: ATChannel, mosquitto_broker: MosquittoBroker,
                                                                qos: int) -> None:
    """3.3.8, all three forms (inline, Ctrl+Z data mode, fixed length) at QoS `qos`; a marker
    last, so a duplicate would push it out of mosquitto_sub's -C count."""
    topic = f"hosts/out/q{qos}"
    messages = [b'{"a":"1","b":"2"}', b"Ctrl+Z form, with commas and \xc3\xa9", b"\x00\x01bin\xff\x7f", b"end"]
    sub = subscribed(mosquitto_broker, 2, len(messages), topic)
    try:
        mid = 11 if qos else 0
        assert at.command(f'AT+QMTPUB=0,{mid},{qos},0,"{topic}",{len(messages[0])},"{messages[0].decode()}"').ok
        assert at.send_data(f'AT+QMTPUB=0,{mid + bool(qos)},{qos},0,"{topic}"', messages[1]).ok
        assert at.send_data(f'AT+QMTPUB=0,{mid + 2 * bool(qos)},{qos},0,"{topic}",{len(messages[2])}',
                            messages[2], end=None).ok
        assert at.command(f'AT+QMTPUB=0,{mid + 3 * bool(qos)},{qos},0,"{topic}",3,"end"').ok
        results = [at.wait_urc("+QMTPUB", URC_WAIT).args for _ in messages]
        assert sorted(r[1] for r in results) == [mid + k * bool(qos) for k in range(4)]
        assert all(r[2] == 0 for r in results), results
        got = [sub.line() for _ in messages]
        assert got == [topic.encode() + b" " + m for m in messages]
        assert sub.finish() == 0
    finally:
        sub.close()


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_mosquitto_pub_arrives_as_qmtrecv(at: ATChannel, mosquitto_broker: MosquittoBroker, qos: int) -> None:
    """5.2 +QMTRECV for each message mosquitto_pub sends at QoS `qos` to a QoS 2 subscription
    (3.3.6): the right payload, msgID 0 only at QoS 0, and exactly once (QoS 2: MQTT 4.3.3)."""
    topic = f"hosts/in/q{qos}"
    assert at.command(f'AT+QMTSUB=0,1,"{topic}/#",2').ok
    assert at.wait_urc("+QMTSUB", URC_WAIT).args == [0, 1, 0, 2]
    payload = b"from mosquitto_pub, QoS %d: \"quoted\", commas" % qos
    mosquitto_pub(mosquitto_broker, f"{topic}/m", payload, qos)
    mosquitto_pub(mosquitto_broker, f"{topic}/end", b"end", qos)  # anything after the message is a duplicate
    at.wait_urc("+QMTRECV", URC_WAIT, lambda u: u.args[2] == f"{topic}/end")
    recvs = [u for u in at.drain_urcs() if u.name == "+QMTRECV"]
    assert [u.args[2:] for u in recvs] == [[f"{topic}/m", payload.decode()]]
    msg_id = recvs[0].args[1]
    assert (msg_id == 0) if qos == 0 else (isinstance(msg_id, int) and 1 <= msg_id <= 65535), msg_id


# --- a host MCU that is not ours -----------------------------------------------------------------

HOST_MCU = r'''
"""A host MCU's AT driver in miniature, as C host libraries write it: raw read()/write() on the
UART, a line buffer, wait-for-string with a deadline. Chapter 6.1 flow. argv: tty port wait."""
import os, select, sys, termios, time, tty

tty_path, port, wait = sys.argv[1], sys.argv[2], float(sys.argv[3])
fd = os.open(tty_path, os.O_RDWR | os.O_NOCTTY)
tty.setraw(fd)
rx = b""

def send(data):
    os.write(fd, data)

def expect(token, timeout=wait):
    global rx
    end = time.monotonic() + timeout
    while token not in rx:
        left = end - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            sys.exit(f"timeout waiting for {token!r}; got {rx[-200:]!r}")
        rx += os.read(fd, 4096)
    head, rx = rx.split(token, 1)
    return head + token

def cmd(line, *tokens):
    send(line + b"\r")
    for t in tokens:
        expect(t)

cmd(b"AT", b"OK\r\n")
cmd(b"ATE0", b"OK\r\n")
cmd(b"AT+QSCLK=0", b"OK\r\n")
cmd(b'AT+QMTCFG="aliauth",0,"oyjtmPl5a5j","MQTT_TEST","wN9Y6pZSIIy7Exa5qVzcmigEGO4kAazZ"', b"OK\r\n")
cmd(b'AT+QMTOPEN=0,"127.0.0.1",' + port.encode(), b"OK\r\n", b"+QMTOPEN: 0,0\r\n")
cmd(b"AT+QMTOPEN?", b'+QMTOPEN: 0,"127.0.0.1",' + port.encode() + b"\r\n", b"OK\r\n")
cmd(b'AT+QMTCONN=0,"clientExample"', b"OK\r\n", b"+QMTCONN: 0,0,0\r\n")
cmd(b'AT+QMTSUB=0,1,"mcu/user/get",1', b"OK\r\n", b"+QMTSUB: 0,1,0,1\r\n")
send(b'AT+QMTPUB=0,0,0,0,"mcu/user/get"\r')
expect(b">")
time.sleep(0.02)  # hosts wait a moment after '>' (DESIGN "Module facts")
send(b"This is test data, hello MQTT.\x1a")
expect(b"OK\r\n")
expect(b"+QMTPUB: 0,0,0\r\n")
expect(b'+QMTRECV: 0,0,"mcu/user/get","This is test data, hello MQTT."\r\n')
cmd(b'AT+QMTUNS=0,2,"mcu/user/get"', b"OK\r\n", b"+QMTUNS: 0,2,0\r\n")
cmd(b"AT+QMTDISC=0", b"OK\r\n", b"+QMTDISC: 0,0\r\n")
os.close(fd)
print("host MCU: chapter 6.1 flow done")
'''


def test_minimal_host_mcu_over_the_pty(tmp_path: Path, mosquitto_broker: MosquittoBroker) -> None:
    """The pty transport works for a host that only knows bytes: chapter 6.1 end to end."""
    with emulator_logged(tmp_path / "emulator.log", SCALE, transport="pty") as emu:
        assert emu.url.startswith("/dev/pts/")
        script = tmp_path / "host_mcu.py"
        script.write_text(HOST_MCU)
        wait = max(OPEN_WAIT, URC_WAIT)
        r = subprocess.run([sys.executable, "-I", str(script), emu.url, str(mosquitto_broker.port), str(wait)],
                           capture_output=True, text=True, timeout=25)
        assert r.returncode == 0, r.stderr.strip()[-400:]
        assert r.stdout.strip() == "host MCU: chapter 6.1 flow done"
        assert emu.alive()
