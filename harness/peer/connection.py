"""One client connection of the scripted MQTT peer (see server.py): recording, judging, scripting.

The socket side runs on the peer's event loop; every public method is called from the case's
thread and hands over to the loop with a bounded wait (the LoopThread the peer gives it). The
connection knows nothing of the listening side: it is given the loop, its default deadline and
whether to answer PINGREQ by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import ssl
import struct
import threading
import time
from collections import deque
from collections.abc import Coroutine, Iterable
from typing import Any, TypeVar

from harness.loop_thread import LoopThread
from harness.mqtt import codec
from harness.mqtt.codec import Direction, Framer, Packet
from harness.mqtt.session import SessionRules
from harness.peer.match import (
    Match,
    PeerError,
    PeerMismatch,
    PeerTimeout,
    PeerViolation,
    Record,
    Violation,
    describe,
    mismatch_text,
    timeout_text,
)

__all__ = ["STOP_S", "Connection"]

RECENT = 8  # log lines shown in a failure message
STOP_S = 5.0  # bound on every internal hand-over to the loop thread and on shutdown
T = TypeVar("T")


class Connection:
    """One client connection as the case sees it. Its methods are called from the case's thread,
    except serve() and ended(), which the peer's loop calls."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, loop: LoopThread,
                 default_timeout: float, auto_pingresp: bool) -> None:
        self._loop = loop
        self.default_timeout = default_timeout
        self._reader, self._writer = reader, writer
        self._cond = threading.Condition()
        self._inbox: deque[Record] = deque()
        self._rules = SessionRules()
        self.log: list[Record] = []
        self.violations: list[Violation] = []
        self.captured: dict[str, Any] = {}
        self.auto_pingresp = auto_pingresp
        self.blackholed = False
        self.closed_how: str | None = None  # "client FIN", "client RST", "peer FIN", "peer RST", ...
        self.closed_at: float | None = None
        self.opened_at = time.monotonic()
        self.client_address: tuple[Any, ...] = writer.get_extra_info("peername") or ()
        self.tls_peer_cert: dict[str, Any] | None = writer.get_extra_info("peercert")

    # ---------------------------------------------------------------- scripting API

    def expect(self, spec: Match | type, timeout: float | None = None,
               ignore: Iterable[type] = ()) -> Any:
        """The next packet from the client (skipping `ignore` types) must match `spec`; returns it."""
        match, skip = Match.of(spec), tuple(ignore)
        within = self.default_timeout if timeout is None else timeout
        rec = self._next(within, skip)
        if rec is None:
            raise PeerTimeout(timeout_text(str(match), within, self.state, self.log[-RECENT:]))
        why = match.mismatches(rec.packet, self.captured)
        if why:
            idx = next(i for i, r in enumerate(self.log) if r is rec)
            raise PeerMismatch(mismatch_text(match, rec, why, self.log[max(0, idx - RECENT + 1):idx + 1]))
        return rec.packet

    def expect_nothing(self, within: float, ignore: Iterable[type] = ()) -> None:
        """No packet (other than `ignore` types) from the client for `within` s; returns early
        if the connection ends, since nothing more can come."""
        start = time.monotonic()
        rec = self._next(within, tuple(ignore))
        if rec is not None:
            raise PeerMismatch(f"expected nothing for {within:.3f} s, got {describe(rec.packet)} "
                               f"after {max(0.0, rec.t - start):.3f} s")

    def send(self, packet: Packet) -> None:
        """Encode with the codec and write; the session rules learn what was acknowledged."""
        self._write(codec.encode(packet), packet, "")

    def send_raw(self, data: bytes, note: str = "raw") -> None:
        """Write bytes as they are (malformed packets, two packets in one segment, half a packet)."""
        frames = Framer().feed(bytes(data))
        packet = frames[0].packet if len(frames) == 1 and frames[0].raw == data else None
        self._write(bytes(data), packet, note)

    def close(self) -> None:
        """Orderly close: FIN (after TLS close_notify on a TLS connection)."""
        self._end("peer FIN", abort=False)

    def reset(self) -> None:
        """Abortive close: SO_LINGER 0, so the client gets RST instead of FIN."""
        self._end("peer RST", abort=True)

    def blackhole(self) -> None:
        """From now on answer nothing (no auto PINGRESP; send() refuses) but keep the socket open.

        Packets are still read, logged and can be expected, so a case can watch the client ping
        into the void and then see it give up (wait_closed)."""
        self.blackholed = True

    def wait_closed(self, timeout: float | None = None) -> str:
        """Wait for the connection to end; returns how (e.g. "client FIN", "client RST")."""
        within = self.default_timeout if timeout is None else timeout
        with self._cond:
            if not self._cond.wait_for(lambda: self.closed_how is not None, within):
                raise PeerTimeout(timeout_text("the client to close the connection", within, self.state,
                                               self.log[-RECENT:]))
            return self.closed_how or ""

    @property
    def state(self) -> str:
        return "connection open" if self.closed_how is None else f"connection closed: {self.closed_how}"

    # ---------------------------------------------------------------- common flows

    def handshake(self, return_code: int = 0, session_present: bool = False, *, timeout: float | None = None,
                  close_on_refusal: bool = True, **connect_fields: Any) -> codec.Connect:
        """Expect CONNECT (fields matched), answer CONNACK. A refusal (return code != 0) is followed
        by closing the connection, as [MQTT-3.2.2-5] requires of a server."""
        connect = self.expect(Match(codec.Connect, **connect_fields), timeout)
        self.send(codec.ConnAck(session_present, return_code))
        if return_code and close_on_refusal:
            self.close()
        return connect

    def ack_subscribe(self, granted: list[int] | None = None, *, timeout: float | None = None,
                      **fields: Any) -> codec.Subscribe:
        """Expect SUBSCRIBE, answer SUBACK; `granted` default: each requested QoS (0x80 = failure)."""
        sub = self.expect(Match(codec.Subscribe, **fields), timeout)
        codes = [q for _, q in sub.topics] if granted is None else granted
        self.send(codec.SubAck(sub.packet_id, codes))
        return sub

    def ack_unsubscribe(self, *, timeout: float | None = None, **fields: Any) -> codec.Unsubscribe:
        unsub = self.expect(Match(codec.Unsubscribe, **fields), timeout)
        self.send(codec.UnsubAck(unsub.packet_id))
        return unsub

    def ack_publish(self, *, timeout: float | None = None, **fields: Any) -> codec.Publish:
        """Expect PUBLISH and complete its flow: QoS 1 PUBACK; QoS 2 PUBREC, PUBREL (same id,
        flags 0b0010 checked by validate), PUBCOMP; QoS 0 nothing."""
        pub = self.expect(Match(codec.Publish, **fields), timeout)
        if pub.qos == 1:
            self.send(codec.PubAck(pub.packet_id))
        elif pub.qos == 2:
            self.send(codec.PubRec(pub.packet_id))
            self.expect(Match(codec.PubRel, packet_id=pub.packet_id), timeout)
            self.send(codec.PubComp(pub.packet_id))
        return pub

    def deliver(self, publish: codec.Publish, *, timeout: float | None = None) -> None:
        """Send PUBLISH to the client and complete its flow: QoS 1 expect PUBACK; QoS 2 expect
        PUBREC, send PUBREL, expect PUBCOMP (all with the PUBLISH's packet id)."""
        self.send(publish)
        pid = publish.packet_id
        if publish.qos == 1:
            self.expect(Match(codec.PubAck, packet_id=pid), timeout)
        elif publish.qos == 2:
            self.expect(Match(codec.PubRec, packet_id=pid), timeout)
            self.send(codec.PubRel(pid or 0))
            self.expect(Match(codec.PubComp, packet_id=pid), timeout)

    def answer_ping(self, *, timeout: float | None = None) -> codec.PingReq:
        ping = self.expect(codec.PingReq, timeout)
        self.send(codec.PingResp())
        return ping

    # ---------------------------------------------------------------- verdict helpers

    def received(self, kind: type | None = None) -> list[Record]:
        """Records of packets from the client (of one type), in arrival order."""
        return self._records(Direction.C2B, kind)

    def sent(self, kind: type | None = None) -> list[Record]:
        """Records of packets the peer wrote (of one type), in order."""
        return self._records(Direction.B2C, kind)

    def _records(self, direction: Direction, kind: type | None) -> list[Record]:
        with self._cond:
            return [r for r in self.log if r.direction is direction and (kind is None or isinstance(r.packet, kind))]

    def assert_conformant(self) -> None:
        """Raise PeerViolation listing every MQTT statement the client broke on this connection."""
        with self._cond:
            found = list(self.violations)
        if found:
            raise PeerViolation("client broke MQTT 3.1.1:\n" + "\n".join(f"  {v}" for v in found))

    def assert_keepalive(self, keepalive_s: float, slack_s: float = 0.0) -> None:
        """[MQTT-3.1.2-23]: no gap between the client's packets beyond the keep-alive (in real
        seconds: keep-alive x time scale), measured up to now or the close."""
        ins = self.received()
        end = self.closed_at if self.closed_at is not None else time.monotonic()
        times = [r.t for r in ins] + ([end] if self.closed_how is None else [])
        gaps = [(b - a, i) for i, (a, b) in enumerate(itertools.pairwise(times))]
        bad = [(g, i) for g, i in gaps if g > keepalive_s + slack_s]
        if bad:
            g, i = max(bad)
            raise PeerViolation(f"[MQTT-3.1.2-23] client silent for {g:.3f} s after {describe(ins[i].packet)}, "
                                f"keep-alive is {keepalive_s:.3f} s (+{slack_s:.3f} s slack)")

    # ---------------------------------------------------------------- internals (case thread)

    def _next(self, within: float, skip: tuple[type, ...]) -> Record | None:
        end = time.monotonic() + within
        with self._cond:
            while True:
                while self._inbox:
                    rec = self._inbox.popleft()
                    if not (skip and isinstance(rec.packet, skip)):
                        return rec
                left = end - time.monotonic()
                if left <= 0 or self.closed_how is not None:  # closed: nothing more can arrive
                    return None
                self._cond.wait(left)

    def _write(self, data: bytes, packet: Packet | None, note: str) -> None:
        what = describe(packet) if packet is not None else f"{len(data)} raw bytes"
        if self.blackholed:
            raise PeerError(f"cannot send {what}: this connection is blackholed")
        if self.closed_how is not None:
            raise PeerError(f"cannot send {what}: {self.state}")
        self._call(self._awrite(data, packet, note))

    def _end(self, how: str, abort: bool) -> None:
        with self._cond:
            if self.closed_how is not None:
                return
        self._call(self._aclose(how, abort))

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._loop.run(coro, STOP_S)

    # ---------------------------------------------------------------- internals (loop thread)

    def _add(self, rec: Record, violations: Iterable[str] = (), deliver: bool = True) -> None:
        with self._cond:
            self.log.append(rec)
            index = len(self.log) - 1
            self.violations += [Violation(index, describe(rec.packet), v) for v in violations]
            if rec.direction is Direction.C2B and deliver:
                self._inbox.append(rec)
            self._cond.notify_all()

    def ended(self, how: str) -> None:
        """Record that the connection is over and how (the first cause wins); wakes every wait."""
        with self._cond:
            if self.closed_how is None:
                self.closed_how, self.closed_at = how, time.monotonic()
            self._cond.notify_all()

    async def _awrite(self, data: bytes, packet: Packet | None, note: str) -> None:
        if self._writer.transport.is_closing():  # the client hung up since the case last looked
            what = describe(packet) if packet is not None else f"{len(data)} raw bytes"
            raise PeerError(f"cannot send {what}: {self.state}")
        if packet is not None:
            self._rules.outbound(packet)
        self._add(Record(time.monotonic(), Direction.B2C, packet, data, note))
        self._writer.write(data)
        with contextlib.suppress(OSError):
            await asyncio.wait_for(self._writer.drain(), STOP_S)

    async def _aclose(self, how: str, abort: bool) -> None:
        self.ended(how)
        transport = self._writer.transport
        if abort:
            sock = self._writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        else:
            self._writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._writer.wait_closed(), 1.0)

    async def serve(self) -> None:
        """Read until the end of the stream, recording and judging every packet (the peer's
        client handler awaits this on the loop)."""
        framer = Framer()
        try:
            while True:
                try:
                    data = await self._reader.read(65536)
                except (ConnectionResetError, ssl.SSLError, OSError) as exc:
                    self.ended("client RST" if isinstance(exc, ConnectionResetError) else f"error: {exc}")
                    return
                if not data:
                    self.ended("client FIN")
                    return
                now = time.monotonic()
                for frame in framer.feed(data):
                    if frame.packet is None:
                        await self._malformed(now, frame.raw, frame.error)
                        return
                    packet = frame.packet
                    auto = isinstance(packet, codec.PingReq) and self.auto_pingresp and not self.blackholed
                    self._add(Record(now, Direction.C2B, packet, frame.raw), self._rules.inbound(packet),
                              deliver=not auto)
                    if auto:  # answered here and kept out of expect(): the case opted out of pings
                        await self._awrite(codec.encode(codec.PingResp()), codec.PingResp(), "auto")
        finally:
            self.ended("peer stopped")

    async def _malformed(self, now: float, raw: bytes, why: str) -> None:
        """[MQTT-4.8.0-1]: a server closes the connection on a malformed packet; so does the peer."""
        self._add(Record(now, Direction.C2B, None, raw, why), [f"[MQTT-4.8.0-1] malformed packet: {why}"])
        await self._aclose("peer FIN after malformed input", abort=False)
