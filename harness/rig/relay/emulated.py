"""relay.kind emulated: the emulator's power/reset control socket (harness/emulator/control.py).

Speaks only the control socket's line protocol (``power on|power off|reset|hang|status`` ->
``ok [state]`` / ``error <msg>``), so the suite leans on no emulator internals. relay.device
is the socket path; when the harness starts the emulator itself it passes the path at run
time (build_relay(..., device=emulator.control)).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from harness.rig.relay.base import Relay, register_driver
from harness.rig.relay_schema import RelayConfig

MAX_REPLY = 4096


@register_driver("emulated")
class EmulatedRelay(Relay):
    can_power = True
    can_reset = True

    def __init__(self, config: RelayConfig, *, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(config, sleep=sleep)

    def on(self) -> None:
        self.request("power on")

    def off(self) -> None:
        self.request("power off")

    def pulse(self, width_s: float | None = None) -> None:
        """RESET_N: the emulator resets at once (as AT+QRST); the width has no meaning there."""
        self.request("reset")

    def hang(self) -> None:
        """Beyond the protocols, for the recovery ladder's own tests: the AT parser stops answering."""
        self.request("hang")

    def status(self) -> str:
        """on, off, booting or hung."""
        return self.request("status")

    def request(self, line: str) -> str:
        """Send one line; return the text after ``ok``; ``error <msg>`` is a RelayError."""
        if not self.device:
            raise self.error("no control socket (start the emulator with control=True, or set relay.device)")
        timeout = self.config.timeout_s
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                sock.connect(self.device)
                sock.sendall(line.encode() + b"\n")
                reply = b""
                while not reply.endswith(b"\n") and len(reply) < MAX_REPLY:
                    chunk = sock.recv(MAX_REPLY)
                    if not chunk:
                        break
                    reply += chunk
        except TimeoutError:
            raise self.error(f"{line}: no answer within {timeout:g} s") from None
        except OSError as exc:
            raise self.error(f"cannot reach the control socket: {exc.strerror or exc}") from None
        text = reply.decode(errors="replace").strip()
        word, _, rest = text.partition(" ")
        if word == "ok":
            return rest
        raise self.error(f"{line}: {rest if word == 'error' else 'bad reply ' + repr(text[:80])}")
