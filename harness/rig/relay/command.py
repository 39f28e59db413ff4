"""relay.kind command: one command line per action (a PDU's CLI, uhubctl, a lab script).

Each line is split with shlex and run without a shell, so a value from the environment
cannot smuggle in a second command; ``${VAR}`` references are expanded here, at run time,
from the environment (the rig file keeps them unexpanded, see relay_schema.py). A command
that fails, cannot start or outlives relay.timeout_s is a RelayError naming the action
and the program (never its arguments: they may hold a secret) with the tail of its stderr.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Mapping

from harness.rig.relay.base import Relay, register_driver
from harness.rig.relay_schema import RelayConfig, expand_vars, referenced_vars

STDERR_TAIL = 200  # characters of stderr kept in an error


@register_driver("command")
class CommandRelay(Relay):
    def __init__(self, config: RelayConfig, *, env: Mapping[str, str] | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(config, sleep=sleep)
        self.commands = config.commands
        self.env = os.environ if env is None else env
        c = self.commands
        self.can_power = c is not None and (c.power_on is not None or c.power_cycle is not None)
        self.can_reset = c is not None and c.reset is not None

    def on(self) -> None:
        self._run("power_on")

    def off(self) -> None:
        self._run("power_off")

    def cycle(self, off_s: float | None = None) -> None:
        if self.commands is not None and self.commands.power_cycle is not None:
            self._run("power_cycle", RELAY_OFF_S=f"{self.off_time(off_s):g}")
        else:
            super().cycle(off_s)

    def pulse(self, width_s: float | None = None) -> None:
        self._run("reset", RELAY_WIDTH_S=f"{self.width(width_s):g}")

    def _run(self, action: str, **extra: str) -> None:
        line = getattr(self.commands, action, None) if self.commands is not None else None
        if line is None:
            raise self.error(f"no {action} command in relay.commands")
        try:
            argv = shlex.split(expand_vars(line, self.env))
        except KeyError as exc:
            raise self.error(f"{action}: environment variable {exc.args[0]} is not set") from None
        secrets = [v for v in (self.env.get(n) for n in referenced_vars(line)) if v]  # kept out of errors
        env = {**os.environ, **self.env, "RELAY_ACTION": action, **extra}
        timeout = self.config.timeout_s
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, env=env, start_new_session=True)
        except OSError as exc:
            raise self.error(f"{action}: cannot run {argv[0]}: {exc.strerror or exc}") from None
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # its whole session: a script's children too
            proc.communicate()
            raise self.error(f"{action}: {argv[0]} did not finish within {timeout:g} s") from None
        if proc.returncode != 0:
            tail = err.decode(errors="replace").strip()[-STDERR_TAIL:]
            for s in secrets:
                tail = tail.replace(s, "***")
            raise self.error(f"{action}: {argv[0]} exited {proc.returncode}" + (f": {tail}" if tail else ""))
