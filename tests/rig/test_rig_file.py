"""The rig file: every user mistake ends as one clear line; valid files load as written."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from harness.emulator import profiles
from harness.rig import RELAY_KINDS, RelayKind, RigConfig, RigError, load_rig, register_relay_kind

ROOT = Path(__file__).resolve().parents[2]
ENV = {
    "BC660K_PORT": "/dev/ttyUSB0",
    "RIG_BROKER_HOST": "mqtt.example.com",
    "RIG_BROKER_PASSWORD": "s3cr3t-pw",
}


def write(directory: Path, text: str, name: str = "rig.yaml") -> Path:
    """Write a rig file into the current directory (rig_dir) and name it as a user would."""
    assert Path.cwd() == directory
    (directory / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return Path(name)


def error_of(path: Path, overrides: dict | None = None, env: dict | None = None) -> str:
    with pytest.raises(RigError) as info:
        load_rig(path, overrides, env={} if env is None else env)
    text = str(info.value)
    assert "\n" not in text and "Traceback" not in text and "pydantic" not in text
    assert info.value.__cause__ is None  # no chained ValidationError carrying the input
    return text


@pytest.fixture
def rig_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Errors name the file as the user gave it: a relative path from the current directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# -- valid files ------------------------------------------------------------------------


def test_default_rig_loads_as_emulator_with_embedded_broker() -> None:
    rig = load_rig(ROOT / "rig.yaml", env={})
    assert rig.dut.kind == "emulator" and rig.dut.transport == "tcp" and rig.dut.firmware == "conformant"
    assert rig.dut.time_scale == 0.1 and rig.dut.port is None
    assert (rig.broker.kind, rig.broker.listen, rig.broker.port) == ("amqtt", "127.0.0.1", 0)
    assert rig.broker.dut_address == "127.0.0.1" and rig.broker.password is None
    assert rig.relay.kind == "none" and rig.relay.channels == {}
    assert rig.report.junit == Path("reports/junit.xml") and rig.report.dir == Path("reports")
    assert rig.source == (ROOT / "rig.yaml").resolve()
    assert rig.secrets() == set()


def test_example_lab_rig_loads_with_its_environment() -> None:
    rig = load_rig(ROOT / "rigs" / "example-lab.yaml", env=ENV)
    assert (rig.dut.kind, rig.dut.port, rig.dut.time_scale) == ("serial", "/dev/ttyUSB0", 1.0)
    assert rig.dut.transport is None and rig.dut.firmware is None
    assert rig.broker.dut_address == "mqtt.example.com"
    assert rig.broker.password == "s3cr3t-pw"


def test_example_two_module_rig_loads() -> None:
    rig = load_rig(ROOT / "rigs" / "example-two-modules.yaml", env=ENV | {"RIG_BROKER_HOST": "192.0.2.10"})
    assert [s.dut.kind for s in rig.duts] == ["serial", "serial"]
    assert rig.for_worker(1, 2).relay.channels == {"power": 22, "reset": 23}


def test_empty_file_and_empty_sections_mean_defaults(rig_dir: Path) -> None:
    assert load_rig(write(rig_dir, ""), env={}).dut.kind == "emulator"
    rig = load_rig(write(rig_dir, "dut:\nbroker:\n  # port: 1883\n"), env={})
    assert rig.dut.time_scale == 1.0 and rig.broker.port == 0


def test_substitution_in_plain_strings_and_escape(rig_dir: Path) -> None:
    path = write(rig_dir, """\
        dut: {kind: serial, port: "socket://${DUT_HOST}:5000"}
        report: {title: "cost $${NOT_A_VAR} on ${BENCH}", dir: "${OUT}/reports"}
        """)
    rig = load_rig(path, env={"DUT_HOST": "127.0.0.1", "BENCH": "bench-3", "OUT": "/tmp/x"})
    assert rig.dut.port == "socket://127.0.0.1:5000"
    assert rig.report.title == "cost ${NOT_A_VAR} on bench-3"
    assert rig.report.dir == Path("/tmp/x/reports")


def test_secrets_returns_substituted_values_and_repr_hides_them(rig_dir: Path) -> None:
    path = write(rig_dir, "broker: {username: lab, password: '${MQTT_PW}'}\n")
    rig = load_rig(path, env={"MQTT_PW": "hunter2"})
    assert rig.broker.password == "hunter2"
    assert rig.secrets() == {"hunter2"}
    assert "hunter2" not in repr(rig) and "hunter2" not in str(rig.broker)
    assert rig.redacted_dump()["broker"]["password"] == "***"
    assert "source" not in rig.redacted_dump()


def test_new_secret_field_is_one_annotation() -> None:
    """A later section (e.g. aliauth device_secret, 3.3.1) marks its secret with `Secret`."""
    from harness.rig.schema import Secret, _Section

    class AliAuth(_Section):
        device_secret: Secret = None

    class Bigger(RigConfig):
        aliauth: AliAuth = AliAuth()

    rig = Bigger.model_validate({"aliauth": {"device_secret": "${DS}"}}, context={"env": {"DS": "abc"}})
    assert rig.secrets() == {"abc"}
    with pytest.raises(ValueError, match="secrets are not written"):
        Bigger.model_validate({"aliauth": {"device_secret": "abc"}}, context={"env": {}})


def test_registered_relay_kind_is_accepted(rig_dir: Path) -> None:
    path = write(rig_dir, "relay: {kind: usbrelay, channels: {power: 0, reset: 1}}\n")
    assert "relay.kind: expected one of 'none', 'command', " in error_of(path)
    assert error_of(path).endswith("got 'usbrelay'")
    register_relay_kind("usbrelay", RelayKind("a test relay", has_channels=True))
    try:
        assert load_rig(path, env={}).relay.channels == {"power": 0, "reset": 1}
    finally:
        del RELAY_KINDS["usbrelay"]


# -- mistakes in the file ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dutt: {}\n", "dutt: unknown key (expected one of: dut, duts, relay, broker, report, labgrid); "
                       "did you mean 'dut'?"),
        ("source: x\n", "source: unknown key (expected one of: dut, duts, relay, broker, report, labgrid)"),
        ("dut: {prot: 1}\n", "dut.prot: unknown key (expected one of: kind, port, baud, transport, "
                             "firmware, time_scale, network); did you mean 'port'?"),
        ("relay: {chanels: {}}\n", "relay.chanels: unknown key (expected one of: kind, channels, device, "
                                   "serial, lines, active_low, commands, reset_pulse_s, power_off_s, boot_s, "
                                   "timeout_s); did you mean 'channels'?"),
        ("relay: {kind: command, commands: {of: x}}\n", "relay.commands.of: unknown key (expected one of: "
                                                        "power_on, power_off, power_cycle, reset)"),
        ("broker: {pasword: x}\n", "broker.pasword: unknown key"),
        ("report: {juint: x}\n", "report.juint: unknown key"),
    ],
)
def test_misspelt_key_at_each_level(rig_dir: Path, text: str, expected: str) -> None:
    assert error_of(write(rig_dir, text)).startswith("rig.yaml: " + expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("broker: {kind: mosquito}\n", "broker.kind: expected one of 'amqtt', 'mosquitto'; got 'mosquito'"),
        ("relay: {kind: gpio}\n", "relay.kind: expected one of 'none', 'command', 'manual', 'dtr_rts', "
                                   "'gpiod', 'hid', 'emulated', 'labgrid'; got 'gpio'; did you mean 'gpiod'?"),
        ("dut: {kind: modem}\n", "dut.kind: expected one of 'emulator', 'serial', 'labgrid'; got 'modem'"),
        ("dut: {transport: usb}\n", "dut.transport: expected one of 'tcp', 'pty'; got 'usb'"),
        ("dut: {baud: 1234}\n", "dut.baud: expected one of 4800, 9600, 19200, 38400, 57600, 115200, "
                                "230400, 460800, 921600; got 1234"),
        ("dut: {baud: fast}\n", "dut.baud: expected one of 4800, "),
        ("dut: {time_scale: 0}\n", "dut.time_scale: expected a number > 0 and <= 1; got 0"),
        ("dut: {time_scale: 2.5}\n", "dut.time_scale: expected a number > 0 and <= 1; got 2.5"),
        ("dut: {time_scale: yes}\n", "dut.time_scale: expected a number > 0 and <= 1; got true"),
        ("dut: {firmware: Bad Name}\n", "dut.firmware: expected a profile name of a-z, 0-9, _ and -"),
        ("dut: [emulator]\n", "dut: expected a mapping of keys; got a list"),
        ("broker: {tls: maybe}\n", "broker.tls: expected true or false; got 'maybe'"),
        ("broker: {port: 70000}\n", "broker.port: expected a port 0..65535; got 70000"),
        ("report: {title: 42}\n", "report.title: expected a non-empty string; got 42"),
        ("relay: {channels: {pwr: 0}}\n", "relay.channels: key 'pwr': expected one of 'power', 'reset'"),
        ("relay: {channels: {power: -1}}\n", "relay.channels.power: expected a mapping of power/reset"),
        ("relay: {channels: {power: 0}}\n", "relay.channels: relay kind 'none' has no channels"),
        ("- a\n- b\n", "expected a mapping with sections dut, duts, relay, broker, report, labgrid; got a list"),
    ],
)
def test_wrong_type_bad_enum_out_of_range(rig_dir: Path, text: str, expected: str) -> None:
    assert error_of(write(rig_dir, text)).startswith("rig.yaml: " + expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dut: {kind: serial}\n", "dut.port: required when dut.kind is serial"),
        ("dut: {kind: serial, port: /dev/ttyUSB0, time_scale: 0.1}\n",
         "dut.time_scale: must be 1.0 when dut.kind is serial"),
        ("dut: {kind: serial, port: /dev/ttyUSB0, transport: tcp}\n",
         "dut.transport: applies to dut.kind emulator only"),
        ("dut: {kind: serial, port: 'sokcet://h:1'}\n", "dut.port: unknown pyserial URL scheme 'sokcet://'"),
        ("dut: {kind: serial, port: 'socket://h'}\n", "dut.port: expected HOST:PORT after the scheme"),
        ("dut: {transport: tcp, port: /tmp/x}\n", "dut.port: with dut.transport tcp, expected socket://"),
        ("broker: {listen: 0.0.0.0}\n", "broker.listen: expected a loopback address"),
        (f"broker: {{dut_address: {'a' * 101}}}\n", "broker.dut_address: expected 1..100 bytes (3.3.2"),
        ("broker: {password: '${PW}'}\n", "broker.password: needs broker.username"),
    ],
)
def test_rules_between_keys(rig_dir: Path, text: str, expected: str) -> None:
    assert error_of(write(rig_dir, text), env={"PW": "x"}).startswith("rig.yaml: " + expected)


def test_non_loopback_broker_needs_explicit_permission(rig_dir: Path) -> None:
    rig = load_rig(write(rig_dir, "broker: {listen: 0.0.0.0, allow_non_loopback: true}\n"), env={})
    assert rig.broker.listen == "0.0.0.0"


def test_literal_secret_is_refused_without_echoing_it(rig_dir: Path) -> None:
    text = error_of(write(rig_dir, "broker: {username: u, password: hunter2}\n"))
    assert text == ("rig.yaml: broker.password: secrets are not written in the rig file; "
                    "name an environment variable as ${VAR}")
    assert "hunter2" not in text
    assert "4711" not in error_of(write(rig_dir, "broker: {username: u, password: 4711}\n"))


def test_missing_environment_variable_is_named(rig_dir: Path) -> None:
    path = write(rig_dir, "broker: {username: u, password: '${MQTT_PASSWORD}'}\n")
    assert error_of(path) == "rig.yaml: broker.password: environment variable MQTT_PASSWORD is not set"
    path = write(rig_dir, "broker: {dut_address: '${BROKER_HOST}'}\n")
    assert error_of(path) == "rig.yaml: broker.dut_address: environment variable BROKER_HOST is not set"
    assert "bad variable reference ${1X}" in error_of(write(rig_dir, "report: {title: 'a ${1X}'}\n"))


def test_several_problems_report_the_first_and_count(rig_dir: Path) -> None:
    text = error_of(write(rig_dir, "dut: {prot: 1}\nbroker: {kind: x}\n"))
    assert text.startswith("rig.yaml: dut.prot: unknown key") and text.endswith("(and 1 more problem)")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dut:\n  kind: emulator\n   port: 1\n", "rig.yaml: line 3: not valid YAML: "),
        ("dut: {kind: [\n", "rig.yaml: line 2: not valid YAML: "),
        ("dut:\n  baud: 9600\n  baud: 4800\n", "rig.yaml: line 3: duplicate key 'baud'"),
        ("dut: !!python/object:os.system {}\n", "rig.yaml: line 1: not valid YAML: could not determine"),
    ],
)
def test_bad_yaml_names_the_line(rig_dir: Path, text: str, expected: str) -> None:
    assert error_of(write(rig_dir, text)).startswith(expected)


def test_missing_file_and_unreadable_file(rig_dir: Path) -> None:
    assert error_of(Path("rigs/x.yaml")) == "rigs/x.yaml: file not found"
    (rig_dir / "d.yaml").mkdir()
    assert error_of(Path("d.yaml")) == "d.yaml: is a directory, not a rig file"
    (rig_dir / "bin.yaml").write_bytes(b"dut: \xff\xfe\n")
    assert error_of(Path("bin.yaml")) == "bin.yaml: not UTF-8 text"


# -- overrides from the command line ------------------------------------------------------


def test_port_override_sets_aside_the_emulator_section(rig_dir: Path) -> None:
    """--port with the default rig: the file's time_scale 0.1 was for the emulator, not the device."""
    overrides = {"dut.kind": "serial", "dut.port": "socket://127.0.0.1:5000"}
    rig = load_rig(ROOT / "rig.yaml", overrides, env={})
    assert (rig.dut.kind, rig.dut.port, rig.dut.time_scale) == ("serial", "socket://127.0.0.1:5000", 1.0)
    assert rig.dut.transport is None and rig.dut.firmware is None
    assert rig.broker.kind == "amqtt"  # other sections still come from the file


def test_explicit_time_scale_is_allowed_for_an_external_emulator() -> None:
    overrides = {"dut.kind": "serial", "dut.port": "socket://127.0.0.1:5000", "dut.time_scale": "0.25"}
    assert load_rig(ROOT / "rig.yaml", overrides, env={}).dut.time_scale == 0.25


def test_overrides_convert_strings_and_win_over_the_file() -> None:
    rig = load_rig(ROOT / "rig.yaml", {"dut.time_scale": "0.5", "broker.kind": "mosquitto"}, env={})
    assert (rig.dut.time_scale, rig.broker.kind) == (0.5, "mosquitto")


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"dut.time_scale": "abc"}, "--time-scale: expected a number > 0 and <= 1; got 'abc'"),
        ({"dut.time_scale": "0"}, "--time-scale: expected a number > 0 and <= 1; got '0'"),
        ({"broker.kind": "mosquito"}, "--broker: expected one of 'amqtt', 'mosquitto'; got 'mosquito'"),
        ({"dut.kind": "serial", "dut.port": "com3://x"}, "--port: unknown pyserial URL scheme 'com3://'"),
        ({"dut.kind": "serial"}, "--port: dut.port: required when dut.kind is serial"),
        ({"dut.kind": "serial", "dut.port": "/dev/ttyUSB0", "dut.firmware": "a05"},
         "--firmware: applies to dut.kind emulator only"),
        ({"dut.prot": "x"}, "override dut.prot: unknown key (expected one of: kind, port, baud, transport, "
                            "firmware, time_scale, network); did you mean 'port'?"),
        ({"dut..kind": "x"}, "override 'dut..kind': not a dotted key"),
    ],
)
def test_override_errors_name_the_option(overrides: dict, expected: str) -> None:
    assert error_of(ROOT / "rig.yaml", overrides).startswith(expected)


def test_option_names_can_be_supplied() -> None:
    names = {"dut.time_scale": "--scale"}
    with pytest.raises(RigError, match=r"^--scale: expected a number"):
        load_rig(ROOT / "rig.yaml", {"dut.time_scale": "x"}, env={}, option_names=names)


# -- the relay section's driver keys (harness/rig/relay_schema.py) ---------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("relay: {device: /dev/gpiochip0}\n",
         "relay.device: applies to relay.kind 'dtr_rts', 'gpiod', 'hid', 'emulated' only; remove it for "
         "relay.kind 'none'"),
        ("relay: {kind: manual, active_low: true}\n", "relay.active_low: applies to relay.kind 'dtr_rts', "),
        ("relay: {kind: gpiod, channels: {power: 3}}\n", "relay.device: required when relay.kind is 'gpiod'"),
        ("relay: {kind: gpiod, device: /dev/gpiochip0}\n", "relay.channels: required when relay.kind is 'gpiod'"),
        ("relay: {kind: gpiod, device: /dev/gpiochip0, channels: {power: 3, reset: 3}}\n",
         "relay.channels: power and reset must use different lines"),
        ("relay: {kind: dtr_rts, device: /dev/ttyUSB1}\n", "relay.lines: required when relay.kind is 'dtr_rts'"),
        ("relay: {kind: dtr_rts, device: /dev/ttyUSB1, lines: {power: cts}}\n",
         "relay.lines.power: expected one of 'dtr', 'rts'; got 'cts'"),
        ("relay: {kind: dtr_rts, device: /dev/ttyUSB1, lines: {power: rts, reset: rts}}\n",
         "relay.lines: power and reset must use different lines"),
        ("relay: {kind: hid, channels: {power: 0}}\n",
         "relay.channels.power: expected a relay number 1..8 for relay.kind 'hid'; got 0"),
        ("relay: {kind: hid, channels: {power: 1}, device: /dev/hidraw0, serial: QAAMZ}\n",
         "relay.serial: give device or serial, not both"),
        ("relay: {kind: command}\n", "relay.commands: required when relay.kind is 'command'"),
        ("relay: {kind: command, commands: {}}\n",
         "relay.commands: expected power_on and power_off, power_cycle, or reset"),
        ("relay: {kind: command, commands: {power_on: 'true'}}\n",
         "relay.commands: give both power_on and power_off (or neither)"),
        ("relay: {kind: command, commands: {on: 'true', off: 'true'}}\n",
         "relay.commands: keys on/off read as YAML true/false; write power_on and power_off"),
        ("relay: {kind: command, commands: {reset: \"pdu 'reset\"}}\n",
         "relay.commands.reset: not a valid command line: No closing quotation"),
        ("relay: {kind: command, commands: {reset: '  '}}\n", "relay.commands.reset: expected a command; got an "
                                                             "empty string"),
        ("relay: {kind: command, commands: {reset: 'pdu -p ${PDU_PW}'}}\n",
         "relay.commands.reset: environment variable PDU_PW is not set"),
        ("relay: {reset_pulse_s: 0}\n", "relay.reset_pulse_s: expected a number of seconds > 0 and <= 10; got 0"),
        ("relay: {power_off_s: yes}\n", "relay.power_off_s: expected a number of seconds > 0 and <= 60; got true"),
        ("relay: {boot_s: 500}\n", "relay.boot_s: expected a number of seconds > 0 and <= 120; got 500"),
        ("relay: {timeout_s: soon}\n", "relay.timeout_s: expected a number of seconds > 0 and <= 600; got 'soon'"),
        ("relay: {kind: emulated, active_low: maybe}\n", "relay.active_low: expected true or false; got 'maybe'"),
    ],
)
def test_relay_driver_key_mistakes(rig_dir: Path, text: str, expected: str) -> None:
    assert error_of(write(rig_dir, text)).startswith("rig.yaml: " + expected)


def test_relay_command_lines_stay_unexpanded_and_timings_default_from_the_hardware_design(rig_dir: Path) -> None:
    from harness.rig.relay_schema import BOOT_S, POWER_OFF_S, RESET_PULSE_S

    path = write(rig_dir, "relay: {kind: command, commands: {reset: 'pdu --password ${PDU_PW} reset 3'}}\n")
    rig = load_rig(path, env={"PDU_PW": "hunter2"})
    assert rig.relay.commands is not None and rig.relay.commands.reset == "pdu --password ${PDU_PW} reset 3"
    assert "hunter2" not in str(rig.redacted_dump())
    assert (rig.relay.reset_pulse_s, rig.relay.power_off_s, rig.relay.boot_s) == (RESET_PULSE_S, POWER_OFF_S, BOOT_S)
    assert RESET_PULSE_S == 0.1


def test_usb_identity_port_is_accepted_and_a_bad_one_named(tmp_path):
    """dut.port may name the adapter by USB identity (harness/rig/port_finder.py)."""
    good = tmp_path / "usb.yaml"
    good.write_text("dut:\n  kind: serial\n  port: usb://2c7c:0700/ABC123\n")
    assert load_rig(good).dut.port == "usb://2c7c:0700/ABC123"
    bad = tmp_path / "bad.yaml"
    bad.write_text("dut:\n  kind: serial\n  port: usb://zz:1\n")
    with pytest.raises(RigError, match=r"bad.yaml: dut.port: expected usb://VID:PID"):
        load_rig(bad)


def test_several_duts_each_with_its_relay(tmp_path):
    rig = tmp_path / "two.yaml"
    rig.write_text("duts:\n"
                   "  - dut: {kind: serial, port: /dev/ttyUSB0}\n"
                   "  - dut: {kind: serial, port: /dev/ttyUSB1}\n"
                   "    relay: {kind: none}\n")
    cfg = load_rig(rig)
    assert [s.dut.port for s in cfg.duts] == ["/dev/ttyUSB0", "/dev/ttyUSB1"]
    assert cfg.for_worker(1, 2).dut.port == "/dev/ttyUSB1"
    assert cfg.for_worker(0, 1).dut.port == "/dev/ttyUSB0"
    with pytest.raises(ValueError, match=r"two.yaml: duts: 2 DUTs listed but 3 workers"):
        cfg.for_worker(0, 3)


def test_dut_and_duts_together_is_an_error(tmp_path):
    rig = tmp_path / "both.yaml"
    rig.write_text("dut: {kind: emulator}\nduts:\n  - dut: {kind: emulator}\n")
    with pytest.raises(RigError, match=r"both.yaml: duts: use either dut/relay"):
        load_rig(rig)


# -- firmware profiles, pyserial URLs, and where a value came from (issue 11, item 4) ----------


def test_unknown_firmware_in_the_file_names_the_file_the_key_and_every_profile(rig_dir: Path) -> None:
    text = error_of(write(rig_dir, "dut: {firmware: nope}\n"))
    assert text.startswith("rig.yaml: dut.firmware: unknown firmware profile 'nope' (known: conformant, ")
    assert all(name in text for name in profiles.known())


def test_unknown_firmware_option_names_the_option() -> None:
    text = error_of(ROOT / "rig.yaml", {"dut.firmware": "nope"})
    assert text.startswith("--firmware: unknown firmware profile 'nope' (known: ")


def test_every_known_firmware_profile_loads() -> None:
    for name in profiles.known():
        assert load_rig(ROOT / "rig.yaml", {"dut.firmware": name}, env={}).dut.firmware == name


@pytest.mark.parametrize(
    ("port", "expected"),
    [
        ("socket://127.0.0.1:1?logging=loud", "--port: not a URL pyserial can open: "),
        ("rfc2217://127.0.0.1:1?x=1", "--port: not a URL pyserial can open: "),
        ("loop://?bad=1", "--port: not a URL pyserial can open: "),
    ],
)
def test_port_url_pyserial_cannot_parse_is_an_option_error(port: str, expected: str) -> None:
    """Malformed is the option's fault (exit 4); a well-formed URL that does not open is the rig's (3)."""
    assert error_of(ROOT / "rig.yaml", {"dut.kind": "serial", "dut.port": port}).startswith(expected)


def test_port_url_options_pyserial_knows_are_accepted() -> None:
    for port in ("rfc2217://127.0.0.1:5000?ign_set_control&timeout=5", "socket://127.0.0.1:5000?logging=debug"):
        assert load_rig(ROOT / "rig.yaml", {"dut.kind": "serial", "dut.port": port}, env={}).dut.port == port


def test_origin_says_whether_the_option_or_the_file_gave_a_value(rig_dir: Path) -> None:
    rig = load_rig(ROOT / "rig.yaml", {"dut.kind": "serial", "dut.port": "socket://127.0.0.1:5000"}, env={})
    assert rig.origin("dut.port") == "--port"
    assert rig.origin("broker.kind") == f"{ROOT / 'rig.yaml'}: broker.kind"
    rig = load_rig(write(rig_dir, "dut: {kind: serial, port: 'socket://127.0.0.1:5000'}\n"), env={})
    assert (rig.origin("dut.port"), rig.path_as_given) == ("rig.yaml: dut.port", "rig.yaml")
    assert rig.for_worker(0, 1).origin("dut.port") == "rig.yaml: dut.port"
    two = load_rig(write(rig_dir, "duts:\n  - dut: {kind: serial, port: /dev/ttyUSB0}\n"
                                  "  - dut: {kind: serial, port: /dev/ttyUSB1}\n", "two.yaml"), env={})
    assert two.for_worker(1, 2).origin("dut.port") == "two.yaml: duts.1.dut.port"
