"""relay.kind manual: the operator is the relay. Asks at the terminal and waits for Enter.

Only on an interactive terminal: a nightly job with no one at the keyboard must fail fast
with a clear line, not wait for an answer that never comes. The operator answers within
relay.timeout_s; typing ``n`` (or ``no``) says the action could not be done.
"""

from __future__ import annotations

import select
import sys
import time
from collections.abc import Callable
from typing import TextIO

from harness.rig.relay.base import Relay, register_driver
from harness.rig.relay_schema import RelayConfig


@register_driver("manual")
class ManualRelay(Relay):
    can_power = True
    can_reset = True

    def __init__(self, config: RelayConfig, *, stdin: TextIO | None = None, stdout: TextIO | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(config, sleep=sleep)
        self.stdin = sys.stdin if stdin is None else stdin
        self.stdout = sys.stdout if stdout is None else stdout
        self.device = "terminal"

    def on(self) -> None:
        self._ask("Switch the DUT's power ON (VBAT)")

    def off(self) -> None:
        self._ask("Switch the DUT's power OFF (VBAT)")

    def cycle(self, off_s: float | None = None) -> None:
        self._ask(f"Power-cycle the DUT: VBAT off for at least {self.off_time(off_s):g} s, then on again")

    def pulse(self, width_s: float | None = None) -> None:
        self._ask(f"Reset the DUT: hold RESET_N low for about {self.width(width_s) * 1000:.0f} ms")

    def _ask(self, what: str) -> None:
        try:
            interactive = self.stdin.isatty()
        except (AttributeError, ValueError):  # closed or replaced stdin
            interactive = False
        if not interactive:
            raise self.error("manual relay needs an interactive terminal")
        timeout = self.config.timeout_s
        self.stdout.write(f"\n[relay] {what}; press Enter when done (n = cannot): ")
        self.stdout.flush()
        ready, _, _ = select.select([self.stdin], [], [], timeout)
        if not ready:
            self.stdout.write("\n")
            raise self.error(f"no answer from the operator within {timeout:g} s")
        answer = self.stdin.readline()
        if not answer:
            raise self.error("the terminal closed before the operator answered")
        if answer.strip().lower() in ("n", "no"):
            raise self.error(f"the operator could not: {what}")
