"""Network-side general commands: signal and cell (AT+CESQ, AT+QENG), bands (AT+QBAND,
AT+QBANDSCAN), the signalling connection (AT+CSCON), PDP contexts (AT+CGDCONT) and time
(AT+CCLK, AT+CTZR), and what the network sends at registration (NITZ, the bearer's +IP). Manual
V1.4 chapters 4, 5.4, 7 and 12; obs. facts 11, 19, 20, 22.

Why: host software polls AT+CSQ / AT+QENG=0 / AT+CESQ, reads AT+CGDCONT? for the APN and the
context to use, and AT+CCLK? for the time; a module that answers ERROR stops them. Every value
comes from general_values.py, so the answers describe one cell.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

from harness.emulator.api import Command, Context, answer, handles
from harness.emulator.errors import Cme, Refused, need
from harness.emulator.general import CIDS, INCORRECT, PDP_TYPES, ints, on_registered, setting
from harness.emulator.general_values import (
    BAND,
    CELL_ID,
    DST_HOURS,
    EARFCN,
    EARFCN_OFFSET,
    ECL,
    IP_ADDRESS,
    NEIGHBOUR,
    NETWORK_APN,
    OPERATION_MODE,
    PCI,
    RSRP_DBM,
    RSRQ_DB,
    RSSI_DBM,
    SINR_DB,
    TAC,
    TX_POWER_DBM,
    ZONE_QUARTERS,
)
from harness.emulator.state import ModuleState

# --- signal and cell -----------------------------------------------------------------------


def rsrq_index(db: float) -> int:
    """Manual 4.2 <rsrq>: 0 below -19.5 dB, then one step per 0.5 dB, 34 from -3 dB."""
    return max(0, min(34, int((db + 20) * 2)))


def rsrp_index(dbm: float) -> int:
    """Manual 4.2 <rsrp>: 0 below -140 dBm, then one step per dB, 97 from -44 dBm."""
    return max(0, min(97, int(dbm + 141)))


def csq_rssi(dbm: float) -> int:
    """Manual 4.7 <rssi>: 0 at -113 dBm or less, 2 dBm per step, 31 from -51 dBm."""
    return max(0, min(31, int((dbm + 113) // 2)))


assert csq_rssi(RSSI_DBM) == 25  # what general.py's AT+CSQ answers: the same cell


# manual 4.2, NOTEs 2-3: <rxlev>/<ber> 99 and <rscp>/<ecno> 255 on NB-IoT; ranges from its tables
answer("+CESQ", "test", "+CESQ: (0-63,99),(0-7,99),(0-96,255),(0-49,255),(0-34,255),(0-97,255)")
answer("+CESQ", "exec", lambda m: "+CESQ: 99,99,255,255," + (
    f"{rsrq_index(RSRQ_DB)},{rsrp_index(RSRP_DBM)}" if m.network.cfun == 1 else "255,255"))


answer("+QENG", "test", "+QENG: (0-3)")  # manual 4.8 <mode> 0-3 (only 0 is modelled)

SERVING_LINE = (f'+QENG: 0,{EARFCN},{EARFCN_OFFSET},{PCI},"{CELL_ID}",{RSRP_DBM},{RSRQ_DB},{RSSI_DBM},'
                f'{SINR_DB},{BAND},"{TAC}",{ECL},{TX_POWER_DBM},{OPERATION_MODE}')
NEIGHBOUR_LINE = "+QENG: 1," + ",".join(map(str, NEIGHBOUR))


@handles("+QENG", "write")
async def qeng(ctx: Context, cmd: Command) -> None:
    """AT+QENG=0: the serving cell in 14 fields, then one line per neighbour, single CRLFs between
    them, a blank line and OK (obs. fact 19, manual 4.8). `AT+QENG="servingcell"` (BG9x) answers
    plain ERROR, also with AT+CMEE=2 (obs. fact 19, UD uses CMEE=2).

    DECIDED (not recorded): <mode> 1 "not supported currently" (manual) and the unmodelled 2 and 3
    answer +CME ERROR: 4; with the radio off (no cell) +CME ERROR: 3."""
    if cmd.args[0].quoted:
        raise Refused()
    mode = ints(cmd.args, range(4))[0]
    if mode != 0:
        raise Refused(Cme.OPERATION_NOT_SUPPORTED)
    if ctx.module.network.cfun != 1:
        raise Refused(Cme.OPERATION_NOT_ALLOWED)
    ctx.info(SERVING_LINE)
    ctx.info(NEIGHBOUR_LINE)
    ctx.ok()


# --- bands ---------------------------------------------------------------------------------

BANDS = (1, 2, 3, 4, 5, 8, 12, 13, 17, 18, 19, 20, 25, 28, 66, 70, 85)  # manual 7.5 <band>
assert BAND in BANDS

answer("+QBAND", "test", f"+QBAND: (0-{len(BANDS)}),({','.join(map(str, BANDS))})")  # manual 7.5 example
# manual 7.5: `+QBAND: 4` after AT+QBAND=1,4. DECIDED: with every band selected (the default,
# <band_number> 0) the list of all of them, comma-separated, as for a selection of several.
answer("+QBAND", "read", lambda m: "+QBAND: " + ",".join(map(str, m.network.bands or BANDS)))


@handles("+QBAND", "write")
async def qband(ctx: Context, cmd: Command) -> None:
    """AT+QBAND=<band_number>[,<band>...]: 0 every band, else exactly that many distinct bands
    (manual 7.5). Stored only. DECIDED: the emulated cell is found whatever the selection, so the
    detach and re-attach the manual announces (and its +CEREG reports) do not happen."""
    a = cmd.args
    count = need(a[0].int_in(range(len(BANDS) + 1)), INCORRECT)
    bands = tuple(need(x.int_in(BANDS), INCORRECT) for x in a[1:])
    if len(bands) != count or len(set(bands)) != count:
        raise Refused(INCORRECT)
    ctx.module.network.bands = bands
    ctx.ok()


setting("+QBANDSCAN", range(2), lambda m: m.network, "band_scan")  # manual 7.14: (0,1), default 0


# --- the signalling connection -------------------------------------------------------------

setting("+CSCON", range(2), lambda m: m.network, "cscon_n", read=False)  # manual 4.6: (0,1)
# manual 4.6 `+CSCON: <n>,<mode>`. DECIDED: RRC is not modelled, the module is always idle (mode 0,
# the manual example's), so no +CSCON: <mode> report ever follows.
answer("+CSCON", "read", lambda m: f"+CSCON: {m.network.cscon_n},0")


# --- PDP contexts (manual 5.4; obs. fact 11) -----------------------------------------------

answer("+CGDCONT", "test", '+CGDCONT: (0-10),("IP","IPV6","IPV4V6","Non-IP"),,,,,'  # manual 5.4 example
       "(0,1),(0-3),(0-2),(0,1),(0,1),(0,1),(0,1),(0,1),(0,1),(0,1)")


@handles("+CGDCONT", "read")
async def cgdcont_read(ctx: Context, cmd: Command) -> None:
    """Context 0 first: `+CGDCONT: 0,"IP","<apn>","<addr>"`, the address in the 4th field (obs.
    fact 11), left out while detached (DECIDED); its APN is AT+QCGDEFCONT's or, when that gave
    none, the one the network assigned (general_values.NETWORK_APN). Then the contexts AT+CGDCONT
    defined, `+CGDCONT: 1,"IP","CMNET"` (manual 5.4 example: the APN read back in upper case)."""
    net = ctx.module.network
    address = f',"{IP_ADDRESS}"' if net.registered else ""
    ctx.info(f'+CGDCONT: 0,"{net.pdp_type}","{net.apn or NETWORK_APN}"{address}')
    for cid, (pdp_type, apn) in sorted(net.contexts.items()):
        ctx.info(f'+CGDCONT: {cid},"{pdp_type}","{apn.upper()}"')
    ctx.ok()


@handles("+CGDCONT", "write")
async def cgdcont(ctx: Context, cmd: Command) -> None:
    """AT+CGDCONT=<cid>[,<PDP_type>[,<APN>[,...]]] for <cid> 1-10; `AT+CGDCONT=<cid>` undefines it
    (manual 5.4). Context 0 cannot be defined this way: `+CME ERROR: operation not supported`
    (obs. fact 11, manual 5.4 "cannot to be defined with the AT+CGDCONT command").

    The PDP type may be unquoted (manual example `AT+CGDCONT=1,IP`). DECIDED: the parameters
    after <APN> (up to the manual's 16) are accepted and not kept; contexts 1-10 are never
    activated, so AT+CGPADDR shows no address for them."""
    a = cmd.args
    cid = need(a[0].int_in(CIDS), INCORRECT)
    if cid == 0:
        raise Refused(Cme.OPERATION_NOT_SUPPORTED)
    contexts = ctx.module.network.contexts
    if len(a) == 1:
        contexts.pop(cid, None)
        ctx.ok()
        return
    pdp = next((t for t in PDP_TYPES if a[1].text.upper() == t.upper()), None)
    apn = a[2].text if len(a) > 2 else ""
    if pdp is None or len(a) > 16 or (len(a) > 2 and not a[2].quoted and apn) or len(apn.encode()) > 99:
        raise Refused(INCORRECT)
    contexts[cid] = (pdp, apn)
    ctx.ok()


# --- time (manual 12; obs. fact 20) --------------------------------------------------------


def clock(module: ModuleState) -> datetime:
    """The module's RTC: UTC, as real modules report it (obs. fact 20), plus what AT+CCLK set."""
    return datetime.now(UTC) + timedelta(seconds=module.network.clock_offset_s)


answer("+CCLK", "test")  # manual 12.1: OK only
# obs. fact 20 and manual 12.1 example: unquoted, `yy/MM/dd,hh:mm:ss±zz`, the time field in UTC,
# the zone in quarters of an hour, zero-padded to two digits.
answer("+CCLK", "read", lambda m: f"+CCLK: {clock(m):%y/%m/%d,%H:%M:%S}"
       f"{ZONE_QUARTERS if m.network.clock_zone is None else m.network.clock_zone:+03d}")

_CCLK = re.compile(r"(\d\d)/(\d\d)/(\d\d),(\d\d):(\d\d):(\d\d)([+-]\d\d?)")


@handles("+CCLK", "write")
async def cclk(ctx: Context, cmd: Command) -> None:
    """AT+CCLK="yy/MM/dd,hh:mm:ss±zz" sets the RTC (manual 12.1; zone -96..+96). DECIDED: the time
    given is what the time field then reads (the RTC, UTC on this module), until the network sends
    its time at the next registration (manual 12.1: "synchronized ... EMM INFORMATION")."""
    m = _CCLK.fullmatch(cmd.args[0].text) if len(cmd.args) == 1 and cmd.args[0].quoted else None
    if m is None or not -96 <= int(m[7]) <= 96:
        raise Refused(INCORRECT)
    try:
        when = datetime(2000 + int(m[1]), *(int(g) for g in m.groups()[1:6]), tzinfo=UTC)
    except ValueError:
        raise Refused(INCORRECT) from None
    net = ctx.module.network
    net.clock_offset_s = (when - datetime.now(UTC)).total_seconds()
    net.clock_zone = int(m[7])
    ctx.ok()


setting("+CTZR", range(4), lambda m: m.network, "ctzr")  # manual 12.2: (0-3), read `+CTZR: <n>`


@on_registered
def nitz(ctx: Context) -> None:
    """What the network's time zone information does at registration (manual 12.2 "The MT also
    provides the time zone upon network registration"): the RTC is set to the network time and,
    as AT+CTZR asks, `+CTZV: <tz>`, `+CTZE: <tz>,<dst>,"<local time>"` or
    `+CTZEU: <tz>,<dst>,"<utc>"` follows. obs. fact 20: `+CTZEU: "+8",1,"2026/10/02,23:50:20"`,
    the zone not zero-padded (the manual says "+08"; the capture decides, for all three)."""
    net = ctx.module.network
    net.clock_offset_s, net.clock_zone = 0.0, None
    tz = f'"{ZONE_QUARTERS:+d}"'
    now = clock(ctx.module)
    local = now + timedelta(minutes=15 * ZONE_QUARTERS)
    line = {1: f"+CTZV: {tz}",
            2: f'+CTZE: {tz},{DST_HOURS},"{local:%Y/%m/%d,%H:%M:%S}"',
            3: f'+CTZEU: {tz},{DST_HOURS},"{now:%Y/%m/%d,%H:%M:%S}"'}.get(net.ctzr)
    if line is not None:
        ctx.urc(line)


# --- the default bearer (obs. fact 22) -------------------------------------------------------

# DECIDED: module seconds from the +CEREG registration report to the bearer's +IP (no source gives
# the gap; the address comes with the attach, the report a moment after it).
BEARER_S = 2.0


@on_registered
def bearer_up(ctx: Context) -> None:
    """obs. fact 22: `+IP: <addr>` once the default bearer is up (ZE and UD wait for it), after
    each registration the host can see (AT+CFUN=1, AT+CGATT=1, AT+COPS=0 once running), the
    address unquoted as fact 22 writes it. DECIDED: nothing at boot, where the module registers
    before its RDY (state.boot) and says nothing before RDY."""
    module = ctx.module

    async def report() -> None:
        await asyncio.sleep(module.scaled(BEARER_S))
        if ctx.module is module and module.network.registered:
            ctx.urc(f"+IP: {IP_ADDRESS}")

    ctx.spawn(report())
