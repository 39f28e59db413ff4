"""The contract between the emulator's AT front end and its command handlers.

The front end (frontend.py) owns the byte stream: framing, echo, data mode, ERROR vs
+CME ERROR (AT+CMEE), URC delivery. Handlers (one module per command area) own the
semantics of the application note. This file (with state.py and errors.py, which it names)
is all both sides import, so either side can change without the other.

A handler is registered for one command and one or more forms (3.1.2 Table 1: test `=?`,
read `?`, write `=...`, execute), so a form is one function and never an if/elif branch:

    @handles("+CFUN", "write")
    async def cfun(ctx: Context, cmd: Command) -> None:
        ...  # parse cmd.args, change ctx.module, ctx.ok() or raise errors.Refused(code)

    answer("+CFUN", "test", "+CFUN: (0,1),(0,1)")  # a form that only answers: lines, then OK
    answer("+CFUN", "read", lambda module: f"+CFUN: {module.network.cfun}")

A (command, form) nobody registered answers plain ERROR, like an unknown command.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Container
from dataclasses import dataclass
from typing import Literal, Protocol, get_args

from harness.emulator.state import ModuleState

Form = Literal["test", "read", "write", "exec"]  # 3.1.2 Table 1
FORMS: tuple[Form, ...] = get_args(Form)


def encode(text: str) -> bytes:
    """Text -> bytes as they cross the UART (lines are decoded with surrogateescape, so bytes
    that are not UTF-8 survive the round trip)."""
    return text.encode("utf-8", "surrogateescape")


def decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class Arg:
    """One comma-separated parameter as typed by the host: the quoting matters (3.3.x says
    which parameters are "String type"), so it is kept rather than normalised away."""

    text: str  # without the quotes
    quoted: bool

    def as_int(self) -> int | None:
        """The integer value, or None when the parameter is not an unquoted decimal integer
        (quoted, empty, a lone sign, other digits than ASCII)."""
        if self.quoted:
            return None
        t = self.text.strip()
        sign, digits = (t[0], t[1:]) if t[:1] in ("+", "-") else ("", t)
        return int(sign + digits) if digits.isascii() and digits.isdigit() else None

    def int_in(self, allowed: Container[int]) -> int | None:
        """The integer parser of every handler: `as_int()` when it is one of `allowed`, else None."""
        value = self.as_int()
        return value if value is not None and value in allowed else None

    def str_in(self, lo: int, hi: int) -> str | None:
        """A quoted string of lo..hi bytes, else None. DECIDED: "String type" parameters must be
        quoted, as every example of chapter 6 does."""
        return self.text if self.quoted and lo <= len(encode(self.text)) <= hi else None


@dataclass(frozen=True)
class Command:
    """A parsed command line: `AT+QMTCFG="keepalive",0` -> name "+QMTCFG", form "write"."""

    name: str  # upper-case, e.g. "+QMTCFG", "E", "I", "" for a bare AT
    form: Form
    args: tuple[Arg, ...] = ()
    raw: str = ""  # the line as received, without <CR>
    suffix: str = ""  # for basic commands like ATE0 / ATI: the text after the letter ("0")


class Context(Protocol):
    """What a handler may do. Every method frames with <CR><LF> as 3.1.2 requires."""

    module: ModuleState

    def info(self, line: str) -> None:
        """Send an information response line."""

    def ok(self) -> None:
        """Send the final result OK."""

    def error(self, cme: int | None = None) -> None:
        """Send ERROR or `+CME ERROR: <cme>` as AT+CMEE selects; cme None -> plain ERROR always.
        Raising errors.Refused(cme) does the same from anywhere below a handler."""

    def urc(self, line: str) -> None:
        """Send an unsolicited line now, or hold it while the host is in data mode."""

    async def read_data(self, length: int | None = None, echo: bool = False) -> bytes | None:
        """Send the `>` prompt and collect payload: up to Ctrl+Z (length None) or exactly
        `length` bytes. None when the host cancels with Esc or the 60 s data-mode limit
        (3.3.8 note 5, module seconds) expires. `echo` mirrors input (AT+QMTCFG "echomode")."""

    def spawn(self, coro: Awaitable[None]) -> None:
        """Run work that outlives the command (the result URC after OK), owned by the module
        so power-off cancels it."""

    async def reset_module(self) -> None:
        """Reset the module after the final result (AT+QRST=1, AT+CFUN=<fun>,1): `ctx.module`
        is a fresh state.power_on() afterwards, RDY follows after the boot delay."""


Handler = Callable[[Context, Command], Awaitable[None]]

_REGISTRY: dict[tuple[str, Form], Handler] = {}


def handles(name: str, *forms: Form) -> Callable[[Handler], Handler]:
    """Register the decorated handler for command `name` in each of `forms`."""
    if not forms or any(f not in FORMS for f in forms):
        raise ValueError(f"{name}: forms must be some of {FORMS}, got {forms}")

    def deco(fn: Handler) -> Handler:
        for form in forms:
            key = (name.upper(), form)
            if key in _REGISTRY:
                raise ValueError(f"AT{name} {form} form registered twice")
            _REGISTRY[key] = fn
        return fn

    return deco


Line = str | Callable[[ModuleState], str]


def answer(name: str, form: Form, *lines: Line) -> None:
    """Register a form that only answers: `lines` as information lines (each a string, or a
    function of the module state that returns one), then OK."""

    async def answering(ctx: Context, cmd: Command) -> None:
        for line in lines:
            ctx.info(line if isinstance(line, str) else line(ctx.module))
        ctx.ok()

    handles(name, form)(answering)


def handler_for(name: str, form: Form) -> Handler | None:
    return _REGISTRY.get((name.upper(), form))
