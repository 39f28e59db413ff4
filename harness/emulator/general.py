"""General commands a host sends around the MQTT ones (DESIGN "Module facts"; the BC660K-GL AT
Commands Manual, not the MQTT note). The emulator answers as an attached module would.

Rules shared by every handler here: a form the command does not have answers plain ERROR
(like an unknown command); a parameter out of range answers `+CME ERROR: 50` (incorrect
parameters) as AT+CMEE selects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness.emulator import profiles
from harness.emulator.api import Arg, Command, Context, command

MANUFACTURER = "Quectel_Ltd"
MODEL = "Quectel_BC660K-GL"
INCORRECT_PARAMETERS = 50
PDP_TYPES = ("IP", "IPV6", "IPV4V6", "Non-IP")
PLMN = "00101"  # the 3GPP test network: nobody mistakes it for a real operator
IP_ADDRESS = "192.0.2.10"  # RFC 5737 documentation address: only ever a string here


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


@dataclass
class Network:
    """The radio side as hosts see it; lives in ModuleState.ext["general"], not saved."""

    cfun: int = 1
    attached: bool = True
    cereg_n: int = 0
    cops_mode: int = 0
    pdp_type: str = "IP"
    apn: str = ""

    @property
    def stat(self) -> int:
        return 1 if self.cfun == 1 and self.attached else 0


def network(ctx: Context) -> Network:
    net = ctx.module.ext.get("general")
    if not isinstance(net, Network):
        net = Network()
        ctx.module.ext["general"] = net
    return net


def _report_registration(ctx: Context, net: Network, was: int) -> None:
    """3GPP TS 27.007 +CEREG: with <n> 1 the module reports `+CEREG: <stat>` when the
    registration changes (AT+CFUN, AT+COPS, AT+CGATT here), with <n> 2 and up also the cell;
    hosts wait for it after turning the radio on instead of polling AT+CEREG?."""
    if net.cereg_n >= 1 and net.stat != was:
        extra = ',"1A2B","0C0D0E0F",9' if net.cereg_n >= 2 and net.stat else ""
        ctx.urc(f"+CEREG: {net.stat}{extra}")


def _ints(args: tuple[Arg, ...], *allowed: range) -> list[int] | None:
    """Each argument an unquoted integer within its range, or None."""
    if not 1 <= len(args) <= len(allowed):
        return None
    out = []
    for arg, rng in zip(args, allowed, strict=False):
        v = arg.as_int() if arg.text.strip() else None  # api.Arg.as_int("") raises IndexError
        if v is None or v not in rng:
            return None
        out.append(v)
    return out


@command("")
async def at(ctx: Context, cmd: Command) -> None:
    ctx.ok()


@command("E")
async def ate(ctx: Context, cmd: Command) -> None:
    """ATE0 / ATE1 (ATE = ATE0). Saved: survives AT+QRST (DESIGN "Module facts")."""
    if cmd.suffix not in ("", "0", "1"):
        ctx.error()
        return
    ctx.module.echo = cmd.suffix == "1"
    ctx.ok()


@command("I")
async def ati(ctx: Context, cmd: Command) -> None:
    """ATI: three lines, a blank line, OK (the framing puts the blank line before OK)."""
    if cmd.suffix not in ("", "0"):
        ctx.error()
        return
    for line in (MANUFACTURER, MODEL, f"Revision: {profiles.profile_of(ctx.module).revision}"):
        ctx.info(line)
    ctx.ok()


def _exec_only(ctx: Context, cmd: Command, *lines: str) -> None:
    if cmd.form == "test":
        ctx.ok()
    elif cmd.form == "exec":
        for line in lines:
            ctx.info(line)
        ctx.ok()
    else:
        ctx.error()


@command("+CGMR")
async def cgmr(ctx: Context, cmd: Command) -> None:
    _exec_only(ctx, cmd, f"Revision: {profiles.profile_of(ctx.module).revision}")


@command("+CGMM")
async def cgmm(ctx: Context, cmd: Command) -> None:
    _exec_only(ctx, cmd, MODEL)


@command("+CGMI")
async def cgmi(ctx: Context, cmd: Command) -> None:
    _exec_only(ctx, cmd, MANUFACTURER)


@command("+CGSN")
async def cgsn(ctx: Context, cmd: Command) -> None:
    """AT+CGSN and AT+CGSN=1 answer `+CGSN: <IMEI>`; =0 the serial number, =2 IMEISV, =3 SVN."""
    imei = str(ctx.module.ext.get("imei") or DEFAULT_IMEI)
    values = {0: imei[:14], 1: imei, 2: imei[:14] + "05", 3: "05"}
    if cmd.form == "test":
        ctx.info("+CGSN: (0-3)")
        ctx.ok()
    elif cmd.form == "exec":
        ctx.info(f"+CGSN: {imei}")
        ctx.ok()
    elif cmd.form == "write" and (v := _ints(cmd.args, range(4))) is not None:
        ctx.info(f"+CGSN: {values[v[0]]}")
        ctx.ok()
    else:
        ctx.error(INCORRECT_PARAMETERS if cmd.form == "write" else None)


def _setting(ctx: Context, cmd: Command, name: str, rng: range, get: int,
             put: Callable[[int], None]) -> None:
    """The common read / test / write(one integer) shape."""
    if cmd.form == "read":
        ctx.info(f"{name}: {get}")
        ctx.ok()
    elif cmd.form == "test":
        ctx.info(f"{name}: ({rng.start}-{rng.stop - 1})")
        ctx.ok()
    elif cmd.form == "write":
        v = _ints(cmd.args, rng)
        if v is None:
            ctx.error(INCORRECT_PARAMETERS)
            return
        put(v[0])
        ctx.ok()
    else:
        ctx.error()


@command("+CMEE")
async def cmee(ctx: Context, cmd: Command) -> None:
    def put(v: int) -> None:
        ctx.module.cmee = v

    _setting(ctx, cmd, "+CMEE", range(3), ctx.module.cmee, put)


@command("+QSCLK")
async def qsclk(ctx: Context, cmd: Command) -> None:
    """Not saved (DESIGN "Module facts"): ModuleState starts at 0 after every reset."""

    def put(v: int) -> None:
        ctx.module.sleep_mode = v

    _setting(ctx, cmd, "+QSCLK", range(3), ctx.module.sleep_mode, put)


@command("+CEREG")
async def cereg(ctx: Context, cmd: Command) -> None:
    net = network(ctx)
    if cmd.form == "read":
        extra = ',"1A2B","0C0D0E0F",9' if net.cereg_n >= 2 and net.stat else ""
        ctx.info(f"+CEREG: {net.cereg_n},{net.stat}{extra}")
        ctx.ok()
        return

    def put(v: int) -> None:
        net.cereg_n = v

    _setting(ctx, cmd, "+CEREG", range(6), net.cereg_n, put)


@command("+CPIN")
async def cpin(ctx: Context, cmd: Command) -> None:
    if cmd.form == "read":
        ctx.info("+CPIN: READY")
        ctx.ok()
    elif cmd.form == "test":
        ctx.ok()
    else:
        ctx.error()


@command("+CFUN")
async def cfun(ctx: Context, cmd: Command) -> None:
    """AT+CFUN=<fun>[,<rst>]: fun 0/1; rst=1 resets the module like AT+QRST=1."""
    net = network(ctx)
    if cmd.form == "read":
        ctx.info(f"+CFUN: {net.cfun}")
        ctx.ok()
    elif cmd.form == "test":
        ctx.info("+CFUN: (0,1),(0,1)")
        ctx.ok()
    elif cmd.form == "write":
        v = _ints(cmd.args, range(2), range(2))
        if v is None:
            ctx.error(INCORRECT_PARAMETERS)
            return
        was = net.stat
        net.cfun = v[0]
        net.attached = v[0] == 1
        ctx.ok()
        _report_registration(ctx, net, was)
        if len(v) == 2 and v[1] == 1:
            await _reset(ctx)
    else:
        ctx.error()


@command("+COPS")
async def cops(ctx: Context, cmd: Command) -> None:
    net = network(ctx)
    if cmd.form == "read":
        ctx.info(f'+COPS: {net.cops_mode},2,"{PLMN}",9' if net.stat else f"+COPS: {net.cops_mode}")
        ctx.ok()
    elif cmd.form == "test":
        ctx.info(f'+COPS: (2,"","","{PLMN}",9),,(0-4),(0-2)')
        ctx.ok()
    elif cmd.form == "write" and (v := _ints(cmd.args, range(3))) is not None and v[0] != 1:
        was = net.stat
        net.cops_mode = v[0]
        net.attached = net.cops_mode == 0 and net.cfun == 1
        ctx.ok()
        _report_registration(ctx, net, was)
    else:
        ctx.error(INCORRECT_PARAMETERS if cmd.form == "write" else None)


@command("+CGATT")
async def cgatt(ctx: Context, cmd: Command) -> None:
    net = network(ctx)
    if cmd.form == "read":
        ctx.info(f"+CGATT: {int(net.attached)}")
        ctx.ok()
    elif cmd.form == "test":
        ctx.info("+CGATT: (0,1)")
        ctx.ok()
    elif cmd.form == "write" and (v := _ints(cmd.args, range(2))) is not None:
        if v[0] == 1 and net.cfun != 1:
            ctx.error(3)  # operation not allowed: the radio is off
            return
        was = net.stat
        net.attached = v[0] == 1
        ctx.ok()
        _report_registration(ctx, net, was)
    else:
        ctx.error(INCORRECT_PARAMETERS if cmd.form == "write" else None)


@command("+CGPADDR")
async def cgpaddr(ctx: Context, cmd: Command) -> None:
    net = network(ctx)
    if cmd.form == "test":
        ctx.info("+CGPADDR: (0)")
        ctx.ok()
    elif cmd.form == "exec" or (cmd.form == "write" and _ints(cmd.args, range(1)) is not None):
        if net.stat:
            ctx.info(f'+CGPADDR: 0,"{IP_ADDRESS}"')
        ctx.ok()
    else:
        ctx.error(INCORRECT_PARAMETERS if cmd.form == "write" else None)


@command("+CSQ")
async def csq(ctx: Context, cmd: Command) -> None:
    if cmd.form == "test":
        ctx.info("+CSQ: (0-31,99),(0-7,99)")
        ctx.ok()
    elif cmd.form == "exec":
        ctx.info("+CSQ: 25,0" if network(ctx).cfun == 1 else "+CSQ: 99,99")
        ctx.ok()
    else:
        ctx.error()


@command("+QCGDEFCONT")
async def qcgdefcont(ctx: Context, cmd: Command) -> None:
    """AT+QCGDEFCONT=<PDP_type>[,<APN>]: the default PDP context used at attach."""
    net = network(ctx)
    if cmd.form == "read":
        ctx.info(f'+QCGDEFCONT: "{net.pdp_type}","{net.apn}"')
        ctx.ok()
    elif cmd.form == "test":
        ctx.info('+QCGDEFCONT: ("IP","IPV6","IPV4V6","Non-IP"),<APN>,<username>,<password>')
        ctx.ok()
    elif cmd.form == "write":
        a = cmd.args
        pdp = next((t for t in PDP_TYPES if a[0].quoted and a[0].text.upper() == t.upper()), None)
        if pdp is None or len(a) > 4 or any(not x.quoted for x in a[1:]) or (
                len(a) > 1 and len(a[1].text.encode()) > 99):
            ctx.error(INCORRECT_PARAMETERS)
            return
        net.pdp_type = pdp
        net.apn = a[1].text if len(a) > 1 else ""
        ctx.ok()
    else:
        ctx.error()


@command("+QRST")
async def qrst(ctx: Context, cmd: Command) -> None:
    """AT+QRST=1: OK, then the module resets and reports RDY (DESIGN "Module facts")."""
    if cmd.form == "test":
        ctx.info("+QRST: 1")
        ctx.ok()
    elif cmd.form == "write" and _ints(cmd.args, range(1, 2)) is not None:
        ctx.ok()
        await _reset(ctx)
    else:
        ctx.error(INCORRECT_PARAMETERS if cmd.form == "write" else None)


async def _reset(ctx: Context) -> None:
    reset = getattr(ctx, "reset_module", None)  # frontend.ATEngine.reset_module
    if reset is not None:
        await reset()
