"""Power-related general commands: supply voltage, PSM, eDRX, the NB-IoT event report and the
sleep items of AT+QCFG (manual V1.4 chapters 9, 10.1 and 11.1; obs. facts 5, 8, 9, 21).

Why the emulator has them: host software reads them in its start-up profile (the recorded
dashboard of the observations file sends AT+CBC, AT+QNBIOTEVENT=1,1, AT+QCFG="dsevent",1,
AT+CPSMS?, AT+CEDRXS?, AT+CEDRXRDP in that order) and gives up on a module that answers ERROR.

They are stored and read back (state.PowerSaving). What sleep does to the UART and which URCs it
sends (`+QNBIOTEVENT: "ENTER DEEPSLEEP"`, obs. fact 21) is sleep.py's, which reads AT+QNBIOTEVENT
and "slplocktimes" from here; what PSM and eDRX do is not modelled.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from harness.emulator.api import Arg, Command, Context, answer, handles
from harness.emulator.errors import Refused, need
from harness.emulator.general import INCORRECT, ints, values_text
from harness.emulator.general_values import SUPPLY_MV
from harness.emulator.state import ModuleState, PowerSaving

_TIMER = re.compile(r"[01]{8}")  # GPRS Timer 2/3 octet in bit format (manual 9.4)
_EDRX = re.compile(r"[01]{4}")  # half a byte in bit format (manual 9.1)
EDRX_ACT = 5  # <AcT_type> 5: E-UTRAN (NB-S1 mode), the only one (manual 9.1)


def _bits(arg: Arg, pattern: re.Pattern[str]) -> str:
    """A quoted bit string of the pattern's length, else Refused(50)."""
    return need(arg.text if arg.quoted and pattern.fullmatch(arg.text) else None, INCORRECT)


# --- AT+CBC (manual 10.1; obs. fact 5) -----------------------------------------------------

answer("+CBC", "test")  # manual 10.1: OK only
answer("+CBC", "exec", f"+CBC: {SUPPLY_MV}")  # obs. fact 5: one field, mV (BC66's 3 fields are not ours)


# --- AT+CPSMS (manual 9.4; obs. fact 8) ----------------------------------------------------

answer("+CPSMS", "test", '+CPSMS: (0-2),,,("00000000"-"11111111"),("00000000"-"11111111")')  # manual 9.4
answer("+CPSMS", "read", lambda m: f'+CPSMS: {m.power.psm_mode},,,"{m.power.psm_tau}","{m.power.psm_active}"')


@handles("+CPSMS", "write")
async def cpsms(ctx: Context, cmd: Command) -> None:
    """AT+CPSMS=<mode>[,,,<requested_periodic_TAU>[,<requested_active_time>]] (manual 9.4).

    The two GERAN fields (RAU, GPRS-READY) stay empty, as the manual's syntax and every read
    answer show (obs. fact 8); DECIDED: a value there is refused (50). Omitted timers keep their
    value (manual 1.1). <mode> 2 turns PSM off and restores the factory timers (DECIDED: the read
    answer then shows <mode> 0, as 27.007 has no read value 2)."""
    a = cmd.args
    mode = need(a[0].int_in(range(3)), INCORRECT) if a else None
    if mode is None or len(a) in (2, 3) or len(a) > 5 or any(x.text or x.quoted for x in a[1:3]):
        raise Refused(INCORRECT)
    power = ctx.module.power
    tau = _bits(a[3], _TIMER) if len(a) > 3 else power.psm_tau
    active = _bits(a[4], _TIMER) if len(a) > 4 else power.psm_active
    if mode == 2:
        fresh = PowerSaving()
        power.psm_mode, power.psm_tau, power.psm_active = 0, fresh.psm_tau, fresh.psm_active
    else:
        power.psm_mode, power.psm_tau, power.psm_active = mode, tau, active
    ctx.ok()


# --- AT+CEDRXS / AT+CEDRXRDP (manual 9.1, 9.2; obs. fact 9) ---------------------------------

answer("+CEDRXS", "test", f'+CEDRXS: (0-3),({EDRX_ACT}),("0000"-"1111")')  # manual 9.1 example
# obs. fact 9: the requested value is shown while eDRX is off too. (The manual's example reads "0011"
# right after setting "0101"; its text, "returns the current settings", decides: the value set.)
answer("+CEDRXS", "read", lambda m: f'+CEDRXS: {EDRX_ACT},"{m.power.edrx_value}"')


@handles("+CEDRXS", "write")
async def cedrxs(ctx: Context, cmd: Command) -> None:
    """AT+CEDRXS=<mode>[,<AcT_type>[,<requested_eDRX_value>]]: <mode> 0 off, 1 on, 2 on with
    +CEDRXP reports, 3 off and the factory value back (manual 9.1). No +CEDRXP ever follows:
    the emulated cell provides no eDRX (see AT+CEDRXRDP)."""
    a = cmd.args
    mode = ints(a[:1], range(4))[0]
    if len(a) > 3 or (len(a) > 1 and a[1].int_in((EDRX_ACT,)) is None):
        raise Refused(INCORRECT)
    power = ctx.module.power
    value = _bits(a[2], _EDRX) if len(a) > 2 else power.edrx_value
    power.edrx_mode, power.edrx_value = (0, PowerSaving().edrx_value) if mode == 3 else (mode, value)
    ctx.ok()


answer("+CEDRXRDP", "test")  # manual 9.2: OK only
# obs. fact 9: `+CEDRXRDP: 0`, "the cell is not using eDRX" (manual 9.2). DECIDED: the emulated
# network never grants eDRX, so it stays 0 after AT+CEDRXS=1 too.
answer("+CEDRXRDP", "exec", "+CEDRXRDP: 0")


# --- AT+QNBIOTEVENT (manual 9.8) -----------------------------------------------------------

answer("+QNBIOTEVENT", "test")  # manual 9.8: OK only
answer("+QNBIOTEVENT", "read", lambda m: f"+QNBIOTEVENT: {m.power.nbiot_event},1")  # manual 9.8 example


@handles("+QNBIOTEVENT", "write")
async def qnbiotevent(ctx: Context, cmd: Command) -> None:
    """AT+QNBIOTEVENT=<enable>,<event>: <event> 1 (PSM state) is the only event (manual 9.8); the
    recorded dashboard sends `AT+QNBIOTEVENT=1,1` and gets OK (MB-T). With <enable> 1 the module
    reports `+QNBIOTEVENT: "ENTER DEEPSLEEP"` / `"EXIT DEEPSLEEP"` as it falls asleep and wakes
    (obs. fact 21; sleep.py, which also says why AT+QCFG="dsevent" does not gate them)."""
    if len(cmd.args) != 2:
        raise Refused(INCORRECT)
    ctx.module.power.nbiot_event = ints(cmd.args, range(2), (1,))[0]
    ctx.ok()


# --- AT+QCFG (manual 11.1) -----------------------------------------------------------------


@dataclass(frozen=True)
class QcfgItem:
    """One AT+QCFG function the emulator keeps: its name as the manual spells it, its values and
    the state.PowerSaving field that holds it."""

    name: str
    values: range
    field: str
    section: str


QCFG_ITEMS: dict[str, QcfgItem] = {
    item.name.lower(): item
    for item in (
        QcfgItem("slplocktimes", range(31), "slplocktimes", "11.1.5"),  # 0-30 s, default 10
        # the recorded host sends "dsevent",1 (MB-T). DECIDED: stored only; it does not gate the
        # DEEPSLEEP reports, AT+QNBIOTEVENT does (sleep.py says why)
        QcfgItem("dsevent", range(2), "ds_event", "11.1.6"),
    )
}
"""DECIDED: the other functions of manual 11.1 ("EPCO", "DataInactTimer", ... several of them
writable only at AT+CFUN=0) are not modelled and answer +CME ERROR: 50 like a name the module does
not know ("nwscanmode", "roamservice" of other Quectel modules, which MM sends). Names match
case-insensitively but must be quoted (as AT+QMTCFG, qmtcfg.py)."""


def _qcfg_line(item: QcfgItem, module: ModuleState) -> str:
    return f'+QCFG: "{item.name}",{getattr(module.power, item.field)}'


def _reader(item: QcfgItem) -> Callable[[ModuleState], str]:
    return lambda module: _qcfg_line(item, module)


# manual 11.1: one line per function, for the test and the read form
answer("+QCFG", "test", *(f'+QCFG: "{i.name}",{values_text(i.values)}' for i in QCFG_ITEMS.values()))
answer("+QCFG", "read", *(_reader(i) for i in QCFG_ITEMS.values()))


@handles("+QCFG", "write")
async def qcfg(ctx: Context, cmd: Command) -> None:
    """AT+QCFG=<function>[,<value>] (manual 11.1.x): without a value `+QCFG: "<function>",<value>`,
    with one OK. DECIDED: the value reads back at once (the manual applies most after a reboot,
    which here would forget it)."""
    a = cmd.args
    item = QCFG_ITEMS.get(a[0].text.lower()) if a[0].quoted else None
    if item is None or len(a) > 2:
        raise Refused(INCORRECT)
    if len(a) == 1:
        ctx.info(_qcfg_line(item, ctx.module))
    else:
        setattr(ctx.module.power, item.field, ints(a[1:], item.values)[0])
    ctx.ok()
