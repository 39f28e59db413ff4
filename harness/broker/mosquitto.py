"""A local mosquitto (Debian's 2.0.x) as the second real broker, with EmbeddedBroker's surface.

Why a second broker: amqtt 0.12.1 deviates from MQTT 3.1.1 where end-to-end cases look (no
keep-alive enforcement, no MQTT 3.1, no PUBCOMP for a retried PUBREL, no QoS downgrade; see
embedded.py). mosquitto gets those right, so ``--broker mosquitto`` lets the cases that need them
run. Its own limit: a second duplicate QoS 2 PUBLISH before PUBREL closes the connection
(eclipse-mosquitto/mosquitto issue #3602, a side effect of a CVE fix) - ``duplicate_qos2_limit``.

How it is run, and why:

- A generated ``mosquitto.conf`` in a private temporary directory, one ``listener`` per port with
  ``per_listener_settings true`` so plain and TLS listeners carry their own auth settings.
  ``persistence false``: a run never inherits another run's sessions. Logging goes to a file there;
  the last line of it is quoted when mosquitto refuses to start.
- mosquitto cannot bind port 0 and report the port back, so port 0 means: pick a free port, start,
  and when mosquitto says "Address already in use" (someone took it meanwhile) pick again.
- The password file is written here in the PBKDF2-SHA512 format mosquitto 2 reads
  (``user:$7$<iterations>$<salt b64>$<hash b64>``, as ``mosquitto_passwd`` writes it) rather than by
  ``mosquitto_passwd -b``, which would put the password on a command line that ``ps`` shows.
- Run as root, mosquitto switches to the ``mosquitto`` user, which cannot read a 0600 key made by
  the test's user; ``user`` is therefore set to whoever runs the harness.
- Ready means: the log says "running" and every listener accepts a TCP connection, within a deadline.
  Stop is SIGTERM, then SIGKILL after a deadline; a finalizer kills a broker its owner forgot.
- It dies with the run (harness/children.py): a session of its own (a terminal's Ctrl-C to the
  harness's group does not stop it before the harness does), SIGTERM from the kernel when the thread
  that started it ends (start it from a long-lived thread), an exit hook for one nobody stopped.
  Its directory is ``/tmp/bc660k-mosquitto-*`` with its owner's pid in it: a directory left by a
  SIGKILLed harness is removed by the next start.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import ipaddress
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import IO, ClassVar

from harness import children
from harness.broker.errors import BrokerError
from harness.broker.lifecycle import RestartableBroker, capability_table
from harness.pki.files import TlsFiles

__all__ = ["INSTALL_HINT", "MosquittoBroker", "find_mosquitto", "missing_reason"]

_PREFIX = "mosquitto broker"
INSTALL_HINT = "apt-get install -y --no-install-recommends mosquitto mosquitto-clients"
# Debian installs the broker in /usr/sbin, which a non-root user's PATH usually lacks.
SBIN_DIRS: tuple[str, ...] = ("/usr/sbin", "/usr/local/sbin")
_PORT_ATTEMPTS = 5
_PBKDF2_ITERATIONS = 101  # mosquitto_passwd's default; mosquitto reads the count from the file
_TIMESTAMP = re.compile(r"^\d+: ")
DIR_PREFIX = "bc660k-mosquitto-"


def find_mosquitto() -> str | None:
    """The mosquitto binary on PATH, else in the sbin directories Debian uses; None when absent."""
    path = os.environ.get("PATH", os.defpath)
    return shutil.which("mosquitto", path=os.pathsep.join([path, *SBIN_DIRS]))


def missing_reason() -> str | None:
    """One line saying how to install mosquitto when it is missing (a skip reason); None when present."""
    if find_mosquitto() is not None:
        return None
    where = " nor in " + ", ".join(SBIN_DIRS) if SBIN_DIRS else ""
    return f"mosquitto is not installed (not on PATH{where}): install it with `{INSTALL_HINT}`"


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _hash_password(password: str) -> str:
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _PBKDF2_ITERATIONS)
    return f"$7${_PBKDF2_ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def _last_line(*files: Path) -> str:
    """The last non-empty line across mosquitto's log and its stderr, without the timestamp."""
    for path in files:
        with contextlib.suppress(OSError):
            lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
            if lines:
                return _TIMESTAMP.sub("", lines[-1])
    return "no log output"


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)


def _stop_at_exit(process: subprocess.Popen[bytes], work: Path) -> None:
    """The exit hook's stop of a broker nobody stopped (holds no reference to the broker)."""
    children.terminate(process)
    shutil.rmtree(work, ignore_errors=True)


class MosquittoBroker(RestartableBroker):
    """mosquitto on loopback as a subprocess, started and stopped from synchronous code."""

    kind = "mosquitto"
    # Same keys as EmbeddedBroker.CAPABILITIES, each checked on the wire in tests/broker/test_mosquitto.py: what
    # MQTT 3.1.1 asks of a server (clean_session=0 kept while the broker runs, persistence off) and:
    # keepalive_enforced: a silent client is closed, its will published - but mosquitto 2.0 looks only every
    # ~6 s (keepalive.c: "last_check + 5 < now" in whole seconds, and keepalive*3/2 in integer arithmetic),
    # so the close comes up to ~6 s after 1.5 x keep-alive. Real seconds: the emulator's time scale does not
    # apply.
    CAPABILITIES: ClassVar[dict[str, bool | int]] = capability_table(
        mqtt31=True,  # MQIsdp / level 3 CONNECT gets CONNACK 0
        # QoS 2 PUBLISH retransmissions (same packet id, before PUBREL) answered with PUBREC; the
        # next one closes the connection (mosquitto issue #3602). A DUT retrying more often than
        # this loses its connection to mosquitto, not to a conforming broker.
        duplicate_qos2_limit=1,
    )

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, tls: TlsFiles | None = None,
                 tls_port: int = 0, require_certificate: bool = False,
                 users: Mapping[str, str] | None = None, allow_anonymous: bool = True,
                 binary: str | None = None) -> None:
        for name, value in (("port", port), ("tls_port", tls_port)):
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 65535:
                raise BrokerError(f"{_PREFIX}: {name} must be an integer 0..65535, got {value!r}")
        try:
            self.host = str(ipaddress.IPv4Address(host))
        except ValueError:
            if host != "localhost":
                raise BrokerError(f"{_PREFIX}: host must be an IPv4 address or localhost, got {host!r}") from None
            self.host = "127.0.0.1"  # one address: `localhost` could also mean ::1
        for user in users or {}:
            if not user or any(c in user for c in ":\n\r"):
                raise BrokerError(f"{_PREFIX}: user name {user!r} cannot go in a mosquitto password file")
        self._tls = tls
        self._require_certificate = bool(require_certificate or (tls and tls.require_client_cert))
        self._requested = (port, tls_port)
        self.port = port
        self.tls_port: int | None = None
        self._users = dict(users) if users is not None else None
        self._allow_anonymous = allow_anonymous
        self._binary = binary
        self.version: str | None = None
        self.capabilities: dict[str, bool | int] = dict(self.CAPABILITIES)
        self.capabilities["mtls_required"] = self._require_certificate and tls is not None
        self._process: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[..., MosquittoBroker] | None = None
        self._tmpdir: Path | None = None
        self._exit_key: int | None = None  # in the children registry while the process runs
        self._stderr: IO[bytes] | None = None
        self._last_ports: tuple[int, int] | None = None  # (port, tls_port or 0) of the last good start
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def log_path(self) -> Path | None:
        """mosquitto's log of this run (connections, refusals); gone after stop()."""
        return self._tmpdir / "mosquitto.log" if self._tmpdir is not None else None

    def start(self, timeout: float = 10.0) -> MosquittoBroker:
        """Start mosquitto and return once every listener accepts connections."""
        with self._lock:
            if self._process is not None:
                raise BrokerError(f"{_PREFIX}: already running on {self.host}:{self.port}")
            self._check_tls_files()  # the caller's mistakes first: they stand whether or not mosquitto is there
            binary = self._binary or find_mosquitto()
            if binary is None:
                raise BrokerError(f"{_PREFIX}: {missing_reason()}")
            children.sweep_stale(DIR_PREFIX)  # the directories of SIGKILLed harnesses
            self._tmpdir = children.private_dir(DIR_PREFIX)
            try:
                for attempt in range(_PORT_ATTEMPTS):
                    if self._launch(binary, time.monotonic() + timeout):
                        return self
                    if 0 not in self._requested or attempt == _PORT_ATTEMPTS - 1:
                        raise BrokerError(f"{_PREFIX}: cannot listen on {self._busy()}: address in use")
            except BaseException:
                self._teardown(timeout)
                raise
            raise AssertionError("unreachable")

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, SIGKILL after ``timeout``; removes the config, keys' copies and log. Idempotent."""
        with self._lock:
            self._teardown(timeout)

    # restart(), the context manager and repr: lifecycle.RestartableBroker (killed or crashed:
    # started again on the ports it had; its sessions are gone, ``persistence false``)

    # -- internals ---------------------------------------------------------------------------------

    def _pin_ports(self, ports: tuple[int, int]) -> None:
        self._requested = ports

    def _label(self) -> str:
        return self.version or ""

    def _check_tls_files(self) -> None:
        if self._tls is None:
            if self._require_certificate:
                raise BrokerError(f"{_PREFIX}: require_certificate needs a TLS listener (tls=TlsFiles(...))")
            return
        for field in ("certfile", "keyfile", "cafile"):
            path = getattr(self._tls, field)
            if path is not None and not Path(path).is_file():
                raise BrokerError(f"{_PREFIX}: TLS {field} not found: {path}")
        if self._require_certificate and self._tls.cafile is None:
            raise BrokerError(f"{_PREFIX}: require_certificate needs a cafile to verify clients against")

    def _busy(self) -> str:
        return f"{self.host}:{self.port}" + (f" or {self.host}:{self.tls_port}" if self._tls else "")

    def _launch(self, binary: str, deadline: float) -> bool:
        """One start attempt; False when a listener's port was taken (the caller may pick again)."""
        assert self._tmpdir is not None
        work = self._tmpdir
        self.port = self._requested[0] or _free_port(self.host)
        self.tls_port = (self._requested[1] or _free_port(self.host)) if self._tls else None
        log, err = work / "mosquitto.log", work / "stderr.log"
        log.unlink(missing_ok=True)
        conf = work / "mosquitto.conf"
        conf.write_text(self._config(work, log))
        self._stderr = err.open("wb")
        try:
            process = children.popen([binary, "-c", str(conf)], stdin=subprocess.DEVNULL,
                                     stdout=self._stderr, stderr=subprocess.STDOUT, close_fds=True)
        except OSError as exc:
            raise BrokerError(f"{_PREFIX}: cannot run {binary}: {exc.strerror or exc}") from None
        self._process = process
        self._finalizer = weakref.finalize(self, _kill, process)
        self._exit_key = children.register(functools.partial(_stop_at_exit, process, work))
        ports = [p for p in (self.port, self.tls_port) if p is not None]
        while True:
            code = process.poll()
            if code is not None:
                last = _last_line(log, err)
                self._reap()
                if "address already in use" in last.lower():
                    return False
                raise BrokerError(f"{_PREFIX}: exited with status {code} at start: {last}")
            if self._logged_running(log) and all(self._accepts(p) for p in ports):
                self.version = self._logged_version(log)
                self._last_ports = (self.port, self.tls_port or 0)
                return True
            if time.monotonic() > deadline:
                last = _last_line(log, err)
                raise BrokerError(f"{_PREFIX}: not listening on {self._busy()} within the deadline; last log: {last}")
            time.sleep(0.02)  # poll interval of the readiness wait, bounded by the deadline above

    def _config(self, work: Path, log: Path) -> str:
        lines = [
            "# generated by harness/broker/mosquitto.py for one test session",
            "per_listener_settings true",
            "persistence false",
            f"log_dest file {log}",
            *(f"log_type {t}" for t in ("error", "warning", "notice", "information")),
            "connection_messages true",
            f"user {pwd.getpwuid(os.geteuid()).pw_name}",
        ]
        passwd: Path | None = None
        if self._users is not None:
            passwd = work / "passwd"
            fd = os.open(passwd, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.writelines(f"{u}:{_hash_password(p)}\n" for u, p in self._users.items())

        def auth() -> list[str]:
            return [f"allow_anonymous {'true' if self._allow_anonymous else 'false'}",
                    *([f"password_file {passwd}"] if passwd else [])]

        lines += ["", f"listener {self.port} {self.host}", *auth()]
        if self._tls is not None:
            lines += ["", f"listener {self.tls_port} {self.host}", *auth(),
                      f"certfile {self._tls.certfile}", f"keyfile {self._tls.keyfile}"]
            if self._tls.cafile is not None:
                lines.append(f"cafile {self._tls.cafile}")
            lines.append(f"require_certificate {'true' if self._require_certificate else 'false'}")
        return "\n".join(lines) + "\n"

    @staticmethod
    def _logged_running(log: Path) -> bool:
        with contextlib.suppress(OSError):
            return " running" in log.read_text(errors="replace")
        return False

    @staticmethod
    def _logged_version(log: Path) -> str | None:
        with contextlib.suppress(OSError):
            found = re.search(r"mosquitto version (\S+)", log.read_text(errors="replace"))
            return found.group(1) if found else None
        return None

    def _accepts(self, port: int) -> bool:
        try:
            with socket.create_connection((self.host, port), timeout=0.5):
                return True
        except OSError:
            return False

    def _reap(self, timeout: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        children.unregister(self._exit_key)
        self._exit_key = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def _teardown(self, timeout: float) -> None:
        self._reap(timeout)
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None
        self.port, self.tls_port = self._requested[0], None
