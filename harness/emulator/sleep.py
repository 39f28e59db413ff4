"""Sleep as the host sees it on the UART (AT+QSCLK, manual 9.10; obs. facts 14, 21, 44): when the
module falls asleep, what the first line after it does, and the AT+QNBIOTEVENT reports.

The front end (frontend.ATEngine) owns one `Sleep`, tells it about every byte in and out
(`touch`), asks it what to do with input (`take_input`) and output (`before_output`), and runs
`watch()` as a background task for as long as the engine lives. All times are module seconds on
the scaled clock (ModuleState.scaled).

The model, each part cited or DECIDED:
- With AT+QSCLK=1 or 2 the module stays awake AT+QCFG="slplocktimes" seconds after any UART
  activity (obs. fact 21, ZE and UD: "stays awake 10 s after any UART activity", manual 11.1.5
  default 10), then sleeps. Activity is input and output both; a command being executed, data
  mode, a partial line and a boot keep it awake (DECIDED).
- DECIDED: never less than MIN_AWAKE_S after activity, also with "slplocktimes",0: a module that
  slept between the wake answer and the next line could never be used (ZE sends its command
  300 ms after the wake answer, obs. fact 14).
- The first byte sent to a sleeping module wakes it and is lost with its whole line (obs. fact 14:
  the first AT got only `\\r\\n`, 1.817 s later; fact 44: an AT+QMTPUB got no `>` at all, so the
  publish was lost, with no ERROR). DECIDED: everything the host sends during the wake time
  (WAKE_S) is lost too (the UART is not up yet; ZE and UD repeat `AT` until one is answered, ZE
  300 ms apart), and at its end the module sends the `\\r\\n`.
- AT+QNBIOTEVENT=1,1 enables `+QNBIOTEVENT: "ENTER DEEPSLEEP"` when the module falls asleep and
  `+QNBIOTEVENT: "EXIT DEEPSLEEP"` when it wakes (obs. fact 21; fact 44: the EXIT report came on
  its own after the lost publish). The quoted form is ZE's; CF's comment writes it without the
  quotes, so the quoting is not settled (DECIDED: quoted, as the one source that matches it).
  DECIDED: EXIT follows the wake answer's `\\r\\n`. A URC the module has to send while asleep
  (an MQTT message arrived) wakes it first: EXIT DEEPSLEEP, then the URC.
- DECIDED on AT+QCFG="dsevent" (general_power.py): stored and read back, it does not gate these
  reports. Neither the code base nor the observations quote what the manual says it does; UD
  enables only AT+QNBIOTEVENT=1,1 and is one of the two sources of fact 21, and the recorded
  dashboard (MB-T) sends both.
- DECIDED: <mode> 2 is light sleep only (as BC66-family manuals define it; the BC660K manual's
  text is not quoted here): the first line is lost the same way, but no DEEPSLEEP is reported.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from harness.emulator.state import ModuleState

log = logging.getLogger("harness.emulator")

WAKE_S = 1.8  # module seconds from the first byte to the wake answer (obs. fact 14: 1.817 s)
MIN_AWAKE_S = 1.0  # module seconds awake after UART activity at least (DECIDED, see above)
SLEEP_MODES = (1, 2)  # AT+QSCLK values that let the module sleep
DEEP_SLEEP_MODE = 1  # ... and the one that sleeps deeply (reports DEEPSLEEP events)
POLL_S = 0.05  # real seconds between two looks while the module may not sleep yet
ENTER = '+QNBIOTEVENT: "ENTER DEEPSLEEP"'  # obs. fact 21 (ZE)
EXIT = '+QNBIOTEVENT: "EXIT DEEPSLEEP"'


def idle_s(module: ModuleState) -> float:
    """Module seconds without UART activity before the module sleeps."""
    return max(float(module.power.slplocktimes), MIN_AWAKE_S)


def reports(module: ModuleState) -> bool:
    """ENTER/EXIT DEEPSLEEP are reported: deep sleep, and AT+QNBIOTEVENT=1,1 (general_power.py)."""
    return module.sleep_mode == DEEP_SLEEP_MODE and module.power.nbiot_event == 1


class Sleep:
    """One module's sleep state: awake, asleep or waking (see the module docstring)."""

    def __init__(self, *, module: Callable[[], ModuleState], may_sleep: Callable[[], bool],
                 write: Callable[[bytes], None], urc: Callable[[str], None],
                 spawn: Callable[[Awaitable[None]], None]) -> None:
        self._module = module  # the current power cycle's state (a reset swaps it)
        self._may_sleep = may_sleep  # the front end is idle: no command, data mode, partial line, boot
        self._write = write  # raw bytes to the host
        self._urc = urc  # a framed URC to the host
        self._spawn = spawn  # a task of the module's (a reset or power-off cancels it)
        self._loop = asyncio.get_running_loop()
        self.state = "awake"  # awake | asleep | waking
        self.last_activity = self._loop.time()
        self._wake_until = 0.0

    def reset(self) -> None:
        """A reset or power-on: the module boots awake."""
        self.state = "awake"
        self.last_activity = self._loop.time()

    def touch(self) -> None:
        """UART activity (a byte in or out): the idle time starts again."""
        self.last_activity = self._loop.time()

    def take_input(self) -> bool:
        """Input arrived: True when the front end may keep it, False when it is lost (it woke a
        sleeping module, or came while the module wakes)."""
        now = self._loop.time()
        self._fall_asleep_if_due(now)
        if self.state == "waking":
            return False
        if self.state == "asleep":
            self.state = "waking"
            self._wake_until = now + self._module().scaled(WAKE_S)
            log.info("asleep: the first line only wakes the module")
            self._spawn(self._wake())
            return False
        self.touch()
        return True

    def before_output(self) -> None:
        """The module is about to send a URC: a sleeping module wakes first (EXIT DEEPSLEEP)."""
        if self.state == "asleep":
            self.state = "awake"
            self.touch()
            if reports(self._module()):
                self._urc(EXIT)

    async def watch(self) -> None:
        """Background task: fall asleep when the idle time is over (and report it)."""
        while True:
            now = self._loop.time()
            self._fall_asleep_if_due(now)
            delay = POLL_S
            if self.state == "awake" and self._eligible():
                delay = min(max(self._due() - now, 0.005), POLL_S * 5)
            await asyncio.sleep(delay)

    # ---- internals ------------------------------------------------------------------------
    def _eligible(self) -> bool:
        return self._module().sleep_mode in SLEEP_MODES and self._may_sleep()

    def _due(self) -> float:
        return self.last_activity + self._module().scaled(idle_s(self._module()))

    def _fall_asleep_if_due(self, now: float) -> None:
        if self.state == "awake" and self._eligible() and now >= self._due():
            log.info("asleep (AT+QSCLK=%d)", self._module().sleep_mode)
            if reports(self._module()):
                self._urc(ENTER)  # the last thing it says awake
            self.state = "asleep"

    async def _wake(self) -> None:
        await asyncio.sleep(max(self._wake_until - self._loop.time(), 0.0))
        self.state = "awake"
        self._write(b"\r\n")  # the lost line's only answer (obs. fact 14)
        self.touch()
        if reports(self._module()):
            self._urc(EXIT)
