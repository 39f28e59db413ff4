"""Relay drivers (harness/rig/relay/): each against its device, or a fake with its own tests
where the device cannot exist here (no gpio-sim, no hidapi, no modem lines on a Linux pty)."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import io
import os
import pty
import textwrap
import time
from pathlib import Path

import pytest

from harness.rig import RELAY_KINDS, load_rig
from harness.rig.relay import RELAY_DRIVERS, PowerDriver, RelayError, ResetDriver, build_relay
from harness.rig.relay.command import CommandRelay
from harness.rig.relay.dtr_rts import DtrRtsRelay
from harness.rig.relay.fake_gpiod import FakeGpiod, FakeLineRequest, LineSettings
from harness.rig.relay.fake_hid import FakeDevice, FakeHid, FakeRelayBoard, HIDException
from harness.rig.relay.gpiod_relay import GpiodRelay
from harness.rig.relay.hid_relay import HidRelay
from harness.rig.relay.manual import ManualRelay
from harness.rig.relay_schema import RESET_PULSE_S, RelayConfig

pytestmark = pytest.mark.timeout(30)


def relay_config(**kw: object) -> RelayConfig:
    return RelayConfig.model_validate(kw, context={"env": dict(os.environ)})


class Recorder:
    """A sleep that records what a probe sees while the driver waits (the inside of a pulse)."""

    def __init__(self, probe):  # type: ignore[no-untyped-def]
        self.probe, self.seen = probe, []

    def __call__(self, seconds: float) -> None:
        self.seen.append((seconds, self.probe()))


# -- registry ------------------------------------------------------------------------------


def test_every_kind_has_a_driver_and_every_driver_a_kind() -> None:
    assert set(RELAY_DRIVERS) == set(RELAY_KINDS) == {"none", "command", "manual", "dtr_rts", "gpiod", "hid",
                                                      "emulated", "labgrid"}


@pytest.mark.parametrize(("yaml", "cls", "power", "reset"), [
    ("kind: none", "NoRelay", False, False),
    ("{kind: command, commands: {reset: 'true'}}", "CommandRelay", False, True),
    ("{kind: command, commands: {power_on: 'true', power_off: 'true'}}", "CommandRelay", True, False),
    ("kind: manual", "ManualRelay", True, True),
    ("{kind: dtr_rts, device: 'loop://', lines: {reset: rts}}", "DtrRtsRelay", False, True),
    ("{kind: gpiod, device: /dev/gpiochip0, channels: {power: 3, reset: 4}}", "GpiodRelay", True, True),
    ("{kind: hid, channels: {power: 1}}", "HidRelay", True, False),
    ("{kind: emulated, device: /tmp/x.sock}", "EmulatedRelay", True, True),
])
def test_registry_builds_the_driver_from_the_rig_file(tmp_path: Path, yaml: str, cls: str, power: bool,
                                                      reset: bool) -> None:
    path = tmp_path / "rig.yaml"
    path.write_text(f"relay: {yaml}\n" if yaml.startswith("{") else f"relay:\n  {yaml}\n")
    relay = build_relay(load_rig(path, env={}).relay)
    assert type(relay).__name__ == cls and (relay.can_power, relay.can_reset) == (power, reset)
    assert isinstance(relay, PowerDriver) and isinstance(relay, ResetDriver)
    relay.close()


def test_none_refuses_every_action_in_one_line() -> None:
    relay = build_relay(RelayConfig())
    for action in (relay.on, relay.off, relay.cycle):
        with pytest.raises(RelayError, match=r"^relay none: no power control on this rig$"):
            action()
    with pytest.raises(RelayError, match=r"^relay none: no reset control on this rig$"):
        relay.pulse()


def test_unregistered_driver_is_a_relay_error() -> None:
    cfg = RelayConfig().model_copy(update={"kind": "ghost"})
    with pytest.raises(RelayError, match=r"^relay ghost: no driver is registered"):
        build_relay(cfg)


# -- command -------------------------------------------------------------------------------


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "relay.sh"
    path.write_text('echo "$RELAY_ACTION $1 ${RELAY_WIDTH_S:-} ${RELAY_OFF_S:-}" >> "$STATE"\n')
    return path


def test_command_runs_each_action_with_its_timing(tmp_path: Path, script: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("STATE", str(state))
    monkeypatch.setenv("BENCH", "bench 3")
    cmds = {a: f"sh '{script}' '${{BENCH}}'" for a in ("power_on", "power_off", "reset")}
    waits: list[float] = []
    relay = CommandRelay(relay_config(kind="command", commands=cmds, power_off_s=2.5), sleep=waits.append)
    relay.on()
    relay.cycle()
    relay.pulse()
    relay.pulse(0.25)
    assert state.read_text().split("\n")[:-1] == [
        "power_on bench 3  ", "power_off bench 3  ", "power_on bench 3  ",
        f"reset bench 3 {RESET_PULSE_S:g} ", "reset bench 3 0.25 "]
    assert waits == [2.5]  # cycle = off, wait relay.power_off_s, on
    cmds["power_cycle"] = f"sh '{script}' x"
    CommandRelay(relay_config(kind="command", commands=cmds)).cycle(0.5)
    assert state.read_text().split("\n")[-2] == "power_cycle x  0.5"


def test_command_true_false_and_stderr_tail() -> None:
    fail3 = "sh -c 'echo first >&2; echo boom >&2; exit 3'"
    relay = CommandRelay(relay_config(kind="command", commands={"power_on": "true", "power_off": "false",
                                                                "reset": fail3}))
    relay.on()
    with pytest.raises(RelayError, match=r"^relay command: power_off: false exited 1$"):
        relay.off()
    with pytest.raises(RelayError, match=r"^relay command: reset: sh exited 3: first boom$"):
        relay.pulse()


def test_command_failures_are_one_line_and_never_show_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PDU_PW", "hunter2")
    cfg = relay_config(kind="command", commands={"reset": "sh -c 'echo login $0 failed >&2; exit 1' ${PDU_PW}"})
    assert "hunter2" not in repr(cfg) and "hunter2" not in str(cfg.model_dump())  # kept unexpanded
    with pytest.raises(RelayError) as info:
        CommandRelay(cfg).pulse()
    assert str(info.value) == "relay command: reset: sh exited 1: login *** failed"
    monkeypatch.delenv("PDU_PW")
    with pytest.raises(RelayError, match=r"reset: environment variable PDU_PW is not set$"):
        CommandRelay(cfg).pulse()
    missing = relay_config(kind="command", commands={"reset": "/no/such/program"})
    with pytest.raises(RelayError, match=r"^relay command: reset: cannot run /no/such/program: No such file"):
        CommandRelay(missing).pulse()


def test_command_timeout_kills_the_command(tmp_path: Path) -> None:
    marker = tmp_path / "late"
    cfg = relay_config(kind="command", timeout_s=0.3, commands={"reset": f"sh -c 'sleep 3; touch {marker}'"})
    start = time.monotonic()
    with pytest.raises(RelayError, match=r"^relay command: reset: sh did not finish within 0.3 s$"):
        CommandRelay(cfg).pulse()
    assert time.monotonic() - start < 2.5 and not marker.exists()


# -- manual --------------------------------------------------------------------------------


def test_manual_needs_an_interactive_terminal() -> None:
    relay = ManualRelay(RelayConfig(kind="manual"), stdin=io.StringIO("\n"), stdout=io.StringIO())
    with pytest.raises(RelayError, match=r"^relay manual \(terminal\): manual relay needs an interactive terminal$"):
        relay.pulse()


def test_manual_asks_on_a_real_terminal_and_takes_the_answer() -> None:
    master, slave = pty.openpty()
    with open(slave, encoding="utf-8") as tty:
        out = io.StringIO()
        relay = ManualRelay(RelayConfig(kind="manual", timeout_s=5), stdin=tty, stdout=out)
        os.write(master, b"\n")
        relay.pulse()
        assert "hold RESET_N low for about 100 ms" in out.getvalue()
        os.write(master, b"n\n")
        with pytest.raises(RelayError, match=r"the operator could not: Power-cycle the DUT: VBAT off for at least 1 s"):
            relay.cycle()
        quick = ManualRelay(RelayConfig(kind="manual", timeout_s=0.2), stdin=tty, stdout=out)
        with pytest.raises(RelayError, match=r"no answer from the operator within 0.2 s$"):
            quick.on()
    os.close(master)


# -- dtr_rts: pyserial's loop:// (no modem lines on a Linux pty: TIOCMSET there is ENOTTY) ----


@pytest.mark.parametrize("active_low", [False, True])
def test_dtr_rts_drives_the_lines(active_low: bool) -> None:
    """loop:// is pyserial's own loopback: it reflects RTS on CTS and DTR on DSR."""
    relay = DtrRtsRelay(relay_config(kind="dtr_rts", device="loop://", lines={"power": "dtr", "reset": "rts"},
                                     active_low=active_low))
    relay.sleep = rec = Recorder(lambda: relay._port.cts)
    relay.off()
    assert relay._port.dsr is active_low  # power off: DTR deasserted (asserted when active low)
    relay.on()
    assert relay._port.dsr is not active_low
    relay.pulse(0.05)
    assert rec.seen == [(0.05, not active_low)] and relay._port.cts is active_low
    relay.close()
    relay.close()


def test_dtr_rts_opens_with_the_lines_idle_and_errors_are_one_line() -> None:
    relay = DtrRtsRelay(relay_config(kind="dtr_rts", device="loop://", lines={"power": "rts", "reset": "dtr"}))
    relay._open()
    assert relay._port.cts is True and relay._port.dsr is False  # powered, reset released from the start
    with pytest.raises(RelayError, match=r"^relay dtr_rts \(/nonexistent/ttyUSB9\): cannot open the port: "):
        DtrRtsRelay(relay_config(kind="dtr_rts", device="/nonexistent/ttyUSB9", lines={"reset": "rts"})).pulse()
    with pytest.raises(RelayError, match=r"no power line in relay.lines"):
        DtrRtsRelay(relay_config(kind="dtr_rts", device="loop://", lines={"reset": "rts"})).on()


# -- gpiod: the fake chip, then the driver on it --------------------------------------------


def test_fake_gpiod_matches_the_real_api() -> None:
    gpiod = pytest.importorskip("gpiod")
    fake = FakeGpiod()
    for enum in ("Value", "Direction"):
        real = {m.name: m.value for m in getattr(gpiod.line, enum)}
        assert {m.name: m.value for m in getattr(fake.line, enum)}.items() <= real.items()
    real_fields = {f.name: f.default for f in gpiod.LineSettings.__dataclass_fields__.values()}
    for f in LineSettings.__dataclass_fields__.values():
        assert f.name in real_fields and getattr(real_fields[f.name], "name", None) == getattr(f.default, "name", None)
    assert list(inspect.signature(fake.request_lines).parameters) == list(
        inspect.signature(gpiod.request_lines).parameters)
    for name in ("set_value", "get_value", "release"):
        assert list(inspect.signature(getattr(gpiod.LineRequest, name)).parameters) == list(
            inspect.signature(getattr(FakeLineRequest, name)).parameters)


def test_fake_gpiod_fails_as_the_real_one_on_missing_and_non_chip_paths(tmp_path: Path) -> None:
    gpiod = pytest.importorskip("gpiod")
    plain = tmp_path / "plain"
    plain.write_text("")
    for lib in (gpiod, FakeGpiod()):
        with pytest.raises(FileNotFoundError):
            lib.request_lines(str(tmp_path / "none"), config={0: None})
        with pytest.raises(OSError) as info:
            lib.request_lines(str(plain), config={0: None})
        assert info.value.errno == 25  # ENOTTY: not a GPIO character device
        assert lib.is_gpiochip_device(str(plain)) is False


def test_fake_gpiod_chip_semantics(tmp_path: Path) -> None:
    fake = FakeGpiod()
    chip = fake.add_chip(tmp_path / "gpiochip0", num_lines=4)
    out = fake.line.Direction.OUTPUT
    req = fake.request_lines(chip.path, config={(1, 2): LineSettings(direction=out, active_low=True)})
    assert chip.levels == {1: 1, 2: 1}  # INACTIVE on an active-low line is a high level
    req.set_value(1, fake.Value.ACTIVE)
    assert chip.levels[1] == 0 and req.get_value(1) is fake.Value.ACTIVE
    with pytest.raises(OSError) as info:
        fake.request_lines(chip.path, config={2: None})
    assert info.value.errno == 16  # EBUSY
    with pytest.raises(ValueError, match="out range"):
        fake.request_lines(chip.path, config={4: None})
    req.release()
    req.release()
    with pytest.raises(fake.RequestReleasedError):
        req.set_value(1, fake.Value.INACTIVE)
    assert chip.held == {} and fake.request_lines(chip.path, config={2: None}).offsets == [2]


@pytest.mark.parametrize("active_low", [False, True])
def test_gpiod_relay_switches_and_pulses_the_lines(tmp_path: Path, active_low: bool) -> None:
    fake = FakeGpiod()
    chip = fake.add_chip(tmp_path / "gpiochip0")
    cfg = relay_config(kind="gpiod", device=chip.path, channels={"power": 5, "reset": 6}, active_low=active_low)
    relay = GpiodRelay(cfg, gpiod=fake)
    idle, active = int(active_low), int(not active_low)
    relay.sleep = rec = Recorder(lambda: chip.levels[6])
    relay.pulse()
    assert chip.levels == {5: active, 6: idle}  # requested with power on, reset released
    assert rec.seen == [(RESET_PULSE_S, active)]
    relay.off()
    assert chip.levels[5] == idle
    relay.sleep = lambda s: None
    relay.cycle(0)
    assert [lv for _, off, lv in chip.history if off == 5] == [active, idle, idle, active]
    assert chip.held == {5: "bc660k-relay", 6: "bc660k-relay"}
    relay.close()
    assert chip.held == {}


def test_gpiod_relay_errors_are_one_line(tmp_path: Path) -> None:
    fake = FakeGpiod()
    chip = fake.add_chip(tmp_path / "gpiochip0", num_lines=4)
    busy = fake.request_lines(chip.path, config={1: None}, consumer="someone")
    cfg = relay_config(kind="gpiod", device=chip.path, channels={"power": 1})
    with pytest.raises(RelayError, match=r"^relay gpiod \(.*gpiochip0\): cannot request lines \[1\]: in use by "):
        GpiodRelay(cfg, gpiod=fake).on()
    busy.release()
    with pytest.raises(RelayError, match=r"cannot request lines \[7\]: line offset of out range$"):
        GpiodRelay(relay_config(kind="gpiod", device=chip.path, channels={"power": 7}), gpiod=fake).on()
    with pytest.raises(RelayError, match=r"\(/dev/gpiochip99\): no such device$"):
        GpiodRelay(relay_config(kind="gpiod", device="/dev/gpiochip99", channels={"power": 1}), gpiod=fake).on()
    with pytest.raises(RelayError, match=r"no reset line in relay.channels$"):
        GpiodRelay(cfg, gpiod=fake).pulse()


def test_gpiod_relay_with_the_real_library_refuses_a_non_chip(tmp_path: Path) -> None:
    pytest.importorskip("gpiod")
    plain = tmp_path / "gpiochip0"
    plain.write_text("")
    relay = GpiodRelay(relay_config(kind="gpiod", device=str(plain), channels={"power": 0}))
    with pytest.raises(RelayError, match=r"not a GPIO chip device \(expected /dev/gpiochipN\)$"):
        relay.on()


# -- hid: the fake board, then the driver on it ---------------------------------------------


def _real_hid_device_methods() -> dict[str, list[str]]:
    """The real `hid` package's Device methods, from its source (importing it needs hidapi)."""
    spec = importlib.util.find_spec("hid")
    if spec is None or spec.origin is None:
        pytest.skip("the hid package is not installed")
    tree = ast.parse(Path(spec.origin).read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Device")
    return {f.name: [a.arg for a in f.args.args] for f in cls.body if isinstance(f, ast.FunctionDef)}


def test_fake_hid_matches_the_real_package() -> None:
    real = _real_hid_device_methods()
    assert real["__init__"][1:] == list(inspect.signature(FakeHid().Device).parameters)
    for name in ("send_feature_report", "get_feature_report", "close"):
        assert real[name] == ["self", *inspect.signature(getattr(FakeDevice(FakeRelayBoard()), name)).parameters]


def test_fake_hid_board_follows_the_firmware() -> None:
    board = FakeRelayBoard(serial="AB12C", relays=2)
    dev = FakeHid([board]).Device(path=board.path)
    dev.send_feature_report(bytes([0, 0xFF, 2, 0, 0, 0, 0, 0, 0]))
    assert dev.get_feature_report(1, 9) == b"AB12C\0\0\x02\0"
    dev.send_feature_report(bytes([0, 0xFF, 3, 0, 0, 0, 0, 0, 0]))  # no relay 3 on this board: ignored
    dev.send_feature_report(bytes([0, 0xFE, 0, 0, 0, 0, 0, 0, 0]))
    assert board.state == 0b11
    dev.send_feature_report(bytes([0, 0xFD, 1, 0, 0, 0, 0, 0, 0]))
    assert board.state == 0b10
    dev.close()
    with pytest.raises(HIDException, match="device closed"):
        dev.get_feature_report(1, 9)
    with pytest.raises(HIDException, match="unable to open device"):
        FakeHid([board]).Device(path=b"/dev/hidraw9")


@pytest.mark.parametrize("active_low", [False, True])
def test_hid_relay_switches_pulses_and_reads_back(active_low: bool) -> None:
    board = FakeRelayBoard(relays=2)
    relay = HidRelay(relay_config(kind="hid", channels={"power": 1, "reset": 2}, active_low=active_low),
                     hid=FakeHid([board]))
    relay.on()
    assert board.state == (0 if active_low else 1)
    relay.sleep = rec = Recorder(lambda: board.state & 2)
    relay.pulse(0.2)
    assert rec.seen == [(0.2, 0 if active_low else 2)] and board.state & 2 == (2 if active_low else 0)
    relay.off()
    assert board.state & 1 == (1 if active_low else 0)
    assert relay.states()[0] == "QAAMZ"
    relay.close()


def test_hid_relay_picks_a_board_and_says_why_it_cannot() -> None:
    a, b = FakeRelayBoard(serial="AAAAA", path=b"/dev/hidraw1"), FakeRelayBoard(serial="BBBBB", path=b"/dev/hidraw2")
    with pytest.raises(RelayError, match=r"^relay hid: 2 relay boards found; pick one with relay.serial"):
        HidRelay(relay_config(kind="hid", channels={"power": 1}), hid=FakeHid([a, b])).on()
    HidRelay(relay_config(kind="hid", channels={"power": 1}, serial="BBBBB"), hid=FakeHid([a, b])).on()
    assert (a.state, b.state) == (0, 1)
    HidRelay(relay_config(kind="hid", channels={"power": 2}, device="/dev/hidraw1"), hid=FakeHid([a, b])).on()
    assert a.state == 2
    with pytest.raises(RelayError, match=r"^relay hid \(serial CCCCC\): no USB relay board with that serial$"):
        HidRelay(relay_config(kind="hid", channels={"power": 1}, serial="CCCCC"), hid=FakeHid([a, b])).on()
    with pytest.raises(RelayError, match=r"^relay hid: no USB relay board found \(VID 16c0 PID 05df\)$"):
        HidRelay(relay_config(kind="hid", channels={"power": 1}), hid=FakeHid([])).on()
    one = FakeRelayBoard(relays=1)
    with pytest.raises(RelayError, match=r"relay 2 did not switch on \(read back\)$"):
        HidRelay(relay_config(kind="hid", channels={"power": 2}), hid=FakeHid([one])).on()
    stuck = FakeRelayBoard(stuck=True)
    with pytest.raises(RelayError, match=r"relay 1 did not switch on"):
        HidRelay(relay_config(kind="hid", channels={"power": 1}), hid=FakeHid([stuck])).on()


def test_hid_relay_with_the_real_package_names_what_is_missing() -> None:
    relay = HidRelay(relay_config(kind="hid", channels={"power": 1}))
    try:
        import hid  # noqa: F401
    except ImportError:
        with pytest.raises(RelayError) as info:
            relay.on()
        assert str(info.value) in (
            "relay hid: cannot load the hidapi library libhidapi-hidraw.so.0 or libhidapi-libusb.so.0 "
            "(Debian: libhidapi-hidraw0)", "relay hid: the hid package is not installed")
    else:  # hidapi is here: with no board plugged in, the enumeration says so
        with pytest.raises(RelayError, match=r"no USB relay board"):
            relay.on()


def test_rig_file_relay_section_loads_as_written(tmp_path: Path) -> None:
    path = tmp_path / "rig.yaml"
    path.write_text(textwrap.dedent("""\
        relay:
          kind: gpiod
          device: /dev/gpiochip${CHIP}
          channels: {power: 17, reset: 27}
          active_low: true
          reset_pulse_s: 0.2
          boot_s: 15
        """))
    relay = load_rig(path, env={"CHIP": "1"}).relay
    assert (relay.device, relay.channels, relay.active_low) == ("/dev/gpiochip1", {"power": 17, "reset": 27}, True)
    assert (relay.reset_pulse_s, relay.power_off_s, relay.boot_s) == (0.2, 1.0, 15.0)
