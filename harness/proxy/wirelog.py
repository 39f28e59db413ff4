"""The wire log: what crossed the wire between the DUT and the broker, packet by packet.

Why it exists: the AT transcript says what the module *claimed*; the wire log is the evidence of
what it *did* (DUP on a retransmission, the packet id it reused, the keep-alive it put in CONNECT),
and of which fault the proxy injected where. It goes into the reports next to the AT transcript.

One record per MQTT packet as the proxy received it from its sender, plus connection events.
The fault a rule applied is on the same record (``fault``), with ``t_out``, the time the packet
went on to the other side (None: it never did), so a delay shows in the timestamps, and
``violations``, the MQTT 3.1.1 statements the packet breaks as its sender sent it (judged by
harness.proxy.judge before any rule acted on it).

Secrets never enter the log: a CONNECT keeps its fields but its password reads ``***``, and the
raw bytes of a CONNECT (or of a malformed frame claiming to be one) are not kept at all.

Bounded (issue 19, item 4): the proxy runs for the whole session, and a DUT that floods PUBLISHes
(or a case that sends megabytes of payload) must not grow the log, and every report built from
it, without end. At most ``max_records`` records and ``max_bytes`` bytes of frames are kept; the
oldest go first (a case reads only its own slice, the newest records), and what a slice lost
shows as one line in its rendering and as ``dropped`` in its JSON, like the transcript's and the
URC queue's limits (harness/at/transcript.py, harness/at/urc_queue.py). Seqs count every record,
kept or dropped, so a mark taken before a flood still means the same place after it.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any

from harness.mqtt import codec
from harness.mqtt.codec import Direction

__all__ = ["REDACTED", "Record", "WireLog", "WireLogTimeout", "type_name"]

NO_DIRECTION = "--"  # printed for a connection event that concerns neither direction alone
REDACTED = b"***"
PAYLOAD_SHOWN = 32  # bytes of payload rendered before "..."
RAW_KEPT_JSON = 256  # bytes of raw frame written to JSON before truncation
MAX_RECORDS = 50_000  # records kept for the session; the oldest are dropped beyond this
MAX_BYTES = 32 * 1024 * 1024  # bytes of frames (Record.size) kept; the oldest records dropped beyond this


class WireLogTimeout(TimeoutError):
    """No matching record arrived in time; the message is one line naming what was awaited."""


def type_name(kind: type | str) -> str:
    """``codec.PubAck`` or ``"puback"`` -> ``"PUBACK"``: the names the log and the rules use."""
    return (kind.__name__ if isinstance(kind, type) else str(kind)).upper()


@dataclass(frozen=True)
class Record:
    """One packet (``kind`` "packet" or "malformed") or connection event (``kind`` "event")."""

    seq: int
    t: float  # time.monotonic() when the proxy received it
    wall: float  # time.time() at the same moment
    conn: int  # connection number, 1 for the first client the proxy accepted
    direction: Direction | None  # None: an event of the whole connection
    type: str  # "PUBLISH", "PUBACK", ..., "MALFORMED", or an event name ("OPEN", "EOF", ...)
    kind: str
    packet: codec.Packet | None = None  # decoded (CONNECT password redacted)
    flags: int | None = None  # low nibble of the fixed header as received
    raw: bytes | None = None  # the frame as received; None for CONNECT (it holds the password)
    size: int = 0  # bytes on the wire
    note: str = ""  # why a frame is malformed, or the detail of an event
    fault: str | None = None  # "rule#2 Drop()" when a rule fired on this packet
    t_out: float | None = None  # when it was forwarded to the other side; None: never
    violations: tuple[str, ...] = ()  # MQTT 3.1.1 statements the packet breaks (harness.proxy.judge)

    @property
    def dup(self) -> bool | None:
        return self.packet.dup if isinstance(self.packet, codec.Publish) else None

    @property
    def qos(self) -> int | None:
        return self.packet.qos if isinstance(self.packet, codec.Publish) else None

    @property
    def retain(self) -> bool | None:
        return self.packet.retain if isinstance(self.packet, codec.Publish) else None

    @property
    def packet_id(self) -> int | None:
        return getattr(self.packet, "packet_id", None)

    @property
    def topic(self) -> str | None:
        return self.packet.topic if isinstance(self.packet, codec.Publish) else None

    @property
    def payload_len(self) -> int | None:
        return len(self.packet.payload) if isinstance(self.packet, codec.Publish) else None

    @property
    def forwarded(self) -> bool:
        return self.t_out is not None

    def line(self, t0: float) -> str:
        """`+0.012s #1 C>B PUBLISH qos=1 dup=0 retain=0 id=7 topic='a/b' len=12 payload=b'..'`."""
        head = f"{self.t - t0:+.3f}s #{self.conn} {self.direction or NO_DIRECTION} {self.type}"
        parts = [head, *_details(self)]
        if self.fault is not None:
            parts.append(f"[{self.fault}]")
        if self.t_out is not None and self.t_out - self.t >= 0.001:
            parts.append(f"(sent {self.t_out - t0:+.3f}s)")
        elif self.t_out is None and self.kind != "event":
            parts.append("(not forwarded)")
        if self.violations:
            parts.append("VIOLATES " + "; ".join(self.violations))
        return " ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        raw = self.raw
        return {
            "seq": self.seq, "t": self.t, "wall": self.wall, "conn": self.conn,
            "direction": str(self.direction or NO_DIRECTION), "type": self.type, "kind": self.kind,
            "flags": self.flags, "dup": self.dup, "qos": self.qos, "retain": self.retain,
            "packet_id": self.packet_id, "topic": self.topic, "payload_len": self.payload_len,
            "summary": " ".join(_details(self)), "size": self.size, "note": self.note,
            "fault": self.fault, "t_out": self.t_out, "violations": list(self.violations),
            "raw_hex": None if raw is None else raw[:RAW_KEPT_JSON].hex(),
            "raw_truncated": raw is not None and len(raw) > RAW_KEPT_JSON,
        }


def _show_payload(data: bytes) -> str:
    shown = repr(data[:PAYLOAD_SHOWN])
    return shown + ("..." if len(data) > PAYLOAD_SHOWN else "")


def _details(r: Record) -> list[str]:
    p = r.packet
    if r.kind == "event" or (r.kind == "malformed" and p is None):
        return [r.note] if r.note else []
    if isinstance(p, codec.Publish):
        out = [f"qos={p.qos} dup={int(p.dup)} retain={int(p.retain)}"]
        if p.packet_id is not None:
            out.append(f"id={p.packet_id}")
        return [*out, f"topic={p.topic!r} len={len(p.payload)} payload={_show_payload(p.payload)}"]
    if isinstance(p, codec.Connect):
        out = [f"client_id={p.client_id!r} proto={p.protocol_name}/{p.protocol_level}",
               f"clean={int(p.clean_session)} keepalive={p.keepalive}"]
        if p.username is not None:
            out.append(f"user={p.username!r}")
        if p.password is not None:
            out.append("password=***")
        if p.will_flag:
            out.append(f"will={p.will_topic!r} will_qos={p.will_qos} will_retain={int(p.will_retain)}")
        return out
    if isinstance(p, codec.ConnAck):
        return [f"rc={p.return_code} session_present={int(p.session_present)}"]
    if isinstance(p, codec.Subscribe):
        return [f"id={p.packet_id}", "topics=" + ",".join(f"{t!r}@{q}" for t, q in p.topics)]
    if isinstance(p, codec.Unsubscribe):
        return [f"id={p.packet_id}", "topics=" + ",".join(repr(t) for t in p.topics)]
    if isinstance(p, codec.SubAck):
        return [f"id={p.packet_id}", "codes=" + ",".join(str(c) for c in p.return_codes)]
    out = [f"id={r.packet_id}"] if r.packet_id is not None else []
    flags = r.flags
    if flags is not None and flags != codec.STANDARD_FLAGS.get(type(p), 0):
        out.append(f"flags={flags:#06b}")  # nonstandard header flags are evidence too
    return out


def _redact(packet: codec.Packet | None) -> codec.Packet | None:
    if isinstance(packet, codec.Connect) and packet.password is not None:
        return replace(packet, password=REDACTED)
    return packet


class WireLog:
    """A thread-safe, append-only list of records with blocking queries for cases; bounded, the
    oldest records dropped first (see the module docstring)."""

    def __init__(self, max_records: int = MAX_RECORDS, max_bytes: int = MAX_BYTES) -> None:
        if max_records < 1 or max_bytes < 1:
            raise ValueError(f"wire log: max_records and max_bytes must be >= 1, not {max_records}, {max_bytes}")
        self.max_records, self.max_bytes = max_records, max_bytes
        self._records: deque[Record] = deque()
        self._base = 1  # seq of the first record; clear() moves it on so seqs never repeat
        self._bytes = 0  # sum of the kept records' sizes
        self.dropped = 0  # records dropped by the limit since the log was made
        self._cond = threading.Condition()

    # -- writing (the proxy's loop thread) ---------------------------------------------------

    def packet(self, conn: int, direction: Direction, raw: bytes, packet: codec.Packet | None,
               error: str = "", fault: str | None = None, violations: tuple[str, ...] = ()) -> int:
        """Log a frame as received (with the MQTT 3.1.1 statements it breaks); returns its seq for
        ``forwarded``."""
        first_type = raw[0] >> 4 if raw else 0
        is_connect = isinstance(packet, codec.Connect) or (packet is None and first_type == 1)
        kind = "packet" if packet is not None else "malformed"
        name = type_name(type(packet)) if packet is not None else "MALFORMED"
        return self._add(conn, direction, name, kind, packet=_redact(packet), flags=raw[0] & 0x0F if raw else None,
                         raw=None if is_connect else bytes(raw), size=len(raw), note=error, fault=fault,
                         violations=tuple(violations))

    def event(self, conn: int, name: str, note: str = "", direction: Direction | None = None) -> int:
        return self._add(conn, direction, name, "event", note=note)

    def forwarded(self, seq: int, t: float | None = None) -> None:
        """Stamp when a logged packet went on to the other side (first time only)."""
        with self._cond:
            i = seq - self._records[0].seq if self._records else -1
            if 0 <= i < len(self._records) and self._records[i].t_out is None:
                self._records[i] = replace(self._records[i], t_out=time.monotonic() if t is None else t)
                self._cond.notify_all()

    def _add(self, conn: int, direction: Direction | None, name: str, kind: str, **fields: Any) -> int:
        with self._cond:
            seq = self._records[-1].seq + 1 if self._records else self._base
            record = Record(seq, time.monotonic(), time.time(), conn, direction, name, kind, **fields)
            self._records.append(record)
            self._bytes += record.size
            # the newest always stays, however big: the evidence of how a flood ended
            while len(self._records) > 1 and (len(self._records) > self.max_records or self._bytes > self.max_bytes):
                self._bytes -= self._records.popleft().size
                self.dropped += 1
            self._cond.notify_all()
            return seq

    def _kept(self, since: int) -> list[Record]:
        """Kept records with seq >= since (seqs are consecutive: no scan of the older ones)."""
        if not self._records:
            return []
        return list(islice(self._records, max(0, since - self._records[0].seq), None))

    def _lost(self, since: int) -> int:
        """Records with seq >= since that the limit dropped (those between since and the oldest kept)."""
        first = self._records[0].seq if self._records else self.mark()
        return max(0, first - max(since, self._base))

    def _limit_note(self, lost: int) -> str:
        return (f"… {lost} records dropped (wire log limit: {self.max_records} records or "
                f"{self.max_bytes} bytes of frames kept, the oldest dropped first) …")

    # -- reading (any thread) --------------------------------------------------------------

    def records(self, since: int = 0) -> list[Record]:
        """Every record with seq >= ``since`` (a value from ``mark()``), oldest first."""
        with self._cond:
            return self._kept(since)

    def mark(self) -> int:
        """The seq the next record will get: pass it as ``since`` to see only what follows."""
        with self._cond:
            return self._records[-1].seq + 1 if self._records else self._base

    def clear(self) -> None:
        with self._cond:
            self._base = self.mark()
            self._records.clear()
            self._bytes = 0

    def __len__(self) -> int:
        with self._cond:
            return len(self._records)

    def packets(self, direction: Direction | str | None = None, type: type | str | None = None,
                conn: int | None = None, since: int = 0) -> list[Record]:
        """Packets (malformed frames included; events only when ``type`` names one), filtered."""
        return [r for r in self.records(since) if _is_match(r, direction, type, conn)]

    def events(self, since: int = 0) -> list[Record]:
        return [r for r in self.records(since) if r.kind == "event"]

    def violations(self, since: int = 0, until: int | None = None,
                   direction: Direction | str | None = None) -> list[Record]:
        """Packets that break MQTT 3.1.1 (``violations`` set), seq in [since, until), one direction or both."""
        return [r for r in self.records(since) if r.violations and (until is None or r.seq < until)
                and (direction is None or r.direction == direction)]

    def wait_for(self, predicate: Callable[[Record], bool] | None = None, timeout: float = 5.0, *,
                 direction: Direction | str | None = None, type: type | str | None = None,
                 conn: int | None = None, count: int = 1, since: int = 0) -> Record:
        """Block until ``count`` records match (all filters and ``predicate``); return the last one.
        Packets by default; an event when ``type`` names it (``type="EOF"``)."""
        def matching() -> list[Record]:
            return [r for r in self._kept(since) if _is_match(r, direction, type, conn)
                    and (predicate is None or predicate(r))]

        with self._cond:
            found: list[Record] = []

            def enough() -> bool:
                found[:] = matching()
                return len(found) >= count

            if self._cond.wait_for(enough, timeout):
                return found[count - 1]
            last = self._records[-1].line(self._records[0].t) if self._records else "empty"
        what = " ".join(x for x in (direction, type_name(type) if type is not None else "packet") if x)
        extra = " matching the predicate" if predicate is not None else ""
        raise WireLogTimeout(f"wire log: {len(found)} of {count} {what}{extra} within {timeout} s "
                             f"(last record: {last})")

    # -- output ----------------------------------------------------------------------------

    def render(self, since: int = 0) -> str:
        """A readable table: a header, then one line per record, times relative to the first."""
        with self._cond:
            recs, lost = self._kept(since), self._lost(since)
        if not recs:
            return "wire log: no records"
        t0 = recs[0].t
        start = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(recs[0].wall))
        head = (f"wire log: {len(recs)} records from {start}Z ({Direction.C2B} client to broker, "
                f"{Direction.B2C} broker to client)")
        note = [self._limit_note(lost)] if lost else []
        return "\n".join([head, *note, *(r.line(t0) for r in recs)])

    def to_json(self, since: int = 0) -> str:
        with self._cond:
            recs, lost = self._kept(since), self._lost(since)
        doc: dict[str, Any] = {"t0": recs[0].t if recs else None, "records": [r.as_dict() for r in recs]}
        if lost:
            doc["dropped"] = {"records": lost, "note": self._limit_note(lost)}
        return json.dumps(doc, indent=1)


def _is_match(r: Record, direction: Direction | str | None, kind: type | str | None, conn: int | None) -> bool:
    """Events match only when asked for by name (``type="EOF"``), never by default."""
    return ((r.type == type_name(kind) if kind is not None else r.kind != "event")
            and (direction is None or r.direction == direction) and (conn is None or r.conn == conn))
