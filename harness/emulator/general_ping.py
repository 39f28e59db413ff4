"""AT+QPING: OK at once, then one result URC per echo request and a summary (obs. fact 17; the
command belongs to the TCP/IP application note, which the manual V1.4 only lists in 14.1).

Why: host software checks the data path with it before MQTT (the recorded dashboard's "Ping
test", MB-C) and must cope with the module's framing, which obs. fact 17 recorded exactly:

    \\r\\nOK\\r\\n\\r\\n\\r\\n+QPING: 569\\r\\n      <- an extra empty line before the first URC
    \\r\\n+QPING: 569\\r\\n                   <- a lost request is a bare error code (569)
    ...
    \\r\\n+QPING: 0,4,0,4,0,0,0\\r\\n         <- <finresult>,<sent>,<rcvd>,<lost>,<min>,<max>,<avg>

The emulated network answers every echo request, except to the RFC 5737 documentation addresses,
which nothing answers (so the lost-packet case of obs. fact 17 can be produced on purpose).

DECIDED (no BC660K capture or manual text shows them): the answered form
`+QPING: 0,"<IP_address>",<bytes>,<time>,<ttl>`, as Quectel's TCP/IP notes of other modules
print it and the recorded dashboard's parser expects (MB-C), with the same extra empty line
before the first URC; <contextID> 0 only (obs. fact 11: only context 0 exists), <timeout> 1-255 s
(default 4) and <pingnum> 1-10 (default 4) as in those notes; the test form's shape; refusing
with +CME ERROR: 3 while not attached.
"""

from __future__ import annotations

import asyncio
import ipaddress

from harness.emulator.api import Command, Context, answer, handles
from harness.emulator.errors import Cme, Refused, need
from harness.emulator.general import INCORRECT, ints
from harness.emulator.general_values import PING_BYTES, PING_NAME_ADDRESS, PING_RTT_MS, PING_TTL

TIMEOUT_RESULT = 569  # obs. fact 17: the bare code of a request that timed out
SILENT_NETWORKS = tuple(ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))

answer("+QPING", "test", "+QPING: (0),<host>,(1-255),(1-10)")


def _target(host: str) -> tuple[str, bool]:
    """The address the requests go to, and whether anything answers there."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return PING_NAME_ADDRESS, True  # a host name: resolves, and answers
    return host, not any(address in net for net in SILENT_NETWORKS)


@handles("+QPING", "write")
async def qping(ctx: Context, cmd: Command) -> None:
    """AT+QPING=<contextID>,"<host>"[,<timeout>[,<pingnum>]]: OK, then the URCs (obs. fact 17)."""
    a = cmd.args
    if not 2 <= len(a) <= 4:
        raise Refused(INCORRECT)
    ints(a[:1], (0,))
    host = need(a[1].str_in(1, 150), INCORRECT)
    given = ints(a[2:], range(1, 256), range(1, 11)) if len(a) > 2 else []
    timeout_s, count = given + [4, 4][len(given):]  # the defaults of the omitted ones
    if not ctx.module.network.stat:
        raise Refused(Cme.OPERATION_NOT_ALLOWED)
    address, answers = _target(host)
    waits = [ctx.module.scaled(PING_RTT_MS / 1000 if answers else timeout_s)] * count
    ctx.ok()
    ctx.spawn(_report(ctx, address, answers, waits))


async def _report(ctx: Context, address: str, answers: bool, waits: list[float]) -> None:
    """One URC per request after its round trip (or its timeout), then the summary."""
    for i, wait in enumerate(waits):
        await asyncio.sleep(wait)
        line = f'+QPING: 0,"{address}",{PING_BYTES},{PING_RTT_MS},{PING_TTL}' if answers else \
            f"+QPING: {TIMEOUT_RESULT}"
        ctx.urc("\r\n" + line if i == 0 else line)  # obs. fact 17: one more empty line before the first
    got = len(waits) if answers else 0
    rtt = PING_RTT_MS if got else 0
    ctx.urc(f"+QPING: 0,{len(waits)},{got},{len(waits) - got},{rtt},{rtt},{rtt}")
