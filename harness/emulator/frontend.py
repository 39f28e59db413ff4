"""The AT engine: the module's UART side, implementing api.Context for the handlers.

It owns the byte stream (3.1.2): command framing, echo, <CR><LF> framing of responses,
ERROR vs +CME ERROR (AT+CMEE), data mode (`>` prompt, Ctrl+Z / fixed length, Esc, the 60 s
limit of 3.3.8 note 5) and URC delivery. It knows nothing about sockets or ptys: a transport
calls `feed(bytes)` and `attach(sink)`, so the module outlives host connections.

Decisions (DESIGN "Module facts" where it speaks, else a real module's habits):
- A line is everything up to <CR>; <LF>s at the start of a line are skipped (hosts send
  <CR><LF>); an empty line is ignored; a line not starting with AT/at answers ERROR.
- More than MAX_LINE bytes without <CR> are discarded and the line answers ERROR at its <CR>.
- Echo (ATE1, the default) sends the line and <CR> when the command starts executing.
- Consecutive information lines of one command share framing: <CR><LF>l1<CR><LF>l2<CR><LF>
  then <CR><LF>OK<CR><LF>, which is the blank line before OK that ATI and the note show.
- Data mode prompt is "<CR><LF>> " (no line end; chapter 6 prints ">" on its own line, a real
  module sends a space after it). Esc cancels in both the Ctrl+Z and the fixed-length form.
  The 60 s limit counts from the last input byte (module seconds).
- Sleep (AT+QSCLK=1/2): sleep.py decides when the module sleeps and what the first line after it
  does (lost; a line end after the wake time; +QNBIOTEVENT reports); here only the hooks.
- Boot: RDY the profile's boot time after a reset or power-on (profiles.Profile.boot_s: 1 s, or
  what a profile file sets, about 10 s for a real module, obs. fact 16); the UART ignores input
  until then.
- The handler is looked up by (command, form) (api.handles); none answers plain ERROR. A
  handler's errors.Refused is its final result; any other exception answers ERROR and is
  logged as an emulator error (the harness's tests fail on those).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from harness.emulator import profile_file, profiles, sleep, state
from harness.emulator.api import Arg, Command, decode, encode, handler_for
from harness.emulator.errors import TEXT, Refused
from harness.emulator.state import ModuleState

log = logging.getLogger("harness.emulator")

MAX_LINE = 3072  # bytes without <CR> before the line is discarded (answers ERROR)
MAX_BUFFER = 65536  # unread input kept at most (a UART overrun drops the rest)
DATA_CAP = 16384  # bytes kept in Ctrl+Z data mode; handlers apply the note's limits
MAX_HELD = 1000  # URCs held during one data mode; later ones are lost (logged), as output is
DATA_MODE_TIMEOUT_S = 60.0  # 3.3.8 note 5, module seconds
# module seconds of silence before AT+QSCLK=1/2 lets the module sleep, with the default
# AT+QCFG="slplocktimes" (sleep.idle_s follows the setting)
SLEEP_IDLE_S = float(state.PowerSaving().slplocktimes)
CTRL_Z, ESC = 0x1A, 0x1B

def split_args(text: str) -> tuple[Arg, ...] | None:
    """Split on commas outside double quotes (each `"` toggles), so chapter 6's
    `17,"{"a":"1","b":"2"}"` keeps its payload whole. None when a quote is left open."""
    parts: list[str] = []
    cur: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    if quoted:
        return None
    parts.append("".join(cur))
    args = []
    for p in parts:
        t = p.strip()
        if len(t) >= 2 and t[0] == '"' and t[-1] == '"':
            args.append(Arg(t[1:-1], True))
        else:
            args.append(Arg(t, False))
    return tuple(args)


def parse_line(raw: str) -> Command | None:
    """3.1.2 Table 1 forms. None when the line is not an AT command at all."""
    s = raw.strip()
    if s[:2].upper() != "AT":
        return None
    body = s[2:]
    if not body:
        return Command("", "exec", raw=raw)
    if body[0] in "+&^%$":
        end = next((i for i, ch in enumerate(body) if ch in "=?"), len(body))
        name, rest = body[:end].upper(), body[end:]
        if len(name) < 2 or not name[1:].replace("_", "").isalnum():
            return None
        if rest == "":
            return Command(name, "exec", raw=raw)
        if rest == "?":
            return Command(name, "read", raw=raw)
        if rest == "=?":
            return Command(name, "test", raw=raw)
        if rest.startswith("="):
            args = split_args(rest[1:])
            return None if args is None else Command(name, "write", args, raw=raw)
        return None
    if not body[0].isalpha():
        return None
    return Command(body[0].upper(), "exec", raw=raw, suffix=body[1:])


class _Overlong:
    """Marker for a line that exceeded MAX_LINE."""


OVERLONG = _Overlong()


class ATEngine:
    """One emulated module. Implements api.Context (`module` is the current power cycle's
    state: a reset swaps it, so handlers must not cache it across awaits)."""

    def __init__(self, *, time_scale: float = 1.0, firmware: str = profiles.DEFAULT_FIRMWARE,
                 imei: str = "") -> None:
        self.time_scale = time_scale
        self.profile = profile_file.resolve(firmware)  # a name or a profile file (--firmware PATH)
        self.imei = imei
        self.module: ModuleState = state.power_on(self.profile, time_scale, imei)
        self._buf = bytearray()
        self._input = asyncio.Event()
        self._sink: Callable[[bytes], None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._held: list[str] | None = None  # URCs held while in data mode
        self._held_lost = 0  # ... beyond MAX_HELD in this data mode (logged when it ends)
        self.output_dropped = 0  # bytes of output lost to a host that did not read (control "stats")
        self._in_info = False
        self._final_sent = False
        self._overlong = False
        self._busy = False  # a command line is being executed
        self._loop = asyncio.get_running_loop()
        self._boot_until = 0.0
        self.sleep = sleep.Sleep(module=lambda: self.module, may_sleep=self._idle, write=self._write,
                                 urc=self.urc, spawn=self.spawn)
        self._worker = self._loop.create_task(self._run(), name="at-engine")
        self._sleeper = self._loop.create_task(self.sleep.watch(), name="sleep")

    # ---- transport side -------------------------------------------------------------------
    def attach(self, sink: Callable[[bytes], None]) -> None:
        """A host connected. The partial line of a previous host is dropped (a new
        connection is a framing boundary); the module state is kept."""
        self._sink = sink
        if self._held is None:
            self._buf.clear()
            self._overlong = False

    def detach(self) -> None:
        self._sink = None

    def output_lost(self, n: int) -> None:
        """A transport lost `n` bytes of output (overflow.py): the running total for "stats"."""
        self.output_dropped += n

    def feed(self, data: bytes) -> None:
        if self._loop.time() < self._boot_until:
            return  # rebooting: the UART is not listening
        if not self.sleep.take_input():
            return  # it woke a sleeping module, or came while it wakes: lost (sleep.py)
        room = MAX_BUFFER - len(self._buf)
        if len(data) > room:
            log.warning("input overrun: %d bytes dropped", len(data) - max(room, 0))
            data = data[: max(room, 0)]
        self._buf += data
        self._input.set()

    async def close(self) -> None:
        self._worker.cancel()
        self._sleeper.cancel()
        await self._power_off()
        await asyncio.gather(self._worker, self._sleeper, return_exceptions=True)

    # ---- api.Context ----------------------------------------------------------------------
    def info(self, line: str) -> None:
        self._write((b"" if self._in_info else b"\r\n") + encode(line) + b"\r\n")
        self._in_info = True

    def ok(self) -> None:
        self._final("OK")

    def error(self, cme: int | None = None) -> None:
        mode = self.module.cmee
        if cme is None or mode == 0:
            self._final("ERROR")
        elif mode == 2 and cme in TEXT:
            # a firmware profile may print a code's text its own way (observed-a05: fact 13)
            self._final(f"+CME ERROR: {self.module.profile.cme_text.get(cme, TEXT[cme])}")
        else:
            self._final(f"+CME ERROR: {int(cme)}")

    def urc(self, line: str) -> None:
        self.sleep.before_output()
        if self._held is not None:
            if len(self._held) < MAX_HELD:
                self._held.append(line)
            else:
                if not self._held_lost:
                    log.warning("data mode: %d URCs held; later ones are lost until it ends", MAX_HELD)
                self._held_lost += 1
            return
        self._write(b"\r\n" + encode(line) + b"\r\n")
        self._in_info = False

    async def read_data(self, length: int | None = None, echo: bool = False) -> bytes | None:
        self._write(b"\r\n> ")
        self._in_info = False
        self._held = []
        out = bytearray()
        try:
            while True:
                if length is not None and len(out) >= length:
                    return bytes(out)  # also <msg_len> 0 (3.3.8 range 0-1460)
                while self._buf:
                    b = self._buf.pop(0)
                    if b == ESC:
                        return None
                    if length is None and b == CTRL_Z:
                        return bytes(out)
                    if len(out) < DATA_CAP or length is not None:
                        out.append(b)
                        if echo:
                            self._write(bytes((b,)))
                    if length is not None and len(out) >= length:
                        return bytes(out)
                if not await self._wait_input(self.module.scaled(DATA_MODE_TIMEOUT_S)):
                    log.info("data mode: no input for %.0f module s, leaving", DATA_MODE_TIMEOUT_S)
                    return None
        finally:
            held, self._held = self._held, None
            if self._held_lost:
                log.warning("data mode: %d URCs lost beyond the %d held", self._held_lost, MAX_HELD)
                self._held_lost = 0
            for line in held or ():
                self.urc(line)
            self.sleep.touch()

    def spawn(self, coro: Awaitable[None]) -> None:
        task = self._loop.create_task(_as_coroutine(coro))
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    async def reset_module(self) -> None:
        """AT+QRST=1 / AT+CFUN=<fun>,1: power-cycle after the final result. Only what
        state.SAVED names survives, and the radio's function level (state.boot); pending input is
        lost, and RDY follows after the profile's boot time (module seconds)."""
        await self._power_off()
        self.module = state.boot(self.profile, self.time_scale, self.imei, previous=self.module)
        self._buf.clear()
        self._overlong = False
        self.sleep.reset()
        delay = self.module.scaled(self.profile.boot_s)
        self._boot_until = self._loop.time() + delay
        log.info("reset: RDY in %g module s, AT+CFUN=%d", self.profile.boot_s, self.module.network.cfun)

        async def boot() -> None:
            await asyncio.sleep(delay)
            self.urc("RDY")

        self.spawn(boot())

    # ---- internals ------------------------------------------------------------------------
    async def _power_off(self) -> None:
        """Cancel the module's background work, then run the areas' power-off hooks
        (state.on_power_off: open sockets close)."""
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        await state.power_off(self.module)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed: %r", task.exception())

    def _write(self, data: bytes) -> None:
        self.sleep.touch()
        if self._sink is not None:
            self._sink(data)

    def _idle(self) -> bool:
        """Nothing keeps the module awake but the idle time (sleep.py): no command running, no
        data mode, no partial line, not booting."""
        return (not self._busy and self._held is None and not self._buf
                and self._loop.time() >= self._boot_until)

    def _final(self, text: str) -> None:
        self._write(b"\r\n" + text.encode() + b"\r\n")
        self._in_info = False
        self._final_sent = True

    async def _wait_input(self, timeout: float | None = None) -> bool:
        """Wait for more input; False on timeout."""
        self._input.clear()
        try:
            await asyncio.wait_for(self._input.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def _next_line(self) -> bytes | _Overlong:
        while True:
            while self._buf[:1] in (b"\n", b"\0"):
                del self._buf[:1]
            i = self._buf.find(b"\r")
            if i >= 0:
                line = bytes(self._buf[:i])
                del self._buf[: i + 1]
                if self._overlong:
                    self._overlong = False
                    return OVERLONG
                return line
            if len(self._buf) > MAX_LINE:
                log.warning("line longer than %d bytes without <CR>: discarded", MAX_LINE)
                self._buf.clear()
                self._overlong = True
            await self._wait_input()

    async def _run(self) -> None:
        while True:
            line = await self._next_line()
            self._busy = True
            try:
                await self._execute(line)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # bad input never kills the module
                log.error("internal error on a command line: %r", exc)
                if not self._final_sent:
                    self.error()
            finally:
                self._busy = False  # the idle time counts from the last byte in or out (sleep.py)

    async def _execute(self, line: bytes | _Overlong) -> None:
        self._final_sent = False
        self._in_info = False
        if isinstance(line, _Overlong):
            self.error()
            return
        text = decode(line)
        if not text.strip():
            return
        if self.module.echo:
            self._write(line + b"\r")
        cmd = parse_line(text)
        handler = handler_for(cmd.name, cmd.form) if cmd is not None else None
        if cmd is None or handler is None:
            self.error()  # an unknown command, or a form the command does not have
            return
        log.debug("AT%s (%s)", cmd.name, cmd.form)  # never the arguments: they may be secrets
        try:
            await handler(self, cmd)
        except asyncio.CancelledError:
            raise
        except Refused as refused:
            if not self._final_sent:
                self.error(refused.code)
            return
        except Exception as exc:
            log.error("handler for AT%s failed: %r", cmd.name, exc)
            if not self._final_sent:
                self.error()
            return
        if not self._final_sent:
            log.warning("handler for AT%s sent no final result", cmd.name)


async def _as_coroutine(aw: Awaitable[None]) -> None:
    await aw

