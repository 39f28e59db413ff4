"""relay.kind dtr_rts: a USB-serial adapter's DTR/RTS lines drive the relay (or transistor).

pyserial sets the lines; relay.lines says which one is power and which reset, and
relay.active_low inverts both (the function is on when the line is deasserted). The port
is opened with the lines already at their idle state (power on, reset released), because
opening a port on Linux asserts DTR and RTS by default, which would glitch the DUT.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import serial

from harness.rig.relay.base import LineRelay, register_driver
from harness.rig.relay_schema import RelayConfig


@register_driver("dtr_rts")
class DtrRtsRelay(LineRelay):
    def __init__(self, config: RelayConfig, *, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(config, config.lines, sleep=sleep)
        self.lines = dict(config.lines)
        self._port: Any = None

    def close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            port.close()

    def _open(self) -> Any:
        if self._port is None:
            try:
                port = serial.serial_for_url(self.device, do_not_open=True)
                for function, active in (("power", True), ("reset", False)):
                    if function in self.lines:
                        setattr(port, self.lines[function], active != self.config.active_low)
                port.open()
            except (serial.SerialException, OSError, ValueError) as exc:
                raise self.error(f"cannot open the port: {exc}") from None
            self._port = port
        return self._port

    def _set(self, function: str, active: bool) -> None:
        line = self.lines.get(function)
        if line is None:
            raise self.error(f"no {function} line in relay.lines")
        port = self._open()
        try:
            setattr(port, line, active != self.config.active_low)
        except (serial.SerialException, OSError) as exc:
            raise self.error(f"cannot set {line.upper()}: {exc}") from None
