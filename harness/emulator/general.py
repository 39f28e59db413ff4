"""General commands a host sends around the MQTT ones (DESIGN "Module facts"; the BC660K-GL AT
Commands Manual and 3GPP TS 27.007, not the MQTT note). The emulator answers as an attached
module would. Their state is `ModuleState.network` and the UART fields (echo, cmee, sleep_mode).

Rules shared by every handler here: a form the command does not have is not registered, so it
answers plain ERROR (like an unknown command); a parameter out of range answers
`+CME ERROR: 50` (incorrect parameters) as AT+CMEE selects.
"""

from __future__ import annotations

from collections.abc import Callable, Container
from dataclasses import replace
from typing import Any

from harness.emulator.api import Arg, Command, Context, answer, handles
from harness.emulator.errors import Cme, Refused, need
from harness.emulator.state import ModuleState

MANUFACTURER = "Quectel_Ltd"
MODEL = "Quectel_BC660K-GL"
PDP_TYPES = ("IP", "IPV6", "IPV4V6", "Non-IP")
PLMN = "00101"  # the 3GPP test network: nobody mistakes it for a real operator
IP_ADDRESS = "192.0.2.10"  # RFC 5737 documentation address: only ever a string here
INCORRECT = Cme.INCORRECT_PARAMETERS


def luhn_ok(digits: str) -> bool:
    """IMEI check digit (3GPP TS 23.003 Annex B, the Luhn formula)."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


DEFAULT_IMEI = "869181050123452"  # fixed, 15 digits, valid check digit (asserted below)
assert luhn_ok(DEFAULT_IMEI)


def _ints(args: tuple[Arg, ...], *allowed: Container[int]) -> list[int]:
    """Each argument an unquoted integer among its allowed values (1 to len(allowed) of them),
    else Refused(50)."""
    if not 1 <= len(args) <= len(allowed):
        raise Refused(INCORRECT)
    return [need(arg.int_in(values), INCORRECT) for arg, values in zip(args, allowed, strict=False)]


def _set_radio(ctx: Context, **changes: object) -> None:
    """Change ModuleState.network, answer OK, then report a registration change: 3GPP TS 27.007
    +CEREG with <n> 1 reports `+CEREG: <stat>` when the registration changes (AT+CFUN, AT+COPS,
    AT+CGATT here), with <n> 2 and up also the cell; hosts wait for it after turning the radio
    on instead of polling AT+CEREG?."""
    was = ctx.module.network.stat
    net = ctx.module.network = replace(ctx.module.network, **changes)
    ctx.ok()
    if net.cereg_n >= 1 and net.stat != was:
        ctx.urc(f"+CEREG: {net.stat}{net.cell()}")


def _revision(module: ModuleState) -> str:
    return f"Revision: {module.profile.revision}"


def _setting(name: str, values: range, area: Callable[[ModuleState], Any], field: str, *,
             read: bool = True) -> None:
    """Register the read / test / write(one integer) forms of a setting kept in
    `area(module).<field>`."""
    if read:
        answer(name, "read", lambda module: f"{name}: {getattr(area(module), field)}")

    answer(name, "test", f"{name}: ({values.start}-{values.stop - 1})")

    @handles(name, "write")
    async def write_form(ctx: Context, cmd: Command) -> None:
        setattr(area(ctx.module), field, _ints(cmd.args, values)[0])
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
    """ATI: three lines, a blank line, OK (the framing puts the blank line before OK)."""
    if cmd.suffix not in ("", "0"):
        ctx.error()
        return
    for line in (MANUFACTURER, MODEL, _revision(ctx.module)):
        ctx.info(line)
    ctx.ok()


answer("+CGMR", "test")
answer("+CGMM", "test")
answer("+CGMI", "test")
answer("+CGMM", "exec", MODEL)
answer("+CGMI", "exec", MANUFACTURER)


answer("+CGMR", "exec", _revision)


answer("+CGSN", "test", "+CGSN: (0-3)")


@handles("+CGSN", "exec")
async def cgsn(ctx: Context, cmd: Command) -> None:
    """AT+CGSN is AT+CGSN=1: `+CGSN: <IMEI>`."""
    _serial_number(ctx, 1)


@handles("+CGSN", "write")
async def cgsn_write(ctx: Context, cmd: Command) -> None:
    _serial_number(ctx, _ints(cmd.args, range(4))[0])


def _serial_number(ctx: Context, snt: int) -> None:
    """<snt> 0 the serial number, 1 the IMEI, 2 IMEISV, 3 SVN."""
    imei = ctx.module.imei or DEFAULT_IMEI
    values = {0: imei[:14], 1: imei, 2: imei[:14] + "05", 3: "05"}
    ctx.info(f"+CGSN: {values[snt]}")
    ctx.ok()


# --- the UART: errors and sleep ------------------------------------------------------------

_setting("+CMEE", range(3), lambda m: m, "cmee")
_setting("+QSCLK", range(3), lambda m: m, "sleep_mode")  # not saved (DESIGN "Module facts")


# --- the radio -----------------------------------------------------------------------------

_setting("+CEREG", range(6), lambda m: m.network, "cereg_n", read=False)


answer("+CEREG", "read", lambda m: f"+CEREG: {m.network.cereg_n},{m.network.stat}{m.network.cell()}")


answer("+CPIN", "read", "+CPIN: READY")
answer("+CPIN", "test")


answer("+CFUN", "read", lambda m: f"+CFUN: {m.network.cfun}")


answer("+CFUN", "test", "+CFUN: (0,1),(0,1)")


@handles("+CFUN", "write")
async def cfun(ctx: Context, cmd: Command) -> None:
    """AT+CFUN=<fun>[,<rst>]: fun 0/1; rst=1 resets the module like AT+QRST=1."""
    v = _ints(cmd.args, range(2), range(2))
    _set_radio(ctx, cfun=v[0], attached=v[0] == 1)
    if len(v) == 2 and v[1] == 1:
        await ctx.reset_module()


answer("+COPS", "read", lambda m: f'+COPS: {m.network.cops_mode},2,"{PLMN}",9' if m.network.stat
       else f"+COPS: {m.network.cops_mode}")


answer("+COPS", "test", f'+COPS: (2,"","","{PLMN}",9),,(0-4),(0-2)')


@handles("+COPS", "write")
async def cops(ctx: Context, cmd: Command) -> None:
    """<mode> 0 automatic, 2 deregister; 1 (manual) is not offered."""
    mode = _ints(cmd.args, (0, 2))[0]
    _set_radio(ctx, cops_mode=mode, attached=mode == 0 and ctx.module.network.cfun == 1)


answer("+CGATT", "read", lambda m: f"+CGATT: {int(m.network.attached)}")


answer("+CGATT", "test", "+CGATT: (0,1)")


@handles("+CGATT", "write")
async def cgatt(ctx: Context, cmd: Command) -> None:
    attach = _ints(cmd.args, range(2))[0] == 1
    if attach and ctx.module.network.cfun != 1:
        raise Refused(Cme.OPERATION_NOT_ALLOWED)  # the radio is off
    _set_radio(ctx, attached=attach)


answer("+CGPADDR", "test", "+CGPADDR: (0)")


@handles("+CGPADDR", "exec")
async def cgpaddr(ctx: Context, cmd: Command) -> None:
    if ctx.module.network.stat:
        ctx.info(f'+CGPADDR: 0,"{IP_ADDRESS}"')
    ctx.ok()


@handles("+CGPADDR", "write")
async def cgpaddr_write(ctx: Context, cmd: Command) -> None:
    _ints(cmd.args, range(1))  # only <cid> 0, answered as the exec form
    await cgpaddr(ctx, cmd)


answer("+CSQ", "test", "+CSQ: (0-31,99),(0-7,99)")


answer("+CSQ", "exec", lambda m: "+CSQ: 25,0" if m.network.cfun == 1 else "+CSQ: 99,99")


answer("+QCGDEFCONT", "read", lambda m: f'+QCGDEFCONT: "{m.network.pdp_type}","{m.network.apn}"')


answer("+QCGDEFCONT", "test", '+QCGDEFCONT: ("IP","IPV6","IPV4V6","Non-IP"),<APN>,<username>,<password>')


@handles("+QCGDEFCONT", "write")
async def qcgdefcont(ctx: Context, cmd: Command) -> None:
    """AT+QCGDEFCONT=<PDP_type>[,<APN>]: the default PDP context used at attach."""
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
    _ints(cmd.args, range(1, 2))
    ctx.ok()
    await ctx.reset_module()
