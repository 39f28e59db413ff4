"""The fault table of the AT channel: every way a DUT (or its link) can misbehave that we know
of, each with its measured outcome: the answer, the exception type and message, the deadline
held, the reader alive or cleanly dead, and the next command correct.

A scripted fake module (tests/at_peer.py) on real transports (TCP loopback and a pty pair)
plays the misbehaving DUT; the emulator's control socket plays power loss, a hung parser and
a host that reconnects in a storm. README "Reliability of the AT channel" lists the same table.
Deadlines come from a small time scale and a short resync window (`fast`), not from sleeps.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from at_peer import OK, AtPeer, DataMode, Dribble, Gate, Pause, resp

from harness.at import ATChannel, ATError, ATProtocolError, ATResyncError, ATTimeout, Transcript
from harness.at.channel import ECHO_WAIT_S
from harness.emulator.launcher import EmulatorProcess
from harness.rig.ladder import RUNG_BY_NAME, Ladder
from harness.rig.relay import build_relay
from harness.rig.relay.emulated import EmulatedRelay
from harness.rig.relay_schema import RelayConfig
from harness.spec.timing import boot_deadline_s

pytestmark = pytest.mark.timeout(30)

TRIES = 20  # the measure: 20 of 20
PROBE_S = 0.4  # resync probe deadline in these tests (the note-derived one is 2 s and more)
VAL = "AT+VAL=300"  # a command whose own answer is `+VAL: 42`, OK: told apart from any other
VAL_ANSWER = resp("+VAL: 42", "OK")


@pytest.fixture(params=["tcp", "pty"])
def transport(request: pytest.FixtureRequest) -> str:
    return request.param


def fast(peer: AtPeer, **kw: object) -> ATChannel:
    """A channel with a short resync window and probe deadline: the same logic, small times."""
    ch = ATChannel(peer.url, time_scale=0.01, **kw)  # type: ignore[arg-type]
    ch.quiet_s = 0.03
    ch.probe_timeout = PROBE_S
    return ch


def own_answer(ch: ATChannel, timeout: float = 2.0) -> None:
    """The next command gets its own answer, within its deadline."""
    t0 = time.monotonic()
    r = ch.command(VAL, timeout=timeout)
    assert (r.lines, r.final) == (["+VAL: 42"], "OK"), f"{VAL} got {r.lines} {r.final!r}"
    assert time.monotonic() - t0 < timeout


def protocol_errors(ch: ATChannel) -> int:
    return ch.transcript.render().count("NOTE DUT protocol error:")


def in_parallel(tries: int, one: Callable[[int], None]) -> None:
    """`tries` independent tries at once (each its own fake DUT and channel): a try that takes a
    second of DUT time costs a second, not twenty. The first failure is raised."""
    with ThreadPoolExecutor(min(tries, 5)) as pool:  # 5 at a time: a 2-core CI host keeps its timing
        for fut in [pool.submit(one, i) for i in range(tries)]:
            fut.result()


# --------------------------------------------------------------- one answer, one command

@pytest.mark.parametrize("delay", [0.0, 0.03, 0.15], ids=["at-once", "30ms", "150ms"])
def test_duplicated_final_result_fails_that_exchange_and_never_answers_the_next(transport: str,
                                                                                 delay: float) -> None:
    """Echo on (the module's default): the DUT answers OK, then a second OK `delay` later. The
    stray OK arrives before the next command's echo (or while idle), so it cannot be that
    command's answer: the next command still gets its own answer, in `exc.response`, and fails
    with a DUT protocol error (3.1.2: one result code per command line); the one after is clean.
    20 tries, each twice on its own channel."""

    def one(_: int) -> None:
        with AtPeer(transport) as peer, fast(peer) as ch:
            peer.on("AT+DUP", OK, Pause(delay), OK)
            peer.on(VAL, VAL_ANSWER)
            for _round in range(2):
                assert ch.command("AT+DUP", timeout=2).ok
                t0 = time.monotonic()
                with pytest.raises(ATProtocolError) as ei:
                    ch.command(VAL, timeout=2)
                assert time.monotonic() - t0 < 2
                got = ei.value.response
                assert got is not None and (got.lines, got.final) == (["+VAL: 42"], "OK")
                msg = str(ei.value)
                assert "DUT protocol error" in msg and "one final result too many" in msg and "'AT+DUP'" in msg
                assert "\n" not in msg
                own_answer(ch)
            assert protocol_errors(ch) == 2 and ch.reader_alive

    in_parallel(TRIES, one)


def test_duplicated_final_with_echo_off_is_reported_at_the_next_exchange(transport: str) -> None:
    """Echo off (the suite's known state) is the documented limit: a stray OK that arrives after
    the next command went out is taken as its answer. The real answer then arrives with nothing
    pending, one final too many: the exchange after it fails, naming the command in doubt."""
    with AtPeer(transport, echo=False) as peer, fast(peer) as ch:
        peer.on("AT+DUP", OK, Pause(0.03), OK)
        peer.on(VAL, VAL_ANSWER)
        for _ in range(5):
            assert ch.command("AT+DUP", timeout=2).ok
            try:
                wrong = ch.command(VAL, timeout=2)  # took the stray OK (the documented limit)
            except ATProtocolError as exc:  # a slow host: the stray came before the line went out
                assert exc.response is not None and exc.response.lines == ["+VAL: 42"]
            else:
                assert (wrong.lines, wrong.final) == ([], "OK")
                ch.wait_urc("+VAL", 2)  # its real answer landed while idle
                with pytest.raises(ATProtocolError, match=r"one final result too many .*'AT\+VAL=300'.*in doubt"):
                    ch.command(VAL, timeout=2)
            own_answer(ch)


@pytest.mark.parametrize("period", [0.12, 0.25])
def test_slow_dut_times_out_then_the_next_command_gets_its_own_answer(transport: str, period: float) -> None:
    """The issue's DUT: it sends its answer a byte every 120 ms (or 250 ms), slower than the
    deadline and slower than any fixed quiet window: the command times out (as it should), and
    the leftovers arrive at the DUT's pace while the channel resyncs. The resync waits for a
    quiet line measured against that pace, and its probe's OK must be the only answer: the next
    command gets `+VAL: 42`, never the probe's `AT` or OK. Half the tries with echo on (the
    module's default), half with echo off (the suite's known state)."""

    def one(i: int) -> None:
        with AtPeer(transport, echo=i % 2 == 0) as peer, fast(peer) as ch:
            ch.probe_timeout = None  # the note's AT deadline: a DUT this slow needs it
            peer.on("AT+SLOW", Dribble(b"OK\r\n", period))
            peer.on("AT", OK)
            peer.on(VAL, VAL_ANSWER)
            t0 = time.monotonic()
            with pytest.raises(ATTimeout) as ei:
                ch.command("AT+SLOW", timeout=0.05)
            assert 0.05 <= time.monotonic() - t0 < 0.5
            assert not isinstance(ei.value, ATResyncError)
            own_answer(ch, timeout=3)
            own_answer(ch)
            assert protocol_errors(ch) == 0 and ch.reader_alive

    in_parallel(TRIES, one)


@pytest.mark.parametrize("echo", [True, False], ids=["echo-on", "echo-off"])
def test_late_answer_during_the_resync_probe_is_not_the_next_answer(transport: str, echo: bool) -> None:
    """The DUT answers a timed-out command late, while the resync probe waits behind it. Echo
    on, the late lines come before the probe's echo; echo off, the probe's own OK follows the
    late one within the quiet window, and the probe is repeated."""
    with AtPeer(transport, echo=echo) as peer, fast(peer) as ch:
        peer.on(VAL, VAL_ANSWER)
        peer.on("AT", OK)
        for _ in range(5):
            gate = threading.Event()
            peer.on("AT+LATE", Gate(gate), resp("+LATE: 1", "OK"), once=True)
            with pytest.raises(ATTimeout):
                ch.command("AT+LATE", timeout=0.03)
            timer = threading.Timer(0.05, gate.set)  # while the first probe waits
            timer.start()
            own_answer(ch)
            timer.join()
        text = ch.transcript.render()
        assert protocol_errors(ch) == 0
        assert ("a leftover" in text) if not echo else ("(a late answer)" in text)


# --------------------------------------------------------------- data mode

def test_data_mode_without_a_final_result_then_every_command_is_answered(transport: str) -> None:
    """The issue's case: '>' and the payload, then no final result for that exchange only."""
    line = 'AT+QMTPUB=0,0,0,0,"t"'
    with AtPeer(transport) as peer, fast(peer) as ch:
        peer.on(line, DataMode(on_submit=b""))
        peer.on("AT", OK)
        peer.on(VAL, VAL_ANSWER)
        t0 = time.monotonic()
        with pytest.raises(ATTimeout, match="final result after the data"):
            ch.send_data(line, b"x", timeout=0.1)
        assert time.monotonic() - t0 < 1.0
        for _ in range(10):
            own_answer(ch)


def test_late_data_prompt_is_left_with_esc_then_the_next_command_is_answered(transport: str) -> None:
    """The '>' comes after the deadline: the DUT now waits for data. The resync leaves the
    data mode with <ESC> before it probes, and the late prompt never answers the probe."""
    line = 'AT+QMTPUB=0,0,0,0,"t"'
    for echo in (True, False):
        with AtPeer(transport, echo=echo) as peer, fast(peer) as ch:
            peer.on(line, Pause(0.15), DataMode(on_submit=b"", on_cancel=OK))
            peer.on("AT", OK)
            peer.on(VAL, VAL_ANSWER)
            with pytest.raises(ATTimeout, match="'>' prompt"):
                ch.send_data(line, b"x", timeout=0.05)
            own_answer(ch)
            assert peer.seen.payloads == [(b"", b"\x1b")]  # left with <ESC>; "AT" never became data
            assert protocol_errors(ch) == 0


def test_dut_stuck_in_data_mode_gives_a_clear_resync_error_then_recovers(transport: str) -> None:
    """A data mode that swallows everything (Esc included) until it ends by itself (3.3.8
    NOTE 5): the next command is not sent, ATResyncError says the DUT did not resynchronise
    (an ATTimeout, for the recovery ladder) within its bound; once the DUT is back, the
    command after gets its own answer."""
    line = 'AT+QMTPUB=0,0,0,0,"t"'
    leave = threading.Event()
    with AtPeer(transport) as peer, fast(peer) as ch:
        peer.on(line, DataMode(stuck=leave, on_cancel=OK))
        peer.on("AT", OK)
        peer.on(VAL, VAL_ANSWER)
        with pytest.raises(ATTimeout):
            ch.send_data(line, b"x", timeout=0.1)
        t0 = time.monotonic()
        with pytest.raises(ATResyncError) as ei:
            ch.command(VAL, timeout=2)
        took = time.monotonic() - t0
        assert took < ch.recover_attempts * (PROBE_S + 0.5) + 0.5
        msg = str(ei.value)
        assert msg.startswith("the DUT did not resynchronise after")
        assert "probe 1: no answer to AT" in msg and f"{VAL!r} was not sent" in msg and "\n" not in msg
        assert VAL not in peer.seen.lines
        leave.set()  # the data mode ends by itself
        own_answer(ch)
        assert ch.reader_alive


# --------------------------------------------------------------- cost and volume (behaviour only)

def test_a_1_mb_line_without_line_end_then_ok(transport: str) -> None:
    """Cut at MAX_LINE (4096) however the bytes arrive, every piece noted; the command ends at
    its OK and the next one is clean. (The time it takes is bench/run.py's business.)"""
    with AtPeer(transport) as peer, fast(peer) as ch:
        peer.on("AT+BIG", b"Z" * 1_000_000, OK)
        peer.on(VAL, VAL_ANSWER)
        r = ch.command("AT+BIG", timeout=20)
        assert r.ok and sum(map(len, r.lines)) == 1_000_000
        assert [len(x) for x in r.lines] == [4096] * 244 + [1_000_000 - 244 * 4096]
        assert ch.transcript.render().count("4096 bytes without a line end: cut") == 244
        own_answer(ch)
        assert ch.reader_alive


def test_urc_flood_keeps_the_queue_bounded_and_notes_the_drop(transport: str) -> None:
    """Thousands of URCs in one response: the command keeps its own answer, the queue keeps the
    newest `max_urcs`, and the transcript says once that dropping began and how many went."""
    n, keep = 5000, 300
    flood = b"".join(b'\r\n+QMTRECV: 0,%d,"t","p"\r\n' % i for i in range(n))
    with AtPeer(transport) as peer, fast(peer, max_urcs=keep) as ch:
        peer.on("AT+FLOOD", resp("+FLOOD: 1"), flood, OK)
        peer.on(VAL, VAL_ANSWER)
        r = ch.command("AT+FLOOD", timeout=20)
        assert (r.lines, r.final) == (["+FLOOD: 1"], "OK")
        queued = ch.pending_urcs()
        assert [u.args[1] for u in queued] == list(range(n - keep, n))  # the newest, in order
        assert ch.dropped_urcs == n - keep
        with pytest.raises(ATTimeout):
            ch.wait_urc("+QMTRECV", 0.05, predicate=lambda u: u.args[1] == 0)  # dropped
        assert ch.wait_urc("+QMTRECV", 1, predicate=lambda u: u.args[1] == n - 1).args[1] == n - 1
        text = ch.transcript.render()
        assert text.count("URC queue full") == 1
        assert f"URC queue: dropped {n - keep} URC(s), the oldest first" in text
        assert text.count("URC +QMTRECV") == n  # the transcript keeps every one as evidence
        own_answer(ch)


# --------------------------------------------------------------- what survived already (kept true)

def test_random_bytes_and_nuls_do_not_kill_the_reader(transport: str) -> None:
    junk = random.Random(18).randbytes(20_000) + b"\x00" * 500
    with AtPeer(transport) as peer, fast(peer) as ch:
        peer.on(VAL, VAL_ANSWER)
        peer.push(junk + resp("+QMTSTAT: 0,9"))
        ch.wait_urc("+QMTSTAT", 5, predicate=lambda u: u.args == [0, 9])  # all of it arrived, while idle
        own_answer(ch)
        assert ch.reader_alive and "<NUL>" in ch.transcript.render()


def test_urcs_in_the_middle_of_a_response_framed_and_unframed(transport: str) -> None:
    with AtPeer(transport) as peer, fast(peer) as ch:
        peer.on(VAL, resp("+VAL: 42"), b"+QMTSTAT: 0,1\r\n", resp("+QMTSTAT: 0,2"), OK)
        own_answer(ch)
        assert [u.args for u in ch.drain_urcs()] == [[0, 1], [0, 2]]


def test_ok_without_its_leading_line_end(transport: str) -> None:
    with AtPeer(transport) as peer, fast(peer) as ch:
        peer.on(VAL, b"+VAL: 42\r\nOK\r\n")
        peer.on("AT", b"OK\r\n")
        assert ch.command("AT", timeout=2).ok
        own_answer(ch)


def test_an_echo_that_differs_still_pairs_the_answer(transport: str) -> None:
    """Echo known on; the DUT echoes something else: it stands in the echo's place (an
    information line, as before), and the final after it is the command's own."""
    with AtPeer(transport) as peer, fast(peer) as ch:
        peer.on("AT", OK)
        peer.on(VAL, VAL_ANSWER, echo_as=b"AT+VAL=3OO\r")
        assert ch.command("AT", timeout=2).echo == "AT"
        r = ch.command(VAL, timeout=2)
        assert (r.echo, r.lines, r.final) == (None, ["AT+VAL=3OO", "+VAL: 42"], "OK")
        assert ch.command("AT", timeout=2).ok and protocol_errors(ch) == 0


def test_echo_switched_off_behind_the_channels_back(transport: str) -> None:
    """`ATE0` inside a compound line: the channel still expects an echo. The first answer that
    comes without one is taken once no echo followed within ECHO_WAIT_S, and echo is off from
    then on: no timeout, no protocol error."""
    with AtPeer(transport) as peer, fast(peer) as ch:
        def compound(line: str) -> bool:
            if line == "AT+CMEE=1;E0":
                peer.echo = False  # the peer has echoed this line already
                return True
            return False

        peer.on(compound, OK)
        peer.on("AT", OK)
        peer.on(VAL, VAL_ANSWER)
        assert ch.command("AT+CMEE=1;E0", timeout=2).echo == "AT+CMEE=1;E0"
        t0 = time.monotonic()
        r = ch.command("AT", timeout=2)
        waited = time.monotonic() - t0
        assert (r.echo, r.final) == (None, "OK") and ECHO_WAIT_S <= waited < ECHO_WAIT_S + 0.5, waited
        assert "no echo of 'AT' followed 'OK'" in ch.transcript.render()
        own_answer(ch)
        assert ch.command("AT", timeout=0.2).ok and protocol_errors(ch) == 0


def test_slow_output_within_the_deadline(transport: str) -> None:
    with AtPeer(transport) as peer, fast(peer) as ch:
        peer.on(VAL, Dribble(VAL_ANSWER, 0.005))
        own_answer(ch)
        own_answer(ch)


def test_recv_payload_that_never_closes(transport: str) -> None:
    with AtPeer(transport) as peer, fast(peer) as ch:
        peer.on(VAL, resp("+VAL: 42"), b'\r\n+QMTRECV: 0,0,"t","open\r\n', OK)
        own_answer(ch)
        assert ch.wait_urc("+QMTRECV", 1).line == '+QMTRECV: 0,0,"t","open'


def test_disconnect_mid_response_names_the_port_and_the_reader_ends() -> None:
    with AtPeer("tcp") as peer, fast(peer) as ch:
        gate = threading.Event()
        peer.on(VAL, resp("+VAL: 42"), Gate(gate, timeout=0.5))
        with ThreadPoolExecutor(1) as pool:
            t0 = time.monotonic()
            fut = pool.submit(ch.command, VAL, 5)
            peer.wait_seen(VAL)
            peer.drop_connection()
            gate.set()
            with pytest.raises(ATError) as ei:
                fut.result(timeout=5)
        assert time.monotonic() - t0 < 2
        assert not isinstance(ei.value, ATTimeout)
        assert f"serial port '{peer.url}' lost" in str(ei.value) and "\n" not in str(ei.value)
        ch._reader.join(2)
        assert not ch.reader_alive
        t0 = time.monotonic()
        with pytest.raises(ATError, match="lost"):
            ch.command(VAL, timeout=2)
        assert time.monotonic() - t0 < 0.5  # dead is dead: no deadline to wait out


# --------------------------------------------------------------- the emulator's control socket

SCALE = 0.05
EMULATOR_START = {"control": True}  # tests/conftest.py's `emulator`, with its control socket


@pytest.fixture
def relay(emulator: EmulatorProcess) -> Iterator[EmulatedRelay]:
    r = build_relay(RelayConfig(kind="emulated", timeout_s=5), device=str(emulator.control))
    assert isinstance(r, EmulatedRelay)
    r.on()
    yield r
    r.on()
    r.close()


@pytest.fixture
def at(emulator: EmulatorProcess, relay: EmulatedRelay) -> Iterator[ATChannel]:
    ch = ATChannel(emulator.url, time_scale=SCALE)
    ch.probe_timeout = PROBE_S
    try:
        relay.pulse()
        ch.wait_urc("RDY", boot_deadline_s(SCALE))
        assert ch.command("ATE0").ok
        yield ch
    finally:
        ch.close()


def _into_data_mode_then(at: ATChannel, fault: object) -> ATTimeout:
    """AT+QSSLCFG cacert: '>' (6.2 / DESIGN), then the fault, then the payload: no final result."""
    at.data_prompt_delay = 0
    seen = threading.Event()

    def on_rx(data: bytes) -> None:
        if b">" in data and not seen.is_set():
            seen.set()
            fault()  # type: ignore[operator]

    t0 = time.monotonic()
    with at.raw_rx(on_rx), pytest.raises(ATTimeout) as ei:
        at.send_data('AT+QSSLCFG=0,0,"cacert"', b"-----BEGIN CERTIFICATE-----\r\n", timeout=0.3)
    assert seen.is_set() and time.monotonic() - t0 < 1.5
    return ei.value


def _gives_a_resync_error(at: ATChannel) -> None:
    t0 = time.monotonic()
    with pytest.raises(ATResyncError, match=r"^the DUT did not resynchronise after .*'AT\+CGMM' was not sent$"):
        at.command("AT+CGMM")
    assert time.monotonic() - t0 < at.recover_attempts * (PROBE_S + 1.1) + 0.5
    assert at.reader_alive


def _module_answers(at: ATChannel) -> None:
    assert at.command("AT+CGMM").lines == ["Quectel_BC660K-GL"]


def _fault_mid_data_mode_then(at: ATChannel, fault: Callable[[], None], recover: Callable[[], None]) -> None:
    """The fault in data mode gives a resync error; after `recover` the module boots and answers."""
    _into_data_mode_then(at, fault)
    _gives_a_resync_error(at)
    recover()
    at.wait_urc("RDY", boot_deadline_s(SCALE))
    _module_answers(at)


def test_power_off_mid_data_mode_then_power_on(at: ATChannel, relay: EmulatedRelay) -> None:
    _fault_mid_data_mode_then(at, relay.off, relay.on)


def test_hang_mid_data_mode_then_reset(at: ATChannel, relay: EmulatedRelay) -> None:
    _fault_mid_data_mode_then(at, relay.hang, relay.pulse)


def test_hang_then_the_recovery_ladder_takes_over(at: ATChannel, relay: EmulatedRelay,
                                                    emulator: EmulatorProcess) -> None:
    relay.hang()
    with pytest.raises(ATTimeout):
        at.command("AT+CGMM", timeout=0.3)
    _gives_a_resync_error(at)
    log = Transcript()
    ladder = Ladder(at, emulator.url, log, relay=relay, time_scale=SCALE)
    ident = ladder.climb([RUNG_BY_NAME["reset line"]])
    assert ident.model and "ladder: reset line: ok" in log.render()
    _module_answers(ladder.channel)


def test_reconnect_storm_leaves_no_answer_for_the_next_host(emulator: EmulatorProcess,
                                                            relay: EmulatedRelay) -> None:
    """30 hosts at once connect, send a command and hang up before its answer (the emulator
    serves one host at a time: the others wait in line); then one host connects while another
    still holds the line (it waits its turn: a timeout, then a resync). Every next command gets
    its own answer and the emulator lives on."""

    def hit_and_run(_: int) -> None:
        ch = ATChannel(emulator.url, time_scale=SCALE)
        ch.write_raw(b"AT+CGMR\r")
        ch.close()  # pyserial waits 0.3 s after closing a socket: so 30 of them at once

    with ThreadPoolExecutor(30) as pool:
        list(pool.map(hit_and_run, range(30)))
    with ATChannel(emulator.url, time_scale=SCALE) as first:
        first.probe_timeout = PROBE_S
        assert first.resync(attempts=3, timeout=PROBE_S)
        assert first.command("ATE0").ok
        _module_answers(first)
        assert protocol_errors(first) == 0
        second = ATChannel(emulator.url, time_scale=SCALE)
        second.probe_timeout = PROBE_S
        try:
            with pytest.raises(ATTimeout):
                second.command("AT+CGMM", timeout=0.3)  # waits in line behind `first`
            _module_answers(first)
            first.close()
            _module_answers(second)
        finally:
            second.close()
    assert emulator.alive()
