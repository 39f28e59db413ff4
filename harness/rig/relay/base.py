"""What the recovery ladder asks of a relay: small protocols, and a registry of drivers.

As labgrid does it: power (on/off/cycle) and reset (pulse) are two protocols, and a driver
implements what its hardware can. Callers check ``can_power`` / ``can_reset`` before they
climb to that rung; calling an unsupported action is a RelayError, never a silent no-op.
A driver is chosen by ``relay.kind`` through RELAY_DRIVERS (a registry, not if/elif): each
driver module registers its factory on import.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Protocol, runtime_checkable

from harness.rig.relay_schema import RelayConfig


class RelayError(Exception):
    """A relay action failed; str() is one line naming the driver and the device."""

    def __init__(self, driver: str, device: str | None, message: str) -> None:
        self.driver, self.device = driver, device
        where = f"relay {driver}" + (f" ({device})" if device else "")
        super().__init__(f"{where}: {' '.join(message.split())}")


@runtime_checkable
class PowerDriver(Protocol):
    can_power: bool

    def on(self) -> None: ...

    def off(self) -> None: ...

    def cycle(self, off_s: float | None = None) -> None: ...


@runtime_checkable
class ResetDriver(Protocol):
    can_reset: bool

    def pulse(self, width_s: float | None = None) -> None: ...


class Relay:
    """Base for drivers: timing defaults from the rig file, cycle() as off-wait-on, errors.

    ``sleep`` is the clock the driver waits with; tests hand in one that records what the
    lines look like during the wait (a pulse is otherwise invisible once it has ended).
    """

    kind = "relay"
    can_power = False
    can_reset = False

    def __init__(self, config: RelayConfig, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self.device: str | None = config.device
        self.sleep = sleep

    def error(self, message: str) -> RelayError:
        return RelayError(self.kind, self.device, message)

    def on(self) -> None:
        raise self.error("this relay has no power control")

    def off(self) -> None:
        raise self.error("this relay has no power control")

    def cycle(self, off_s: float | None = None) -> None:
        """Power off, wait ``off_s`` (default relay.power_off_s), power on."""
        self.off()
        self.sleep(self.off_time(off_s))
        self.on()

    def pulse(self, width_s: float | None = None) -> None:
        raise self.error("this relay has no reset control")

    def off_time(self, off_s: float | None) -> float:
        """How long a power cycle keeps the DUT off: ``off_s``, default relay.power_off_s."""
        return self.config.power_off_s if off_s is None else off_s

    def width(self, width_s: float | None) -> float:
        """How long a reset pulse holds RESET_N: ``width_s``, default relay.reset_pulse_s."""
        return self.config.reset_pulse_s if width_s is None else width_s

    def close(self) -> None:
        """Release the hardware (ports, line requests, sockets); idempotent."""

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LineRelay(Relay):
    """A relay that drives named lines (power, reset) with `_set(function, active)`: power on/off
    and the reset pulse are the same for GPIO, DTR/RTS and HID boards, only `_set` differs. What
    the rig file names (relay.lines or relay.channels: function -> line) is what it can do."""

    def __init__(self, config: RelayConfig, lines: Mapping[str, object], *,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(config, sleep=sleep)
        self.can_power = "power" in lines
        self.can_reset = "reset" in lines

    def on(self) -> None:
        self._set("power", True)

    def off(self) -> None:
        self._set("power", False)

    def pulse(self, width_s: float | None = None) -> None:
        self._set("reset", True)
        try:
            self.sleep(self.width(width_s))
        finally:
            self._set("reset", False)

    def _set(self, function: str, active: bool) -> None:
        raise NotImplementedError


Factory = Callable[[RelayConfig], Relay]
RELAY_DRIVERS: dict[str, Factory] = {}


def register_driver(kind: str) -> Callable[[type[Relay]], type[Relay]]:
    """Class decorator: ``relay.kind: <kind>`` builds this driver (its kind is in RELAY_KINDS)."""

    def deco(cls: type[Relay]) -> type[Relay]:
        if kind in RELAY_DRIVERS:
            raise ValueError(f"relay driver {kind} registered twice")
        cls.kind = kind
        RELAY_DRIVERS[kind] = cls
        return cls

    return deco


def build_relay(config: RelayConfig, *, device: str | None = None) -> Relay:
    """The driver for ``config.kind``. ``device`` fills in a device known only at run time
    (the control socket of the emulator the harness started)."""
    if device is not None and config.device is None:
        config = config.model_copy(update={"device": device})
    factory = RELAY_DRIVERS.get(config.kind)
    if factory is None:
        raise RelayError(config.kind, config.device, "no driver is registered for this relay kind")
    return factory(config)
