"""The contract between the emulator's AT front end and its command handlers.

The front end (frontend.py) owns the byte stream: framing, echo, data mode, ERROR vs
+CME ERROR (AT+CMEE), URC delivery. Handlers (one module per command area) own the
semantics of the application note. This file is the only thing both sides import, so
either side can change without the other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

Form = Literal["test", "read", "write", "exec"]  # 3.1.2 Table 1


@dataclass(frozen=True)
class Arg:
    """One comma-separated parameter as typed by the host: the quoting matters (3.3.x says
    which parameters are "String type"), so it is kept rather than normalised away."""

    text: str  # without the quotes
    quoted: bool

    def as_int(self) -> int | None:
        """The integer value, or None when the parameter is not an unquoted decimal integer."""
        if self.quoted:
            return None
        t = self.text.strip()
        sign, digits = (t[0], t[1:]) if t[:1] in ("+", "-") else ("", t)
        return int(sign + digits) if digits.isascii() and digits.isdigit() else None


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
        """Send ERROR or `+CME ERROR: <cme>` as AT+CMEE selects; cme None -> plain ERROR always."""

    def urc(self, line: str) -> None:
        """Send an unsolicited line now, or hold it while the host is in data mode."""

    async def read_data(self, length: int | None = None, echo: bool = False) -> bytes | None:
        """Send the `>` prompt and collect payload: up to Ctrl+Z (length None) or exactly
        `length` bytes. None when the host cancels with Esc or the 60 s data-mode limit
        (3.3.8 note 5, module seconds) expires. `echo` mirrors input (AT+QMTCFG "echomode")."""

    def spawn(self, coro: Awaitable[None]) -> None:
        """Run work that outlives the command (the result URC after OK), owned by the module
        so power-off cancels it."""


Handler = Callable[[Context, Command], Awaitable[None]]


@dataclass
class ModuleState:
    """Everything the module remembers. Power-off replaces it with a fresh instance, which is
    how "The configuration will not be saved" (3.3.1) is kept by construction."""

    time_scale: float = 1.0
    firmware: str = "conformant"
    cmee: int = 0  # AT+CMEE: 0 plain ERROR, 1 numeric, 2 verbose
    echo: bool = True  # ATE (DESIGN "Module facts": on by default, saved across reset)
    sleep_mode: int = 0  # AT+QSCLK
    ext: dict[str, object] = field(default_factory=dict)  # per-area state, keyed by module name

    def scaled(self, module_seconds: float) -> float:
        """Real seconds for a module timer (DESIGN "Time")."""
        return module_seconds * self.time_scale


_REGISTRY: dict[str, Handler] = {}


def command(*names: str) -> Callable[[Handler], Handler]:
    """Register a handler for one or more command names (a registry, not an if/elif chain)."""

    def deco(fn: Handler) -> Handler:
        for n in names:
            if n.upper() in _REGISTRY:
                raise ValueError(f"command {n} registered twice")
            _REGISTRY[n.upper()] = fn
        return fn

    return deco


def handler_for(name: str) -> Handler | None:
    return _REGISTRY.get(name.upper())
