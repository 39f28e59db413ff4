"""A gpiochip in memory, behind the subset of the libgpiod v2 Python API that gpiod_relay uses.

For tests where no /dev/gpiochipN exists (no gpio-sim in the sandbox). Faithful where the
driver can tell: request_lines(path, config, consumer, ...) with tuple keys, output values
set at request time through active_low, EBUSY for a line another request holds, ValueError
for an offset beyond the chip, RequestReleasedError after release(). The chip records every
physical level change, so a test can measure a pulse. tests/rig/test_relay_drivers.py checks the
names and signatures against the real `gpiod` package when it is installed.
"""

from __future__ import annotations

import errno
import os
import time
from dataclasses import dataclass, field
from enum import Enum
from types import SimpleNamespace
from typing import Any


class Value(Enum):
    INACTIVE = 0
    ACTIVE = 1

    def __bool__(self) -> bool:
        return self == Value.ACTIVE


class Direction(Enum):
    AS_IS = 1
    INPUT = 2
    OUTPUT = 3


@dataclass(repr=False)
class LineSettings:
    direction: Direction = Direction.AS_IS
    active_low: bool = False
    output_value: Value = Value.INACTIVE


class RequestReleasedError(Exception):
    def __init__(self) -> None:
        super().__init__("GPIO lines have been released")


@dataclass
class FakeChip:
    path: str
    num_lines: int = 8
    levels: dict[int, int] = field(default_factory=dict)  # physical 0/1 of lines driven as outputs
    held: dict[int, str] = field(default_factory=dict)  # offset -> consumer
    history: list[tuple[float, int, int]] = field(default_factory=list)  # (monotonic, offset, level)

    def drive(self, offset: int, level: int) -> None:
        self.levels[offset] = level
        self.history.append((time.monotonic(), offset, level))


class FakeLineRequest:
    def __init__(self, chip: FakeChip, settings: dict[int, LineSettings]) -> None:
        self._chip: FakeChip | None = chip
        self._settings = settings

    def __bool__(self) -> bool:
        return self._chip is not None

    def _line(self, line: int | str) -> tuple[FakeChip, int, LineSettings]:
        if self._chip is None:
            raise RequestReleasedError()
        if not isinstance(line, int) or line not in self._settings:
            raise ValueError(f"line {line!r} is not part of this request")
        return self._chip, line, self._settings[line]

    def set_value(self, line: int | str, value: Value) -> None:
        chip, offset, s = self._line(line)
        if s.direction is not Direction.OUTPUT:
            raise OSError(errno.EPERM, os.strerror(errno.EPERM))
        chip.drive(offset, int(bool(value)) ^ int(s.active_low))

    def get_value(self, line: int | str) -> Value:
        chip, offset, s = self._line(line)
        return Value(chip.levels.get(offset, 0) ^ int(s.active_low))

    def release(self) -> None:
        if self._chip is not None:
            for offset in self._settings:
                self._chip.held.pop(offset, None)
            self._chip = None

    @property
    def offsets(self) -> list[int]:
        return list(self._settings)


class FakeGpiod:
    """Stands in for the `gpiod` module: ``GpiodRelay(config, gpiod=FakeGpiod())``."""

    Value, Direction, LineSettings, RequestReleasedError = Value, Direction, LineSettings, RequestReleasedError
    line = SimpleNamespace(Value=Value, Direction=Direction)

    def __init__(self) -> None:
        self.chips: dict[str, FakeChip] = {}

    def add_chip(self, path: str | os.PathLike[str], num_lines: int = 8) -> FakeChip:
        """A chip at ``path`` (a plain file is created there, as the driver checks it exists)."""
        path = os.fspath(path)
        open(path, "ab").close()
        self.chips[path] = FakeChip(path, num_lines)
        return self.chips[path]

    def is_gpiochip_device(self, path: str) -> bool:
        return path in self.chips

    def request_lines(self, path: str, config: dict[Any, LineSettings | None], consumer: str | None = None,
                      event_buffer_size: int | None = None,
                      output_values: dict[int | str, Value] | None = None) -> FakeLineRequest:
        if not os.path.exists(path):
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
        chip = self.chips.get(path)
        if chip is None:
            raise OSError(errno.ENOTTY, os.strerror(errno.ENOTTY))
        settings: dict[int, LineSettings] = {}
        for key, s in config.items():
            for offset in key if isinstance(key, tuple | list) else (key,):
                if offset >= chip.num_lines:
                    raise ValueError("line offset of out range")
                if offset in settings:
                    raise ValueError(f"line must be configured exactly once - offset {offset} repeats")
                settings[offset] = s or LineSettings()
        if any(offset in chip.held for offset in settings):
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY))
        for offset, s in settings.items():
            chip.held[offset] = consumer or "?"
            if s.direction is Direction.OUTPUT:
                value = (output_values or {}).get(offset, s.output_value)
                chip.drive(offset, int(bool(value)) ^ int(s.active_low))
        return FakeLineRequest(chip, settings)
