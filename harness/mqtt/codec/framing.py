"""The one MQTT framer: a byte stream cut into packets by their remaining length.

Why one: the emulator's client (through Decoder), the scripted peer and the fault proxy all cut
streams into frames, and each once did it its own way. Framer keeps every frame's bytes as received
and says when framing is lost (`lost`), which only a stream reader can know: a single packet
decodes or does not, a stream can stop being MQTT.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.mqtt.codec.packets import MalformedPacket, Packet, decode_packet

__all__ = ["Decoder", "Frame", "Framer"]


@dataclass(frozen=True)
class Frame:
    """One frame cut from a byte stream: its bytes as received (fixed header included) and what
    they decode to. ``packet`` None: the bytes do not decode; ``error`` says why."""

    raw: bytes
    packet: Packet | None
    error: str = ""


class Framer:
    """Incremental framing of one direction of an MQTT stream: feed bytes, get whole frames.

    Each frame is cut by its remaining length and decoded with decode_packet(); a frame that does
    not decode comes back with ``packet`` None and the stream stays framed. Framing itself is lost
    when a frame starts with a reserved packet type (0 or 15) or its remaining length runs past
    four bytes: every byte held comes back as one undecoded frame, ``lost`` says why, and from then
    on each chunk fed comes back as it is (nothing waits for a length that may never arrive)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.lost: str | None = None

    def feed(self, data: bytes) -> list[Frame]:
        if self.lost is not None:
            return [Frame(bytes(data), None, "MQTT framing lost earlier in this stream")] if data else []
        self._buf += data
        out: list[Frame] = []
        while self._buf:
            cut = self._cut()
            if cut is None:
                break
            if isinstance(cut, str):
                out.append(self._lose(cut))
                break
            header, size = cut
            raw = bytes(self._buf[:size])
            del self._buf[:size]
            try:
                out.append(Frame(raw, decode_packet(raw[0], raw[header:])))
            except MalformedPacket as exc:
                out.append(Frame(raw, None, str(exc)))
        return out

    def flush(self) -> Frame | None:
        """At the end of the stream: the incomplete frame left, if any."""
        if not self._buf:
            return None
        frame = Frame(bytes(self._buf), None, f"stream ended inside a packet ({len(self._buf)} bytes)")
        self._buf.clear()
        return frame

    @property
    def pending(self) -> int:
        """Bytes held waiting for the rest of a frame."""
        return len(self._buf)

    def _cut(self) -> tuple[int, int] | str | None:
        """(header length, frame length) of the frame at the front of the buffer; None while
        its bytes are not all here; a string when framing is lost (why)."""
        buf = self._buf
        if buf[0] >> 4 in (0, 15):
            return f"reserved packet type {buf[0] >> 4}"
        length = 0
        for i in range(1, min(len(buf), 5)):
            length |= (buf[i] & 0x7F) << (7 * (i - 1))
            if not buf[i] & 0x80:
                return (i + 1, i + 1 + length) if len(buf) >= i + 1 + length else None
        return "remaining length longer than 4 bytes" if len(buf) >= 5 else None

    def _lose(self, why: str) -> Frame:
        self.lost = why
        frame = Frame(bytes(self._buf), None, why)
        self._buf.clear()
        return frame


class Decoder:
    """Streaming decoder: feed whatever the socket gave, get the complete packets.

    MalformedPacket when a frame does not decode or framing is lost; the bytes held are dropped
    and the caller is expected to close the connection ([MQTT-4.8.0-1])."""

    def __init__(self) -> None:
        self._framer = Framer()

    def feed(self, data: bytes) -> list[Packet]:
        out: list[Packet] = []
        for frame in self._framer.feed(data):
            if frame.packet is None:
                self._framer = Framer()
                raise MalformedPacket(frame.error)
            out.append(frame.packet)
        return out

    @property
    def pending(self) -> int:
        """Bytes held waiting for the rest of a packet."""
        return self._framer.pending
