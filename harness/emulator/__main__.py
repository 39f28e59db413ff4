"""`python -m harness.emulator`: a BC660K-GL on the desk (DESIGN "Contracts").

Prints exactly one line on stdout, the pyserial URL to open, once it accepts input; serves
until SIGINT/SIGTERM (exit 0); logs go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import math
import os
import stat
import sys
from typing import NoReturn

from harness.emulator import profile_file, profiles
from harness.emulator.general import DEFAULT_IMEI, luhn_ok
from harness.emulator.network import DEFAULT_NETWORK, NetworkFileError, NetworkProfile
from harness.emulator.network import get as get_network
from harness.emulator.network import known as known_networks
from harness.emulator.network import use as use_network
from harness.emulator.server import Options, serve

UNIX_PATH_MAX = 107  # sun_path is 108 bytes on Linux, with the terminating NUL

EPILOG = """\
Without --pty or --tcp the emulator opens a pty (a module on the desk): open the printed
/dev/pts/N with any terminal or pyserial. --tcp serves one host connection at a time on
loopback; the module (its settings and connections) survives a host reconnect.
Firmware profiles: {profiles}; or the path of a profile file (TOML/JSON, harness/emulator/profile_file.py)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, exit 2: a bad argument is not a traceback or a usage wall."""
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _tcp(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def _scale(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return v


def _baud(text: str) -> int:
    if not text.isdigit() or not 300 <= int(text) <= 4_000_000:
        raise argparse.ArgumentTypeError(f"expected a baud rate 300..4000000, got {text!r}")
    return int(text)


def _imei(text: str) -> str:
    if len(text) != 15 or not luhn_ok(text):
        raise argparse.ArgumentTypeError(f"expected 15 digits with a valid check digit, got {text!r}")
    return text


def _control(text: str) -> str:
    if not text or len(os.fsencode(text)) > UNIX_PATH_MAX:
        raise argparse.ArgumentTypeError(f"expected a socket path of 1..{UNIX_PATH_MAX} bytes, got {text!r}")
    if os.path.exists(text) and not stat.S_ISSOCK(os.lstat(text).st_mode):
        raise argparse.ArgumentTypeError(f"{text!r} exists and is not a socket")
    return text


def _network(text: str) -> NetworkProfile:
    """A shipped network profile by name or a lab's profile file, checked before anything starts."""
    try:
        return get_network(text)
    except NetworkFileError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse(argv: list[str] | None = None) -> Options:
    p = _Parser(prog="python -m harness.emulator", description="Quectel BC660K-GL MQTT AT emulator.",
                epilog=EPILOG.format(profiles=", ".join(profiles.known())),
                formatter_class=argparse.RawDescriptionHelpFormatter)
    where = p.add_mutually_exclusive_group()
    where.add_argument("--pty", nargs="?", const="", metavar="LINK",
                       help="serve on a pty (the default); with LINK, also create the symlink "
                            "LINK -> /dev/pts/N (removed on exit) and print LINK")
    where.add_argument("--tcp", type=_tcp, metavar="HOST:PORT",
                       help="serve on TCP (PORT 0 picks a free port); prints socket://HOST:PORT")
    p.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --tcp HOST")
    p.add_argument("--time-scale", type=_scale, default=1.0, metavar="F",
                   help="one module second lasts F real seconds (default 1.0)")
    p.add_argument("--network", type=_network, default=DEFAULT_NETWORK, metavar="NAME|FILE",
                   help=f"the uplink to the broker: {'|'.join(known_networks())} (default {DEFAULT_NETWORK}) "
                        "or a profile file (TOML, see harness/emulator/networks/): latency, jitter, "
                        "bandwidth, loss on the scaled clock")
    p.add_argument("--firmware", default=profiles.DEFAULT_FIRMWARE, metavar="NAME|PATH",
                   help=f"firmware profile: a name (default {profiles.DEFAULT_FIRMWARE}) or a profile "
                        "file a lab wrote (.toml or .json, see harness/emulator/profile_file.py)")
    p.add_argument("--baud", type=_baud, default=115200, metavar="N", help="UART rate (default 115200)")
    p.add_argument("--pace", action="store_true", help="send output no faster than --baud allows")
    p.add_argument("--imei", type=_imei, default=DEFAULT_IMEI, help="IMEI for AT+CGSN")
    p.add_argument("--control", type=_control, metavar="PATH",
                   help="also serve the power/reset control socket (a Unix socket) at PATH")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log lines on stderr")
    a = p.parse_args(argv)
    try:
        profile_file.resolve(a.firmware)  # a profile file is validated here: its mistake is one line, exit 2
    except KeyError as exc:
        p.error(exc.args[0])
    except ValueError as exc:  # profile_file.ProfileFileError: "<file>: <key>: <problem>"
        p.error(str(exc))
    host, port = a.tcp if a.tcp else ("", 0)
    if a.tcp and not a.allow_remote and not _loopback(host):
        p.error(f"--tcp {host} is not a loopback address (add --allow-remote to serve it)")
    level = logging.DEBUG if a.verbose > 1 else logging.INFO if a.verbose else logging.WARNING
    # With -v the lines carry the milliseconds since start: a host connection's life is read in time.
    when = "+%(relativeCreated).0fms " if a.verbose else ""
    fmt = f"emulator {when}%(levelname)s: %(message)s"
    logging.basicConfig(level=level, stream=sys.stderr, format=fmt)
    # the bearer is the process's, not the module's: it stays across AT+QRST and power cycles
    use_network(a.network, a.time_scale)
    logging.getLogger("harness.emulator").info("network %s", a.network.describe())
    return Options(pty=a.tcp is None, link=a.pty or None, host=host, port=port,
                   time_scale=a.time_scale, firmware=a.firmware, baud=a.baud, pace=a.pace, imei=a.imei,
                   control=a.control)


def main(argv: list[str] | None = None) -> int:
    opts = parse(argv)
    try:
        return asyncio.run(serve(opts))
    except KeyboardInterrupt:  # a second Ctrl+C during shutdown
        return 0


if __name__ == "__main__":
    sys.exit(main())
