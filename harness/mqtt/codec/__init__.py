"""A small MQTT 3.1 / 3.1.1 codec of our own: packets, their bytes both ways, framing, rules.

Why our own: the suite must see exactly what crossed the wire, including what a broken
peer sends (raw fixed-header flags, DUP on QoS 0, QoS 3, reserved CONNECT bit), so decoding
is lenient and keeps what it saw; `validate()` then says which MQTT 3.1.1 statements a
packet breaks. `MalformedPacket` is only raised when the bytes cannot be framed or parsed
at all. Used by the emulator's MQTT client, the scripted peer (harness/peer) and the fault
proxy (harness/proxy), always as `harness.mqtt.codec`: this package has every public name of
the modules below (their `__all__`), as asyncio's does.

packets.py     the packet dataclasses, `Packet`, the type codes and standard flags, `Direction`
               (which way a packet went, as every wire log prints it), `MalformedPacket`; encode()
               one packet to bytes, decode_packet() one packet from its first byte and body.
framing.py     the one stream framer: `Framer` (whole frames with their exact bytes, `lost` once the
               stream stops being MQTT), `Frame`, and `Decoder` (packets only, for a client).
statements.py  validate(): the MQTT 3.1.1 statements one packet breaks.

Arrows: framing -> packets; statements -> packets. Imports nothing else of the harness.
"""

from harness.mqtt.codec import framing, packets, statements
from harness.mqtt.codec.framing import *  # noqa: F403
from harness.mqtt.codec.packets import *  # noqa: F403
from harness.mqtt.codec.statements import *  # noqa: F403

__all__: list[str] = []
__all__ += packets.__all__
__all__ += framing.__all__
__all__ += statements.__all__
