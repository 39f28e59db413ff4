"""Issue 13 item 4: the emulator's URCs come in the order of the packets on the wire.

When several packets arrive in one TCP segment, the module reports what each one does in the
order they came: a refused CONNACK and the server's FIN give the command's result
`+QMTCONN: 0,0,5` (3.3.4) first and then the link loss it causes, `+QMTSTAT: 0,4` (chapter 5
Table 4); a CONNACK followed by a PUBLISH gives `+QMTCONN: 0,0,0` before the `+QMTRECV` (5.2).
The server here is a bare socket that answers CONNECT with one `sendall` of all its packets and
then closes (or not), so they do arrive together; each case repeats a few times because the
wrong order used to come from a race between the engine's reader and the command's task.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from emulated import running_emulator

from harness.at.channel import ATChannel
from harness.emulator.launcher import EmulatorProcess
from harness.mqtt import codec

pytestmark = pytest.mark.timeout(60)

SCALE = 0.05
WAIT = 3.0  # real seconds for any URC
RUNS = 3


class OneSegmentServer:
    """Accepts one connection, reads the CONNECT, then writes `reply` with one sendall and,
    with `close`, shuts the socket down at once (FIN right behind the data)."""

    def __init__(self, reply: bytes, *, close: bool) -> None:
        self._reply = reply
        self._close = close
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(WAIT * 3)
        self.port: int = self._sock.getsockname()[1]
        self.got_connect = False
        self._conn: socket.socket | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        conn, _ = self._sock.accept()
        self._conn = conn
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        decoder = codec.Decoder()
        while not self.got_connect:
            data = conn.recv(4096)
            if not data:
                return
            self.got_connect = any(isinstance(p, codec.Connect) for p in decoder.feed(data))
        conn.sendall(self._reply)
        if self._close:
            conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def stop(self) -> None:
        self._thread.join(WAIT)
        if self._conn is not None:
            self._conn.close()
        self._sock.close()


@pytest.fixture(scope="module", params=["ideal", "nbiot"])
def emulator(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[EmulatorProcess]:
    """On loopback and on the NB-IoT link (bearer.py), whose FIN must travel behind the data."""
    yield from running_emulator(tmp_path_factory, SCALE, network=request.param)  # `at` over it: tests/conftest.py


def _wire_lines(at: ATChannel, server: OneSegmentServer, last: str) -> list[str]:
    """Open and connect to `server`, wait for the URC `last`, and return every URC line the
    module sent meanwhile, in the order of its bytes on the serial line."""
    raw = bytearray()
    with at.raw_rx(raw.extend):
        assert at.command(f'AT+QMTOPEN=0,"127.0.0.1",{server.port}').ok
        assert at.wait_urc("+QMTOPEN", WAIT).args == [0, 0]
        assert at.command('AT+QMTCONN=0,"order"').ok
        at.wait_urc(last, WAIT)
    server.stop()
    assert server.got_connect
    return [ln for ln in raw.decode(errors="replace").split("\r\n") if ln.startswith("+QMT")]


def _in_order(at: ATChannel, packets: list[codec.Packet], close: bool, expected: list[str]) -> None:
    """`packets` in one segment (and the close, if `close`): the URCs of `expected`'s kinds come as
    `expected`, waiting for its last one."""
    server = OneSegmentServer(b"".join(codec.encode(p) for p in packets), close=close)
    kinds = tuple(line.split(":", 1)[0] for line in expected)
    lines = _wire_lines(at, server, kinds[-1])
    assert [ln for ln in lines if ln.startswith(kinds)] == expected, lines


@pytest.mark.parametrize("run", range(RUNS))
def test_refused_connack_then_fin_result_first(at: ATChannel, run: int) -> None:
    """3.3.4 result (CONNACK return code 5, "not authorized") before chapter 5's +QMTSTAT 4."""
    _in_order(at, [codec.ConnAck(return_code=5)], True, ["+QMTCONN: 0,0,5", "+QMTSTAT: 0,4"])


@pytest.mark.parametrize("run", range(RUNS))
def test_connack_then_publish_result_first(at: ATChannel, run: int) -> None:
    """3.3.4 `+QMTCONN: 0,0,0` before the 5.2 `+QMTRECV` of a PUBLISH right behind the CONNACK."""
    _in_order(at, [codec.ConnAck(), codec.Publish("order/t", b"behind")], False,
              ["+QMTCONN: 0,0,0", '+QMTRECV: 0,0,"order/t","behind"'])


@pytest.mark.parametrize("run", range(RUNS))
def test_connack_publish_fin_in_packet_order(at: ATChannel, run: int) -> None:
    """All three at once: result, then the message, then the peer's close (+QMTSTAT 1)."""
    _in_order(at, [codec.ConnAck(), codec.Publish("order/t", b"last")], True,
              ["+QMTCONN: 0,0,0", '+QMTRECV: 0,0,"order/t","last"', "+QMTSTAT: 0,1"])
