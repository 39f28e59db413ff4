"""Resync: proving the line clean after a timeout or a protocol error, before the next command.

Why a module of its own: it is the channel's recovery, with rules of its own (channel.py's
docstring, the resync bullet): let the leftovers of what timed out land while idle (_settle, at the
DUT's own pace: _quiet_s), leave a data mode with <ESC><CR> when the DUT may be in one, then probe
`AT` until one probe gets its own OK and the line stays quiet; two answers where one was due mean
one was a leftover, and the probe is repeated. When no probe proves it, the command is not sent
(ATResyncError) and the recovery ladder (harness/rig) takes over.

A mixin of ATChannel: it works on the channel's state under the channel's lock (the fields are
listed in ATChannel.__init__) and sends its probes through pairing.py's _exchange.
"""

from __future__ import annotations

import math
import time

from harness.at.errors import ATProtocolError, ATResyncError, ATTimeout

QUIET_S = 0.1  # resync: the line must be quiet this long after the probe's OK
MAX_QUIET_S = 1.0  # ... at most this long, however slowly the DUT sent its last answer


class Resync:
    """Recovery before a command: settle, <ESC><CR> if need be, probe, prove quiet."""

    def _recover_if_stale(self, line: str) -> None:
        if self._stale is None:
            return
        why = self._stale
        self.transcript.record("NOTE", f"resync before {line!r}: {why}")
        probe = self.probe_timeout if self.probe_timeout is not None else self._deadline("AT")
        tried = self._resync(self.recover_attempts, probe)
        if tried is not None:
            raise ATResyncError(repr(line), why, tried)

    def _quiet_s(self) -> float:
        """How long the line must be quiet to count as quiet: QUIET_S, or twice the longest gap
        between the bytes of the last answer (a DUT sending a byte every 250 ms is not done
        after 100 ms of silence), at most MAX_QUIET_S."""
        return min(MAX_QUIET_S, max(self.quiet_s, 2 * self._pace))

    def _resync(self, attempts: int, timeout: float) -> str | None:
        """None when a probe proved the line clean; else what each probe got (one line)."""
        tried: list[str] = []
        if self._stale is not None or self._owed:
            # Leftovers of what timed out come first, at the DUT's own pace: let them land idle.
            self._settle(self._quiet_s(), limit=timeout)
        for i in range(max(1, attempts)):
            if i or self._maybe_data_mode:
                with self._cond:  # owed before it is written: its answer may beat the next line here
                    self._owe(1, math.inf)  # the answer (if any) to the line <ESC><CR> ended
                    self._maybe_data_mode = False
                sent = time.monotonic()
                self._write(b"\x1b\r", "\x1b\r")
                # Its answer (OK leaving a data mode, ERROR for a line <ESC> began) must land before
                # the probe goes, or it is taken for the probe's: wait from the write, not the last RX.
                self._settle(self._echo_wait_s(), since=sent)
            try:
                # Echo may have been switched behind our back: only the first probe insists on it.
                r = self._exchange("AT", timeout, require_echo=bool(self._echo_on) and i == 0, probe=True)
            except ATProtocolError:  # a late '>' prompt: the DUT is in data mode
                tried.append("'>' (data mode)")
                continue
            except ATTimeout:
                tried.append(f"no answer to AT within {timeout:.1f} s")
                continue
            if not r.ok:
                tried.append(f"AT answered {r.final!r}")
                continue
            self._settle(self._quiet_s())
            with self._cond:
                if self._strays != self._final_strays:
                    # Two answers where one was due: one of them was a leftover. Again.
                    self.transcript.record("NOTE", "resync: another answer followed the probe's OK: "
                                                   "one of them was a leftover; probing again")
                    tried.append("OK, then another answer (a leftover)")
                    continue
                self._stale = None
                self._maybe_data_mode = False  # it answered AT: not in data mode
                self._owed, self._owed_until = 0, 0.0
                self._pace = 0.0
                if self._faults:
                    self.transcript.record("NOTE", f"resync: cleared {len(self._faults)} DUT protocol error(s) "
                                                   "noted above")
                    self._faults.clear()
            return None
        with self._cond:
            self._stale = self._stale or "the last resync failed"
        return "; ".join(f"probe {k + 1}: {t}" for k, t in enumerate(tried))

    def _settle(self, quiet: float = QUIET_S, limit: float | None = None, since: float = 0.0) -> None:
        """Wait until nothing arrived for `quiet` s (at most `limit`, by default 10 x `quiet`):
        late answers land idle. `since`: quiet counts from then at the earliest (a line just
        written: its answer has not had the time to come yet)."""
        end = time.monotonic() + (10 * quiet if limit is None else limit)
        with self._cond:
            while True:
                now = time.monotonic()
                quiet_at = max(self._last_rx, since) + quiet
                if now >= quiet_at or now >= end:
                    return
                self._cond.wait(min(quiet_at, end) - now)
