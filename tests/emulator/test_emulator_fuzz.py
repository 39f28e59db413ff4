"""Fuzzing the emulator's UART: mutated AT commands and random bytes for a bounded time.

A host MCU (or a flaky UART) sends anything: half lines, NUL/ESC/Ctrl+Z/CR/LF bursts, lines
longer than any buffer, binary in text mode, commands in the wrong state. The emulator must
stay a module through all of it, and the three properties checked here are what a host relies
on (3.1.2: every command line ends in a final result code):

- no crash: the process is alive after every input, and its log shows no handler exception;
- no hang: after every burst of garbage, `AT` is answered OK within the note-derived deadline
  once the host resyncs (AT, then Esc from the 2nd try, as the AT channel does);
- every line answered: each complete command line (mutated or not) gets a final result
  (OK / ERROR / +CME ERROR), or the `>` prompt for the data-mode forms, within its deadline.

Hypothesis drives it: a state machine whose steps are command lines (a valid command with 0-3
mutations), raw bursts and connects. Every example starts from power-on (the emulator's control
socket, as the rig's emulated relay uses it), so it depends on nothing before it: a failure is
reported as the whole example, each step's input from power-on, with hypothesis's
`@reproduce_failure` blob and seed (`pytest --hypothesis-seed=N` replays it); FUZZ_SHRINK=1 also
shrinks it. `FUZZ_SECONDS` sizes the run: by default 15 s (CI, `make test`), 300 s when
BC660K_PROOF_FULL=1 (the full proof, `make proof`). A real broker (mosquitto, else the
embedded amqtt) lets the mutated MQTT commands reach the connected states too.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from harness.at.channel import ATChannel
from harness.at.errors import ATProtocolError, ATTimeout
from harness.at.lines import parse_args
from harness.broker.embedded import EmbeddedBroker
from harness.broker.mosquitto import MosquittoBroker
from harness.emulator.launcher import EmulatorProcess
from harness.rig.relay.emulated import EmulatedRelay
from harness.rig.relay_schema import RelayConfig
from harness.spec.timing import boot_deadline_s, command_name, deadline_s

FULL = os.environ.get("BC660K_PROOF_FULL") == "1"  # the full proof: a longer run
SECONDS = float(os.environ.get("FUZZ_SECONDS", "300" if FULL else "15"))  # sizes the run (hypothesis counts
# examples, not time)
# Shrinking replays examples against a live process, a few seconds each: minutes in CI for a
# failure. The failing example is reported whole (every step from power-on) either way;
# FUZZ_SHRINK=1 asks hypothesis to shrink it too, for a desk session.
PHASES = (Phase.explicit, Phase.generate, *((Phase.shrink,) if os.environ.get("FUZZ_SHRINK") else ()))
STEPS = 20  # steps per example
EXAMPLE_S = 2.5  # measured: an example of 20 steps takes about this long (a burst that leaves the UART
# mid-line costs one AT deadline before the resync succeeds)
pytestmark = pytest.mark.timeout(SECONDS * 4 + 60)  # room for a slow machine and for reporting a failure

SCALE = 0.05  # 3.3.8 NOTE 5's 60 s data-mode limit is 3 s here; sleep idle 5 module s = 0.25 s
AT_WAIT = deadline_s("AT", SCALE)
CRASH_MARKS = ("internal error", "handler for", "background task failed", "Traceback")
DATA_MODE = {"+QMTPUB", "+QSSLCFG"}  # forms that may answer '>' (3.3.8, AT+QSSLCFG certificates)

CORPUS = (
    "AT", "ATI", "ATE0", "ATE1", "AT+CMEE=1", "AT+CMEE=2", "AT+CMEE?", "AT+CGMR", "AT+CGSN=1", "AT+CSQ",
    "AT+CEREG?", "AT+CEREG=2", "AT+CGATT?", "AT+CPIN?", "AT+COPS?", 'AT+QCGDEFCONT="IP","apn"',
    "AT+QSCLK?", "AT+QSCLK=0", "AT+QRST=?", "AT+CFUN?",
    "AT+QMTCFG=?", 'AT+QMTCFG="keepalive",0,60', 'AT+QMTCFG="keepalive",1', 'AT+QMTCFG="timeout",0,1,1,1',
    'AT+QMTCFG="timeout",0,2,,0', 'AT+QMTCFG="will",0,1,1,0,"f/will","bye"', 'AT+QMTCFG="session",0,0',
    'AT+QMTCFG="version",0,0', 'AT+QMTCFG="showrecvlen",0,1', 'AT+QMTCFG="echomode",0,1',
    'AT+QMTCFG="dataformat",0,1,1', 'AT+QMTCFG="dataformat",0,0,0', 'AT+QMTCFG="aliauth",0,"pk","dn","ds"',
    'AT+QMTCFG="ssl",0,0', 'AT+QMTCFG="pdpcid",0,1', 'AT+QMTCFG="version",4',
    "AT+QSSLCFG=0,0", 'AT+QSSLCFG=0,0,"seclevel",0', 'AT+QSSLCFG=0,0,"timeout",10', "AT+QSSLCFG=?",
    'AT+QMTOPEN=0,"127.0.0.1",{port}', 'AT+QMTOPEN=1,"127.0.0.1",{port}', "AT+QMTOPEN?", "AT+QMTOPEN=?",
    'AT+QMTCONN=0,"fuzz0"', 'AT+QMTCONN=1,"fuzz1","user","pw"', "AT+QMTCONN?",
    'AT+QMTSUB=0,1,"f/#",1', 'AT+QMTSUB=1,2,"f/a",0,"f/b",2', 'AT+QMTUNS=0,3,"f/#"',
    'AT+QMTPUB=0,0,0,0,"f/t",5,"hello"', 'AT+QMTPUB=0,4,1,0,"f/t",17,"{{"a":"1","b":"2"}}"',
    'AT+QMTPUB=1,5,2,1,"f/r",0', 'AT+QMTPUB=0,6,1,0,"f/t",3', 'AT+QMTPUB=0,0,0,0,"f/t"', "AT+QMTPUB=?",
    'AT+QSSLCFG=0,0,"cacert"', "AT+QMTDISC=0", "AT+QMTDISC=1", "AT+QMTCLOSE=0", "AT+QMTCLOSE=1",
    "AT+QRST=1", "AT+QSCLK=1", "AT+CFUN=1,1", "AT+BOGUS", "ATX", "AT+QMTCFG", "AT+QMTCFG?",
)
ODD_TEXT = ('"', ",", "=", "?", " ", "+", "-", "99999999999", "-1", "65536", "é", "€", ";", "\\", "%", "\t",
            "0x1F", ",,,,", '""', '"unterminated')


# --- what a host (or a flaky UART) sends ---------------------------------------------------------

POSITION = st.integers(0, 4096)  # taken modulo the text length: shrinks towards the start
NUMBERS = st.sampled_from((0, 1, 2, 5, 61, 255, 1460, 1461, 3601, 65535, 70000, -3))


def _at(text: str, pos: int) -> int:
    return pos % (len(text) + 1)


def _number(text: str, pos: int, number: int) -> str:
    digits = [k for k, ch in enumerate(text) if ch.isdigit()]
    if not digits:
        return text + ",1"
    k = digits[pos % len(digits)]
    return text[:k] + str(number) + text[k + 1:]


MUTATIONS = st.one_of(
    st.builds(lambda p: lambda t: t[:_at(t, p)] + t[_at(t, p) + 1:], POSITION),  # delete a character
    st.builds(lambda p, odd: lambda t: t[:_at(t, p)] + odd + t[_at(t, p):], POSITION, st.sampled_from(ODD_TEXT)),
    st.builds(lambda p, n: lambda t: t[:_at(t, p)] + t[_at(t, p):_at(t, p) + 8] * n + t[_at(t, p) + 8:],
              POSITION, st.integers(2, 40)),  # repeat a piece
    st.builds(lambda p, n: lambda t: _number(t, p, n), POSITION, NUMBERS),  # another number
    st.builds(lambda p: lambda t: t[:_at(t, p)], POSITION),  # truncated line
    st.sampled_from((str.lower, str.swapcase)),
    st.just(lambda t: t + "," + t.split("=", 1)[-1]),  # extra parameters
    st.builds(lambda p, junk: lambda t: t[:_at(t, p)] + junk + t[_at(t, p):], POSITION,
              st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=6)),
)


def _plain(text: str, quiet: bool) -> str:
    """One line the AT channel can track. It follows echo from the ATE0/ATE1 it sees answered OK:
    a bare `ATE` (= ATE0) would leave it believing echo is on, so echo toggles stay in their two
    plain forms; in a raw burst (`quiet`) none at all, as the channel does not see those answers."""
    text = text.replace("\r", "").replace("\n", "")
    if not text.strip() or (command_name(text) == "E" and (quiet or text.strip().upper() not in ("ATE0", "ATE1"))):
        return "AT"
    return text


@st.composite
def command_lines(draw: st.DrawFn, port: int, quiet: bool = False) -> str:
    """A valid command of the corpus, mutated 0-3 times (text only: sent as one line)."""
    text = draw(st.sampled_from(CORPUS)).format(port=port)
    for mutate in draw(st.lists(MUTATIONS, max_size=3)):
        text = mutate(text)
    return _plain(text, quiet)


def bursts(port: int) -> st.SearchStrategy[bytes]:
    """Raw bytes a UART could carry: nothing here is guaranteed to be a command."""
    line = command_lines(port, quiet=True).map(str.encode)
    return st.one_of(
        st.binary(min_size=1, max_size=600),
        st.lists(st.sampled_from(b"\x00\x1b\x1a\r\n"), min_size=1, max_size=200).map(bytes),
        # longer than any command line (frontend MAX_LINE is 3072)
        st.builds(lambda n, cr: b"AT+QMTCFG=" + b'A,"0' * n + cr, st.integers(750, 2250),
                  st.sampled_from((b"\r", b""))),
        # binary in a text command
        st.builds(lambda ln, pos, junk: ln[:pos % (len(ln) + 1)] + junk + ln[pos % (len(ln) + 1):] + b"\r",
                  line, POSITION, st.binary(min_size=1, max_size=40)),
        # into data mode, then garbage, maybe Ctrl+Z / Esc
        st.builds(lambda head, junk, end: head + junk + end,
                  st.sampled_from((b'AT+QSSLCFG=0,0,"cacert"\r', b'AT+QMTPUB=0,0,0,0,"f/t"\r',
                                   b'AT+QMTPUB=0,7,1,0,"f/t",20\r')),
                  st.binary(max_size=300), st.sampled_from((b"", b"\x1a", b"\x1b"))),
        # several commands without waiting for answers
        st.lists(st.tuples(line, st.sampled_from((b"\r", b"\r\n", b"\n"))), min_size=2, max_size=8)
        .map(lambda parts: b"".join(a + b for a, b in parts)),
        st.lists(st.binary(max_size=30), min_size=2, max_size=30).map(b"\r\n".join),
    )


class Uart(RuleBasedStateMachine):
    """One example: a freshly reset module, then steps. The properties are checked within every
    step (`_one_line`, the resync after a burst, `alive`), so the shrunk report ends at the step
    that broke one."""

    at: ATChannel
    emu: EmulatorProcess
    relay: EmulatedRelay
    port: int
    stats: dict[str, int]

    def __init__(self) -> None:
        """Every example starts from power-on, so it does not depend on the one before, not even
        on one that hung the module: hypothesis can then replay and shrink a failure."""
        super().__init__()
        self.relay.cycle(off_s=0)
        with contextlib.suppress(ATTimeout):
            self.at.wait_urc("RDY", boot_deadline_s(SCALE))
        assert self.at.resync(attempts=5, timeout=AT_WAIT), "no OK to AT after power-on"
        self.at.drain_urcs()

    @rule(data=st.data())
    def command_line(self, data: st.DataObject) -> None:
        _one_line(self.at, data.draw(command_lines(self.port), label="line"), self.stats)

    @rule(data=st.data())
    def burst(self, data: st.DataObject) -> None:
        self.at.write_raw(data.draw(bursts(self.port), label="burst"))
        self.stats["bursts"] += 1
        assert self.emu.alive(), "emulator process died"
        assert self.at.resync(attempts=5, timeout=AT_WAIT), "no OK to AT after resync"
        _awake(self.at)  # the burst may have held AT+QSCLK=1 or a reboot: OK above may be the burst's own
        assert self.at.command("AT", timeout=AT_WAIT).ok, "AT not answered OK after the resync"

    @rule()
    def connect(self) -> None:
        _connect(self.at, self.port, self.stats)  # so the mutated MQTT commands also meet a live connection

    @invariant()
    def alive(self) -> None:
        assert self.emu.alive(), "emulator process died"


def test_fuzz_uart_no_crash_no_hang_every_line_answered(tmp_path: Path,
                                                      mosquitto_or_amqtt: MosquittoBroker | EmbeddedBroker) -> None:
    log = tmp_path / "emulator.log"
    emu = EmulatorProcess.start(time_scale=SCALE, log_path=log, control=True)
    relay = EmulatedRelay(RelayConfig(kind="emulated", device=str(emu.control)))
    stats = {"lines": 0, "prompts": 0, "bursts": 0}
    try:
        with ATChannel(emu.url, time_scale=SCALE) as at:
            machine = type("UartOnThisRig", (Uart,), {"at": at, "emu": emu, "relay": relay,
                                                    "port": mosquitto_or_amqtt.port,
                                                    "stats": stats})
            run_state_machine_as_test(machine, settings=settings(
                max_examples=max(2, round(SECONDS / EXAMPLE_S)), stateful_step_count=STEPS, deadline=None,
                database=None, suppress_health_check=list(HealthCheck), print_blob=True, phases=PHASES))
            assert at.resync(attempts=5, timeout=AT_WAIT), "no OK to AT at the end"
            assert at.command("AT+CGMM", timeout=AT_WAIT).lines == ["Quectel_BC660K-GL"]
    finally:
        tail = emu.stop()
    crashes = [x for x in log.read_text(errors="replace").splitlines() if any(m in x for m in CRASH_MARKS)]
    assert not crashes, f"the emulator logged exceptions: {crashes[:5]} (tail: {tail})"
    assert stats["lines"] > 20 and stats["bursts"] > 10, stats  # the budget was really used


def _one_line(at: ATChannel, line: str, stats: dict[str, int]) -> bool:
    """One complete command line must end in a final result (or '>' for a data-mode form).
    True when it answered OK."""
    name = command_name(line)
    at.drain_urcs()
    try:
        r = at.command(line, timeout=deadline_s(line, SCALE))
    except ATProtocolError:
        assert name in DATA_MODE, f"{line!r} answered '>' but is not a data-mode command"
        stats["prompts"] += 1  # the channel left data mode with Esc and resyncs before the next command
        return False
    except ATTimeout as exc:
        raise AssertionError(f"no final result for {line!r}: {exc}") from exc
    stats["lines"] += 1
    assert r.final == "OK" or r.final == "ERROR" or r.cme_error is not None, f"{line!r} -> {r.final!r}"
    if r.ok and _reboots(name, line):
        with contextlib.suppress(ATTimeout):  # the UART ignores input until RDY (DESIGN "Module facts")
            at.wait_urc("RDY", boot_deadline_s(SCALE))
    if name == "+QSCLK" and r.ok:
        _awake(at)
    return r.ok


def _connect(at: ATChannel, port: int, stats: dict[str, int]) -> None:
    """AT+QMTOPEN then AT+QMTCONN on connect ID 0, each line held to the same rule; the result
    URCs are waited for but not judged (the ID may already be open: <result> 2, 3.3.2)."""
    for line, urc in ((f'AT+QMTOPEN=0,"127.0.0.1",{port}', "+QMTOPEN"), ('AT+QMTCONN=0,"fuzz0"', "+QMTCONN")):
        if not _one_line(at, line, stats):
            return
        with contextlib.suppress(ATTimeout):
            at.wait_urc(urc, deadline_s(line, SCALE))


def _reboots(name: str, line: str) -> bool:
    """AT+QRST=<n> and AT+CFUN=<fun>,<rst> reboot the module after OK (general.py)."""
    _, eq, args = line.partition("=")
    if not eq or args.strip().startswith("?"):
        return False
    return name == "+QRST" or (name == "+CFUN" and len(parse_args(args)) >= 2)


def _awake(at: ATChannel) -> None:
    """Keep the module awake between inputs: a sleeping module answers the first line with a
    blank line only (DESIGN "Module facts"), which is a fact, not a missing answer."""
    try:
        assert at.command("AT+QSCLK=0", timeout=AT_WAIT).ok
    except ATTimeout:
        assert at.command("AT+QSCLK=0", timeout=AT_WAIT).ok  # the channel resyncs first
