"""relay.kind gpiod: GPIO lines of a gpiochip through libgpiod v2 (the `gpiod` package, 2.x).

relay.channels holds the line offsets on relay.device (/dev/gpiochipN). Logical values go
through libgpiod's active-low setting, so "power ACTIVE" means the DUT is powered and
"reset ACTIVE" means RESET_N is held low, whatever the wiring (relay.active_low). The lines
are requested once, on first use, with power on and reset released, and held until close():
releasing them would let another process (or the kernel default) move the DUT's power.
"""

from __future__ import annotations

import errno
import importlib
import os
import time
from collections.abc import Callable
from typing import Any

from harness.rig.relay.base import LineRelay, register_driver
from harness.rig.relay_schema import RelayConfig

CONSUMER = "bc660k-relay"


@register_driver("gpiod")
class GpiodRelay(LineRelay):
    def __init__(self, config: RelayConfig, *, gpiod: Any = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        """``gpiod``: the libgpiod module (default: the real one); tests pass a fake chip's."""
        super().__init__(config, config.channels, sleep=sleep)
        self._gpiod = gpiod
        self.offsets = dict(config.channels)
        self._request: Any = None

    def close(self) -> None:
        request, self._request = self._request, None
        if request is not None:
            request.release()

    def _lib(self) -> Any:
        if self._gpiod is None:
            try:
                self._gpiod = importlib.import_module("gpiod")
            except ImportError:
                raise self.error("the gpiod package (libgpiod v2 bindings) is not installed") from None
        return self._gpiod

    def _requested(self) -> Any:
        if self._request is not None:
            return self._request
        gpiod = self._lib()
        value, direction = gpiod.line.Value, gpiod.line.Direction
        config = {
            offset: gpiod.LineSettings(direction=direction.OUTPUT, active_low=self.config.active_low,
                                       output_value=value.ACTIVE if fn == "power" else value.INACTIVE)
            for fn, offset in self.offsets.items()
        }
        try:
            if not os.path.exists(self.device or ""):
                raise self.error("no such device")
            if not gpiod.is_gpiochip_device(self.device):
                raise self.error("not a GPIO chip device (expected /dev/gpiochipN)")
            self._request = gpiod.request_lines(self.device, config=config, consumer=CONSUMER)
        except ValueError as exc:  # libgpiod: an offset beyond the chip's lines
            raise self.error(f"cannot request lines {sorted(self.offsets.values())}: {exc}") from None
        except OSError as exc:
            why = "in use by another consumer" if exc.errno == errno.EBUSY else exc.strerror or str(exc)
            raise self.error(f"cannot request lines {sorted(self.offsets.values())}: {why}") from None
        return self._request

    def _set(self, function: str, active: bool) -> None:
        offset = self.offsets.get(function)
        if offset is None:
            raise self.error(f"no {function} line in relay.channels")
        request = self._requested()
        value = self._lib().line.Value
        try:
            request.set_value(offset, value.ACTIVE if active else value.INACTIVE)
        except OSError as exc:
            raise self.error(f"cannot set line {offset}: {exc.strerror or exc}") from None
