"""General commands a host sends around the MQTT ones (DESIGN "Module facts"; the BC660K-GL AT
Commands Manual V1.4, "manual" below, and 3GPP TS 27.007, not the MQTT note). The emulator answers
as an attached module would, as the observations file (../shared/observations/real-modules.md,
"obs. fact N") recorded real modules answering. Their state is `ModuleState.network` and the UART
fields (echo, cmee, sleep_mode); the values (IMEI, IMSI, cell, ...) are general_values.py's.

This module holds identity, the UART settings and the radio core (registration, operator, attach,
addresses, default PDN); general_power.py, general_net.py and general_ping.py hold the rest.

Rules shared by every general_* handler: a form the command does not have is not registered, so it
answers plain ERROR (like an unknown command); a parameter out of range answers
`+CME ERROR: 50` (incorrect parameters) as AT+CMEE selects. Information lines are framed by the
front end as the captures show (obs. facts 1 and 19: single CRLFs between lines, a blank line
before OK).

Not modelled: the manual saves many of these settings to NVRAM (AT+CEREG, AT+CMEE, AT+COPS, ...);
here only state.SAVED survives a reset, and the AT+CFUN level on a firmware that keeps it
(state.boot, "cfun-kept", obs. fact 12).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Container
from dataclasses import replace
from typing import Any

from harness.emulator.api import Arg, Command, Context, answer, handles
from harness.emulator.errors import Cme, Refused, need
from harness.emulator.general_values import (
    ACT,
    CELL_ID,
    DEFAULT_IMEI,
    ICCID,
    IMSI,
    IP_ADDRESS,
    PLMN,
    SVN,
    TAC,
    luhn_ok,
)
from harness.emulator.state import ModuleState, Network

__all__ = ["DEFAULT_IMEI", "IP_ADDRESS", "PLMN", "luhn_ok"]  # names other modules and tests import

MANUFACTURER = "Quectel_Ltd"
MODEL = "Quectel_BC660K-GL"
PDP_TYPES = ("IP", "IPV6", "IPV4V6", "Non-IP")
INCORRECT = Cme.INCORRECT_PARAMETERS
# Module seconds from turning the radio on (AT+CFUN=1, AT+CGATT=1, AT+COPS=0) to registered: UD
# measured about 5 s for the later boots of a module that had registered before (obs. "Timing
# summary"; the cold first registration with rejections took about 3 min and is not modelled).
REGISTER_S = 5.0
# state.Network.cell() prints the location fields; they must be the cell general_values describes.
assert Network(cereg_n=2).cell() == f',"{TAC}","{CELL_ID}",{ACT}'


def ints(args: tuple[Arg, ...], *allowed: Container[int]) -> list[int]:
    """Each argument an unquoted integer among its allowed values (1 to len(allowed) of them),
    else Refused(50)."""
    if not 1 <= len(args) <= len(allowed):
        raise Refused(INCORRECT)
    return [need(arg.int_in(values), INCORRECT) for arg, values in zip(args, allowed, strict=False)]


def values_text(values: range) -> str:
    """A range as the manual's test responses print it: `(0,1)` for two values, else `(0-5)`."""
    if len(values) == 2:
        return f"({values.start},{values.start + 1})"
    return f"({values.start}-{values.stop - 1})"


RegisteredHook = Callable[[Context], None]
ON_REGISTERED: list[RegisteredHook] = []


def on_registered(hook: RegisteredHook) -> RegisteredHook:
    """Run `hook` (after the +CEREG report) each time the module registers: what the network sends
    at registration, e.g. the NITZ time zone (general_net.py, manual 12.2)."""
    ON_REGISTERED.append(hook)
    return hook


def cereg_fields(module: ModuleState) -> str:
    """The fields after <stat> in +CEREG (read form and URC), manual 4.1 and obs. fact 7.

    <n> 2..5 add the location while registered (state.Network.cell()); <n> 3 would add the cause
    of a rejection, and the emulated network rejects nothing; <n> 4 and 5 add the PSM timers the
    network allocated, after two empty cause fields: `,,,"<Active-Time>","<Periodic-TAU>"` (obs.
    fact 7). DECIDED: the emulated network allocates what AT+CPSMS requests, and nothing while PSM
    is off (the timers are then left out)."""
    net, power = module.network, module.power
    text = net.cell()
    if net.cereg_n >= 4 and net.registered and power.psm_mode == 1:
        text += f',,,"{power.psm_active}","{power.psm_tau}"'
    return text


def set_radio(ctx: Context, **changes: object) -> None:
    """Change ModuleState.network, answer OK, then report a registration change: 3GPP TS 27.007
    +CEREG with <n> 1 reports `+CEREG: <stat>` when the registration changes (AT+CFUN, AT+COPS,
    AT+CGATT here), with <n> 2 and up also the cell; hosts wait for it after turning the radio
    on instead of polling AT+CEREG?.

    Registration takes time: turning the radio on starts a search (<stat> 2 in the read form),
    and the module registers REGISTER_S module seconds later, on the scaled clock; then the
    `+CEREG: 1` report and the ON_REGISTERED hooks follow. DECIDED: the search itself is not
    reported (no `+CEREG: 2` URC; no capture shows one from a BC660K, and hosts wait for 1 or 5);
    losing the registration or the search is (`+CEREG: 0`). AT+QMTOPEN during the search goes
    ahead (qmt_conn.py refuses only a radio that is off, 3.3.2 <result> 3), as if the module held
    it until the bearer is up (3.3.2 "determined by network"); the emulator does not delay it."""
    module = ctx.module
    was = module.network.stat
    net = module.network = replace(module.network, **changes)
    if net.cfun != 1 or not net.attached:
        net.searching = False
    elif was == 0:
        net.searching = True
        net.search_id += 1
    ctx.ok()
    if net.cereg_n >= 1 and net.stat != was and net.stat != 2:
        ctx.urc(f"+CEREG: {net.stat}{cereg_fields(module)}")
    if net.searching and was == 0:
        ctx.spawn(_register(ctx, module, net.search_id))


async def _register(ctx: Context, module: ModuleState, search_id: int) -> None:
    """The search `search_id` ends registered, unless the radio went off or a newer search began."""
    await asyncio.sleep(module.scaled(REGISTER_S))
    net = module.network
    if ctx.module is not module or not net.searching or net.search_id != search_id:
        return
    net.searching = False
    if net.cereg_n >= 1:
        ctx.urc(f"+CEREG: {net.stat}{cereg_fields(module)}")
    for hook in ON_REGISTERED:
        hook(ctx)


def _revision(module: ModuleState) -> str:
    return f"Revision: {module.profile.revision}"


def setting(name: str, values: range, area: Callable[[ModuleState], Any], field: str, *,
            read: bool = True) -> None:
    """Register the read / test / write(one integer) forms of a setting kept in
    `area(module).<field>`."""
    if read:
        answer(name, "read", lambda module: f"{name}: {getattr(area(module), field)}")

    answer(name, "test", f"{name}: {values_text(values)}")

    @handles(name, "write")
    async def write_form(ctx: Context, cmd: Command) -> None:
        setattr(area(ctx.module), field, ints(cmd.args, values)[0])
        ctx.ok()


# --- identity ------------------------------------------------------------------------------


answer("", "exec")  # AT


@handles("E", "exec")
async def ate(ctx: Context, cmd: Command) -> None:
    """ATE0 / ATE1 (ATE = ATE0). Saved: survives AT+QRST (state.SAVED)."""
    if cmd.suffix not in ("", "0", "1"):
        ctx.error()
        return
    ctx.module.echo = cmd.suffix == "1"
    ctx.ok()


@handles("I", "exec")
async def ati(ctx: Context, cmd: Command) -> None:
    """ATI: three lines, a blank line, OK (obs. fact 1)."""
    if cmd.suffix not in ("", "0"):
        ctx.error()
        return
    for line in (MANUFACTURER, MODEL, _revision(ctx.module)):
        ctx.info(line)
    ctx.ok()


answer("+CGMR", "test")
answer("+CGMM", "test")
answer("+CGMI", "test")
answer("+CGMM", "exec", MODEL)  # obs. fact 3
answer("+CGMI", "exec", MANUFACTURER)
answer("+CGMR", "exec", _revision)  # obs. fact 2: no +CGMR: prefix


answer("+CGSN", "test", "+CGSN: (0-3)")  # manual 2.5


@handles("+CGSN", "exec")
async def cgsn(ctx: Context, cmd: Command) -> None:
    """AT+CGSN answers as AT+CGSN=1: `+CGSN: <IMEI>`. DECIDED against manual 2.5 (a bare <SN>),
    kept as it was: the emulator's own tests (test_emulator_frontend.py) read the IMEI from it."""
    _serial_number(ctx, 1)


@handles("+CGSN", "write")
async def cgsn_write(ctx: Context, cmd: Command) -> None:
    _serial_number(ctx, ints(cmd.args, range(4))[0])


def _serial_number(ctx: Context, snt: int) -> None:
    """Manual 2.5: <snt> 0 a bare <SN> line, 1 `+CGSN: <IMEI>` (obs. fact 4), 2 the IMEISV, 3 the SVN."""
    imei = ctx.module.imei or DEFAULT_IMEI
    if snt == 0:
        ctx.info(imei[:14])  # DECIDED: the serial number is the IMEI without its check digit
    else:
        ctx.info(f"+CGSN: {({1: imei, 2: imei[:14] + SVN, 3: SVN})[snt]}")
    ctx.ok()


answer("+CIMI", "test")  # manual 8.4
answer("+CIMI", "exec", IMSI)  # obs. fact 4: a bare IMSI line, no prefix
answer("+QCCID", "exec", f"+QCCID: {ICCID}")  # obs. fact 4; manual 8.11 has no test form


# --- the UART: errors and sleep ------------------------------------------------------------

setting("+CMEE", range(3), lambda m: m, "cmee")
# AT+QSCLK is stored only: what sleep does is the front end's (frontend.py, sleep.py). Not saved
# (DESIGN "Module facts", manual 9.10). DECIDED default 0, although obs. facts 10 and 14 suggest a
# real module starts with sleep enabled (`+QSCLK: 1`, the first AT swallowed).
setting("+QSCLK", range(3), lambda m: m, "sleep_mode")


# --- the radio -----------------------------------------------------------------------------

setting("+CEREG", range(6), lambda m: m.network, "cereg_n", read=False)  # manual 4.1: (0-5)


answer("+CEREG", "read", lambda m: f"+CEREG: {m.network.cereg_n},{m.network.stat}{cereg_fields(m)}")


@handles("+CPIN", "read")
async def cpin_read(ctx: Context, cmd: Command) -> None:
    """`+CPIN: READY` while the radio is on (obs. fact 4). At AT+CFUN=0 the module does not power
    the SIM (obs. fact 12), and the two sources are one model: a module that booted at CFUN=0 has
    not powered the SIM at all in this power cycle and answers `+CME ERROR: ue not power on` until
    AT+CFUN=1 (CF, "after power-up"); a SIM that was on and was switched off by AT+CFUN=0 reads
    `+CPIN: NOT READY` (UD "at 0 it does not power the SIM"; CF: after AT+CFUN=0 "the SIM
    interface briefly reports NOT READY"; the 3 s CF then waits before AT+QCGDEFCONT is not
    modelled: AT+QCGDEFCONT works at once)."""
    net = ctx.module.network
    if net.cfun != 1 and not net.sim_was_on:
        raise Refused(Cme.UE_NOT_POWER_ON)
    ctx.info("+CPIN: READY" if net.cfun == 1 else "+CPIN: NOT READY")
    ctx.ok()


answer("+CPIN", "test")


answer("+CFUN", "read", lambda m: f"+CFUN: {m.network.cfun}")


answer("+CFUN", "test", "+CFUN: (0,1),(0,1)")


@handles("+CFUN", "write")
async def cfun(ctx: Context, cmd: Command) -> None:
    """AT+CFUN=<fun>[,<rst>]: fun 0/1; rst=1 resets the module like AT+QRST=1. The level is kept
    across resets and power cycles on a firmware with "cfun-kept" (obs. fact 12: state.boot)."""
    v = ints(cmd.args, range(2), range(2))
    set_radio(ctx, cfun=v[0], attached=v[0] == 1, sim_was_on=ctx.module.network.sim_was_on or v[0] == 1)
    if len(v) == 2 and v[1] == 1:
        await ctx.reset_module()


answer("+COPS", "read", lambda m: f'+COPS: {m.network.cops_mode},2,"{PLMN}",{ACT}' if m.network.registered
       else f"+COPS: {m.network.cops_mode}")  # obs. fact 18: `+COPS: 1,2,"23415",9`


answer("+COPS", "test", f'+COPS: (2,"","","{PLMN}",{ACT}),,(0-4),(0-2)')  # manual 7.2 shape


@handles("+COPS", "write")
async def cops(ctx: Context, cmd: Command) -> None:
    """Manual 7.2: <mode> 0 automatic (<oper> ignored), 1 manual (`AT+COPS=1,2,"<oper>"[,9]`, the
    form hosts send, MB-C), 2 deregister, 3 set <format> only, 4 manual falling back to automatic.

    DECIDED (neither the manual nor a capture says): the emulated network has a numeric name only,
    so <format> must be 2; manual selection of another PLMN is refused with `+CME ERROR: 3` and
    leaves the registration as it was (the manual: "no other operator shall be selected")."""
    a = cmd.args
    mode = need(a[0].int_in(range(5)), INCORRECT) if a else None
    if mode is None or len(a) > 4 or (len(a) > 1 and a[1].int_in((2,)) is None):
        raise Refused(INCORRECT)
    if mode == 3:
        if len(a) != 2:
            raise Refused(INCORRECT)
        ctx.ok()
        return
    if mode in (1, 4):
        oper = a[2].str_in(5, 6) if len(a) > 2 else None
        if oper is None or (len(a) == 4 and a[3].int_in((ACT,)) is None):
            raise Refused(INCORRECT)
        if oper != PLMN:
            if mode == 1:
                raise Refused(Cme.OPERATION_NOT_ALLOWED)
            mode = 0  # manual 7.2 <mode> 4: "If manual selection fails, automatic mode is entered"
        else:
            mode = 1
    set_radio(ctx, cops_mode=mode, attached=mode != 2 and ctx.module.network.cfun == 1)


# DECIDED: attached once registered (the search after AT+CFUN=1 reads 0, as 27.007's "detached")
answer("+CGATT", "read", lambda m: f"+CGATT: {int(m.network.registered)}")


answer("+CGATT", "test", "+CGATT: (0,1)")


@handles("+CGATT", "write")
async def cgatt(ctx: Context, cmd: Command) -> None:
    attach = ints(cmd.args, range(2))[0] == 1
    if attach and ctx.module.network.cfun != 1:
        raise Refused(Cme.OPERATION_NOT_ALLOWED)  # the radio is off
    set_radio(ctx, attached=attach)


CIDS = range(11)  # manual 5.4 <cid> "Range: 0 – 10"; 0 is the initial context (AT+QCGDEFCONT)


answer("+CGPADDR", "test", "+CGPADDR: (0)")  # manual 4.4 example


def _address_line(module: ModuleState, cid: int) -> str:
    """`+CGPADDR: <cid>[,"<addr>"]`: only context 0 is ever activated here, once attached; the
    address is left out when there is none (manual 4.4; obs. fact 11: `+CGPADDR: 1`)."""
    return f'+CGPADDR: {cid},"{IP_ADDRESS}"' if cid == 0 and module.network.registered else f"+CGPADDR: {cid}"


@handles("+CGPADDR", "exec")
async def cgpaddr(ctx: Context, cmd: Command) -> None:
    """Every defined context (manual 4.4): context 0 while attached, then those AT+CGDCONT defined."""
    net = ctx.module.network
    for cid in ([0] if net.registered else []) + sorted(net.contexts):
        ctx.info(_address_line(ctx.module, cid))
    ctx.ok()


@handles("+CGPADDR", "write")
async def cgpaddr_write(ctx: Context, cmd: Command) -> None:
    """AT+CGPADDR=<cid> (manual 4.4); `AT+CGPADDR=1` answers `+CGPADDR: 1` (obs. fact 11)."""
    ctx.info(_address_line(ctx.module, ints(cmd.args, CIDS)[0]))
    ctx.ok()


answer("+CSQ", "test", "+CSQ: (0-31,99),(0-7,99)")


answer("+CSQ", "exec", lambda m: "+CSQ: 25,0" if m.network.cfun == 1 else "+CSQ: 99,99")


answer("+QCGDEFCONT", "read", lambda m: f'+QCGDEFCONT: "{m.network.pdp_type}","{m.network.apn}"')


answer("+QCGDEFCONT", "test", '+QCGDEFCONT: ("IP","IPV6","IPV4V6","Non-IP")')  # manual 5.6 example


@handles("+QCGDEFCONT", "write")
async def qcgdefcont(ctx: Context, cmd: Command) -> None:
    """AT+QCGDEFCONT=<PDP_type>[,<APN>]: the default PDP context used at attach. DECIDED: it takes
    effect at once (manual 5.6: after a reboot, which here would forget it)."""
    a = cmd.args
    pdp = next((t for t in PDP_TYPES if a[0].quoted and a[0].text.upper() == t.upper()), None)
    if pdp is None or len(a) > 4 or any(not x.quoted for x in a[1:]) or (
            len(a) > 1 and len(a[1].text.encode()) > 99):
        raise Refused(INCORRECT)
    net = ctx.module.network
    net.pdp_type = pdp
    net.apn = a[1].text if len(a) > 1 else ""
    ctx.ok()


# --- reset ---------------------------------------------------------------------------------

answer("+QRST", "test", "+QRST: 1")


@handles("+QRST", "write")
async def qrst(ctx: Context, cmd: Command) -> None:
    """AT+QRST=1: OK, then the module resets and reports RDY (DESIGN "Module facts")."""
    ints(cmd.args, range(1, 2))
    ctx.ok()
    await ctx.reset_module()
