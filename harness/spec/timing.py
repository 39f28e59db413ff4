"""Maximum response times of the application note, as data.

The AT channel and the cases derive every deadline from here, so a deadline always
traces back to a line of the note (or, for general commands outside the MQTT note, to
the AT Commands Manual, flagged as such). Times are in *module* seconds: multiply by the
rig's time scale for the module's own timers (pkt_timeout, retransmissions), and add the
transport grace (`GRACE_S`) for the serial round trip, which the note does not count.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PKT_TIMEOUT_S = 30  # 3.3.1 <pkt_timeout> "Default value: 30"
DEFAULT_RETRY_TIMES = 0  # 3.3.1 <retry_times> "Default value: 0"
GENERAL_MAX_S = 0.3  # AT Commands Manual: most general commands answer within 300 ms
GRACE_S = 2.0  # real seconds on top of every deadline: UART, scheduler, a busy CI machine


@dataclass(frozen=True)
class ResponseTime:
    """One "Maximum Response Time" row: fixed seconds, or the pkt_timeout formula."""

    command: str
    section: str
    fixed_s: float | None  # None: <pkt_timeout> x (<retry_times> + 1)
    source: str

    def seconds(self, pkt_timeout: int = DEFAULT_PKT_TIMEOUT_S,
                retry_times: int = DEFAULT_RETRY_TIMES) -> float:
        if self.fixed_s is not None:
            return self.fixed_s
        return float(pkt_timeout * (retry_times + 1))


_PKT = "<pkt_timeout> × (<retry_times> + 1); 30 s by default; determined by network"

RESPONSE_TIMES: dict[str, ResponseTime] = {
    rt.command: rt
    for rt in (
        ResponseTime("+QMTCFG", "3.3.1", 0.3, "Maximum Response Time 300 ms"),
        ResponseTime("+QMTOPEN", "3.3.2", 176.0, "Maximum Response Time 176 s, determined by network"),
        ResponseTime("+QMTCLOSE", "3.3.3", 0.3, "Maximum Response Time 300 ms"),
        ResponseTime("+QMTCONN", "3.3.4", None, _PKT),
        ResponseTime("+QMTDISC", "3.3.5", 0.3, "Maximum Response Time 300 ms"),
        ResponseTime("+QMTSUB", "3.3.6", None, _PKT),
        ResponseTime("+QMTUNS", "3.3.7", None, _PKT),
        ResponseTime("+QMTPUB", "3.3.8", None, _PKT),
    )
}


def command_name(line: str) -> str:
    """`AT+QMTCFG="keepalive",0` -> `+QMTCFG`; `ATE0` -> `E`; `AT` -> ``."""
    body = line.strip()
    if body[:2].upper() == "AT":
        body = body[2:]
    for i, ch in enumerate(body):
        if ch in "=?":
            return body[:i].upper()
    if body[:1] in "+&":
        return body.upper()
    return body[:1].upper()


def max_response_s(line: str, pkt_timeout: int = DEFAULT_PKT_TIMEOUT_S,
                   retry_times: int = DEFAULT_RETRY_TIMES) -> float:
    """Module seconds the note allows for the command in `line` (and its result URC)."""
    rt = RESPONSE_TIMES.get(command_name(line))
    return rt.seconds(pkt_timeout, retry_times) if rt else GENERAL_MAX_S


def deadline_s(line: str, time_scale: float = 1.0, pkt_timeout: int = DEFAULT_PKT_TIMEOUT_S,
               retry_times: int = DEFAULT_RETRY_TIMES) -> float:
    """Real seconds to wait for the command's final result or result URC."""
    return max_response_s(line, pkt_timeout, retry_times) * time_scale + GRACE_S

# Not in the MQTT note: after AT+QRST=1 or power-on the module reports RDY; hosts wait
# "several seconds" for it (DESIGN.md "Module facts"). A real BC660K-GL routinely needs more than
# about 9.7 s and a host library allows 30 s (obs. fact 16). Module seconds.
BOOT_MAX_S = 30.0


def boot_deadline_s(time_scale: float = 1.0) -> float:
    return BOOT_MAX_S * time_scale + GRACE_S


# Not in the MQTT note: after AT+CFUN=1 the module searches and registers again (AT+CEREG?
# stat 1 or 5); NB-IoT registration can take a minute on a live network. Module seconds.
REGISTER_MAX_S = 60.0


def register_deadline_s(time_scale: float = 1.0) -> float:
    return REGISTER_MAX_S * time_scale + GRACE_S
