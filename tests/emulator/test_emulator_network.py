"""Issue 13 item 5: the emulator's uplink under `--network` (network.py, bearer.py).

The figures are module seconds on the scaled clock, so a case reads the profile and bounds what
it measures from below by latency x time scale: a host on NB-IoT sees its QMTOPEN, QMTCONN and
QMTPUB results at least a round trip later (the note's "Maximum Response Time ... determined by
network", 3.3.2-3.3.8). No case asserts an upper bound beyond its URC deadline: jitter, loss and
a busy CI machine only make things later. A network name or file that cannot be used is one
line and exit 2, as every bad emulator argument (DESIGN "Contracts"), before a URL is printed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from run_project import run

from harness.at.channel import ATChannel
from harness.broker.embedded import EmbeddedBroker
from harness.broker.observer import Observer
from harness.emulator import network
from harness.emulator.launcher import ROOT

pytestmark = pytest.mark.timeout(60)

SCALE = 0.2  # one module second is 200 ms: NB-IoT's one-way second is 200 ms here
NBIOT = network.get("nbiot")
ONE_WAY = NBIOT.latency_s * SCALE  # the least any chunk takes, each direction
WAIT = 10.0  # real seconds for any URC
EMULATOR_START = {"network": "nbiot"}  # tests/conftest.py's `emulator` (`at`, `amqtt_broker` there too)


def _timed(at: ATChannel, line: str, urc: str) -> tuple[list[int | str], float]:
    """`line` (OK expected), then its result URC: the URC's arguments and the real seconds
    from sending the command to the URC."""
    start = time.monotonic()
    assert at.command(line).ok, line
    args = at.wait_urc(urc, WAIT).args
    return args, time.monotonic() - start


# --- end to end: a real broker behind an NB-IoT link -----------------------------------------------


def test_nbiot_round_trips_are_seen(at: ATChannel, amqtt_broker: EmbeddedBroker) -> None:
    """3.3.2 open: SYN up, SYN-ACK down; 3.3.4 CONNECT/CONNACK; 3.3.8 PUBLISH/PUBACK: each result
    comes at least two one-way latencies after its command."""
    args, took = _timed(at, f'AT+QMTOPEN=0,"127.0.0.1",{amqtt_broker.port}', "+QMTOPEN")
    assert args == [0, 0] and took >= 2 * ONE_WAY, took
    args, took = _timed(at, 'AT+QMTCONN=0,"nbiot"', "+QMTCONN")
    assert args == [0, 0, 0] and took >= 2 * ONE_WAY, took
    args, took = _timed(at, 'AT+QMTPUB=0,1,1,0,"nb/t",5,"hello"', "+QMTPUB")
    assert args == [0, 1, 0] and took >= 2 * ONE_WAY, took
    assert at.command("AT+QMTDISC=0").ok
    assert at.wait_urc("+QMTDISC", WAIT).args == [0, 0]


def test_nbiot_message_reaches_the_broker_one_way_later(at: ATChannel, amqtt_broker: EmbeddedBroker) -> None:
    """A QoS 0 publish is "sent" when written (3.3.8 result 0 needs no ACK) but reaches the broker
    only one latency later: the observer sees it no earlier than that after the command."""
    obs = Observer(amqtt_broker.host, amqtt_broker.port).connect()
    try:
        obs.subscribe("nb/q0", 0)
        assert at.command(f'AT+QMTOPEN=0,"127.0.0.1",{amqtt_broker.port}').ok
        assert at.wait_urc("+QMTOPEN", WAIT).args == [0, 0]
        assert at.command('AT+QMTCONN=0,"nbiot-q0"').ok
        assert at.wait_urc("+QMTCONN", WAIT).args == [0, 0, 0]
        start = time.monotonic()
        assert at.command('AT+QMTPUB=0,0,0,0,"nb/q0",3,"one"').ok
        msg = obs.wait_message("nb/q0", WAIT)
        assert msg.payload == b"one" and time.monotonic() - start >= ONE_WAY
    finally:
        obs.close()


def test_nbiot_disconnect_reaches_the_broker(at: ATChannel, amqtt_broker: EmbeddedBroker) -> None:
    """3.3.5: the DISCONNECT still in flight when the module closes its side is delivered before
    the FIN (the will is not published, [MQTT-3.14.4-3]): the close waits behind the data."""
    obs = Observer(amqtt_broker.host, amqtt_broker.port).connect()
    try:
        obs.subscribe("nb/will", 0)
        assert at.command('AT+QMTCFG="will",0,1,0,0,"nb/will","gone"').ok
        assert at.command(f'AT+QMTOPEN=0,"127.0.0.1",{amqtt_broker.port}').ok
        assert at.wait_urc("+QMTOPEN", WAIT).args == [0, 0]
        assert at.command('AT+QMTCONN=0,"nbiot-will"').ok
        assert at.wait_urc("+QMTCONN", WAIT).args == [0, 0, 0]
        assert at.command("AT+QMTDISC=0").ok
        assert at.wait_urc("+QMTDISC", WAIT).args == [0, 0]
        obs.expect_no_message("nb/will", 8 * ONE_WAY)
    finally:
        obs.close()


# --- the profiles as data ------------------------------------------------------------------------


def test_shipped_profiles_name_their_sources() -> None:
    assert {"ideal", "nbiot", "nbiot-poor"} <= set(network.known())
    assert network.get("ideal").ideal
    for name in ("nbiot", "nbiot-poor"):
        p = network.get(name)
        assert p.latency_s >= 1.0 and 0 < p.bandwidth_kbps < 100, p  # seconds one way, tens of kbit/s at most
        assert set(network.FIGURES) <= set(p.sources), p.sources


BAD = {
    "not TOML": ("latency_s = = 1", "not TOML"),
    "missing figure": ("latency_s = 1\njitter_s = 0\nbandwidth_kbps = 0\nloss = 0\n", "retransmit_s: missing"),
    "negative": ("latency_s = -1\njitter_s = 0\nbandwidth_kbps = 0\nloss = 0\nretransmit_s = 0\n",
                 "latency_s: expected a number >= 0"),
    "loss 1": ("latency_s = 0\njitter_s = 0\nbandwidth_kbps = 0\nloss = 1\nretransmit_s = 0\n"
               "[sources]\nloss = 'x'\n", "loss: expected a probability below 1"),
    "no source": ("latency_s = 2\njitter_s = 0\nbandwidth_kbps = 0\nloss = 0\nretransmit_s = 0\n",
                  "no source for latency_s"),
    "unknown key": ("latency_ms = 2\n", "latency_ms: unknown key"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_broken_profile_file_is_one_line(tmp_path: Path, case: str) -> None:
    text, why = BAD[case]
    path = tmp_path / "lab.toml"
    path.write_text(text)
    with pytest.raises(network.NetworkFileError) as err:
        network.get(str(path))
    assert why in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)


def test_lab_profile_file_is_used(tmp_path: Path) -> None:
    path = tmp_path / "lab.toml"
    path.write_text('name = "lab"\nlatency_s = 0.5\njitter_s = 0\nbandwidth_kbps = 0\nloss = 0\n'
                    'retransmit_s = 0\n[sources]\nlatency_s = "measured on our rig"\n')
    p = network.get(str(path))
    assert (p.name, p.latency_s, p.ideal) == ("lab", 0.5, False)


@pytest.mark.parametrize("arg", ["no-such-network", "/nonexistent/lab.toml", "BROKEN"])
def test_cli_refuses_unusable_network_in_one_line(tmp_path: Path, arg: str) -> None:
    """DESIGN "Contracts": a bad argument is one line on stderr, exit 2, and no URL on stdout."""
    if arg == "BROKEN":
        arg = str(tmp_path / "broken.toml")
        Path(arg).write_text("latency_s = 'slow'\n")
    r = subprocess.run([sys.executable, "-m", "harness.emulator", "--tcp", "127.0.0.1:0", "--network", arg],
                       cwd=ROOT, capture_output=True, text=True, timeout=20)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and r.stdout == "" and len(lines) == 1, (r.returncode, r.stdout, r.stderr)
    assert "--network" in lines[0] and ("unknown network" in lines[0] or "network file" in lines[0])


def test_plugin_refuses_unusable_network_in_one_line(report_dir: Path) -> None:
    """DESIGN "Contracts": an option that is wrong is exit 4, with one line naming the option."""
    r = run(ROOT, "suites/test_general.py", "-q", "--network", "no-such-network", "--report-dir", str(report_dir),
            timeout=60)
    errors = [ln for ln in (r.stdout + r.stderr).splitlines() if ln.startswith("ERROR:")]
    assert r.returncode == 4 and len(errors) == 1, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    assert errors[0].startswith("ERROR: --network: unknown network 'no-such-network'"), errors
