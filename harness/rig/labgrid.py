"""A labgrid place as the rig: acquire it, take its serial port, drive its power, release it.

labgrid (26.x) depends on the ``pyserial-labgrid`` fork, which clashes with our pinned
``pyserial==3.5`` in one venv (labgrid #1245), so the harness never imports labgrid: it runs
``labgrid-client`` from labgrid's own venv (``make labgrid`` builds ``.venv-labgrid`` from
tools/labgrid/requirements.txt) as a subprocess, one command per action, and reads its output.

- **acquire**: ``labgrid-client -p PLACE acquire``; while another user holds the place, poll until
  ``labgrid.acquire_timeout_s`` and say once who holds it. With ``labgrid.reserve`` (tags such as
  ``dut: bc660k-gl``) a reservation is made first (``reserve --wait``) and its place (``-p +`` with
  ``LG_TOKEN``) is acquired; the reservation is cancelled at release.
- **serial port**: ``labgrid-client -c ENV -p PLACE export --format shell-export FILE`` with an
  environment naming a SerialDriver for the place writes ``LG__SERIALDRIVER_HOST/PORT/PROTOCOL``;
  ``raw`` becomes ``socket://HOST:PORT``, ``rfc2217`` ``rfc2217://HOST:PORT?ign_set_control`` (the
  form labgrid's own SerialDriver opens). The port is read again after every power cycle: an
  exporter may serve it on a new TCP port then (labgrid #1387).
- **power**: ``labgrid-client -p PLACE power on|off|cycle [-t OFF_S]``: every labgrid power driver
  works (the relay kind ``labgrid``, harness/rig/relay/labgrid_relay.py).
- **release**: ``labgrid-client -p PLACE release``; the session's teardown calls it, also when the run
  ends on SIGTERM or Ctrl-C (both become KeyboardInterrupt and fixtures are torn down).

Every failure is a LabgridError whose text is one line naming the place and the command.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LABGRID_VENV = ROOT / ".venv-labgrid"
CLIENT_ENV = "BC660K_LABGRID_CLIENT"  # an explicit labgrid-client, over the venv's and PATH's
COMMAND_TIMEOUT_S = 30.0  # one labgrid-client command; the coordinator answers in milliseconds
POLL_S = 1.0  # how often a held place is asked for again
STDERR_TAIL = 300
_HELD = re.compile(r"already acquired by (\S+?)\.? ", re.I)


class LabgridError(Exception):
    """A labgrid action failed; str() is one line."""


class PlaceHeld(LabgridError):
    """The place stayed acquired by someone else until the deadline."""


def find_tool(name: str = "labgrid-client", client: str | None = None) -> str | None:
    """labgrid-client (or -coordinator, -exporter): the rig file's labgrid.client, $BC660K_LABGRID_CLIENT,
    labgrid's venv (make labgrid), then PATH. The other tools are looked up beside the client."""
    explicit = client or os.environ.get(CLIENT_ENV)
    if explicit:
        path = Path(explicit)
        if name != "labgrid-client":
            path = path.with_name(name)
        return str(path) if path.exists() else None
    venv = LABGRID_VENV / "bin" / name
    if venv.exists():
        return str(venv)
    return shutil.which(name)


def missing_reason() -> str | None:
    """Why labgrid cannot be used here (None: it can)."""
    if find_tool() is None:
        return ("labgrid-client not found: build labgrid's venv with `make labgrid` (tools/labgrid/requirements.txt), "
                f"or set {CLIENT_ENV}")
    return None


def port_url(exported: Mapping[str, str]) -> str:
    """The pyserial URL of labgrid's exported SerialDriver variables."""
    host, port = exported.get("LG__SERIALDRIVER_HOST"), exported.get("LG__SERIALDRIVER_PORT")
    protocol = exported.get("LG__SERIALDRIVER_PROTOCOL", "rfc2217")
    if not host or not port:
        raise LabgridError("the place exports no serial port (no NetworkSerialPort among its resources?)")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    if protocol == "raw":
        return f"socket://{host}:{port}"
    if protocol == "rfc2217":
        return f"rfc2217://{host}:{port}?ign_set_control"
    raise LabgridError(f"the place's serial port speaks {protocol!r}; expected raw or rfc2217")


def parse_shell_export(text: str) -> dict[str, str]:
    """`export NAME=VALUE` lines (values shell-quoted) as a mapping."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            k, _, v = words[1].partition("=")
            out[k] = v
    return out


@dataclass
class Place:
    """One labgrid place as the harness uses it. ``name`` None with ``reserve`` tags: the place the
    coordinator allocates to the reservation (known after acquire)."""

    coordinator: str
    name: str | None = None
    reserve: dict[str, str] = field(default_factory=dict)
    client: str | None = None
    timeout_s: float = COMMAND_TIMEOUT_S
    acquired: bool = field(default=False, init=False)
    token: str | None = field(default=None, init=False)
    _tmp: Path | None = field(default=None, init=False, repr=False)

    @property
    def label(self) -> str:
        what = self.name or ("reservation " + " ".join(f"{k}={v}" for k, v in self.reserve.items()))
        return f"labgrid place {what} at {self.coordinator}"

    # -- running labgrid-client -------------------------------------------------------------------

    def argv(self, *args: str, place: bool = True) -> list[str]:
        tool = find_tool("labgrid-client", self.client)
        if tool is None:
            raise LabgridError(f"{self.label}: {missing_reason()}")
        head = [tool, "-x", self.coordinator]
        if place:
            head += ["-p", self.name or "+"]
        return [*head, *args]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("LG_PLACE", "LG_ENV", "LG_STATE")}
        if self.token:
            env["LG_TOKEN"] = self.token
        return env

    def run(self, *args: str, place: bool = True, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        argv = self.argv(*args, place=place)
        wait = self.timeout_s if timeout is None else timeout
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, env=self.env(), start_new_session=True)
        except OSError as exc:
            raise LabgridError(f"{self.label}: cannot run {argv[0]}: {exc.strerror or exc}") from None
        try:
            out, err = proc.communicate(timeout=wait)
        except BaseException as exc:  # a timeout, or an interrupt: the client goes with us
            _kill(proc)
            if isinstance(exc, subprocess.TimeoutExpired):
                raise LabgridError(f"{self.label}: labgrid-client {args[0]} did not finish within {wait:g} s "
                                   "(coordinator unreachable?)") from None
            raise
        return subprocess.CompletedProcess(argv, proc.returncode, out, err)

    def check(self, *args: str, place: bool = True, timeout: float | None = None) -> str:
        proc = self.run(*args, place=place, timeout=timeout)
        if proc.returncode != 0:
            raise LabgridError(f"{self.label}: labgrid-client {' '.join(args[:2])} failed: {_tail(proc)}")
        return proc.stdout

    # -- the place's life -------------------------------------------------------------------------

    def acquire(self, wait_s: float, on_wait: Callable[[str], None] | None = None) -> None:
        """Acquire the place, waiting up to ``wait_s`` while someone else holds it (``on_wait`` is
        told once who). PlaceHeld when it stays held; LabgridError for anything else."""
        deadline = time.monotonic() + wait_s
        if self.reserve and self.token is None:
            self._reserve(wait_s)
        told = False
        while True:
            proc = self.run("acquire")
            if proc.returncode == 0:
                self.acquired = True
                if self.name is None:
                    self.name = self._reserved_name()
                return
            text = (proc.stderr + proc.stdout)
            held = _HELD.search(text)
            if held is None:
                raise LabgridError(f"{self.label}: cannot acquire: {_tail(proc)}")
            holder = held.group(1)
            if time.monotonic() >= deadline:
                raise PlaceHeld(f"{self.label} is acquired by {holder} and was not released within {wait_s:g} s "
                                "(labgrid.acquire_timeout_s); ask them to run: "
                                f"labgrid-client -x {self.coordinator} -p {self.name or '+'} release")
            if not told and on_wait is not None:
                on_wait(f"waiting for {self.label}: acquired by {holder} (up to {wait_s:g} s)")
                told = True
            time.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))

    def _reserve(self, wait_s: float) -> None:
        tags = [f"{k}={v}" for k, v in self.reserve.items()]
        out = self.check("reserve", "--shell", "--wait", *tags, place=False, timeout=wait_s + self.timeout_s)
        self.token = parse_shell_export(out).get("LG_TOKEN")
        if not self.token:
            raise LabgridError(f"{self.label}: reserve printed no LG_TOKEN: {out.strip()[:STDERR_TAIL]}")

    def _reserved_name(self) -> str:
        m = re.search(r"Place '([^']+)'", self.check("show"))
        if m is None:
            raise LabgridError(f"{self.label}: cannot tell which place the reservation got")
        return m.group(1)

    def release(self) -> None:
        """Release the place (and cancel the reservation); idempotent, never raises past a
        failed client: a release that fails leaves a note on stderr, the run's verdicts stand."""
        try:
            if self.acquired:
                self.acquired = False
                proc = self.run("release")
                if proc.returncode != 0:
                    print(f"{self.label}: release failed: {_tail(proc)}", file=sys.stderr)
            if self.token:
                token, self.token = self.token, None
                self.run("cancel-reservation", token, place=False)
        except LabgridError as exc:
            print(f"{exc}", file=sys.stderr)
        finally:
            if self._tmp is not None:
                shutil.rmtree(self._tmp, ignore_errors=True)
                self._tmp = None

    # -- resources --------------------------------------------------------------------------------

    def serial_url(self, timeout: float | None = None) -> str:
        """The place's NetworkSerialPort as a pyserial URL, read now (it can move after a power cycle).

        ``export`` writes its file, then stays until SIGTERM: it is stopped as soon as the file is there."""
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="bc660k-labgrid-"))
        env_file, out = self._tmp / "env.yaml", self._tmp / "export.sh"
        name = self.name or "+"
        env_file.write_text(f"targets:\n  {_yaml_str(name)}:\n    resources:\n      RemotePlace:\n"
                            f"        name: {_yaml_str(name)}\n    drivers:\n      SerialDriver: {{}}\n")
        out.unlink(missing_ok=True)
        argv = self.argv("-c", str(env_file), "export", "--format", "shell-export", str(out), place=False)
        argv[3:3] = ["-p", name]
        wait = self.timeout_s if timeout is None else timeout
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True, env=self.env(), start_new_session=True)
        try:
            end = time.monotonic() + wait
            while not (out.exists() and out.stat().st_size) and proc.poll() is None and time.monotonic() < end:
                time.sleep(0.05)
            text = out.read_text() if out.exists() else ""
        finally:
            _kill(proc, signal.SIGTERM)
        if not text:
            err = (proc.stderr.read() if proc.stderr else "").strip()
            raise LabgridError(f"{self.label}: export wrote no serial port within {wait:g} s: "
                               f"{' '.join(err.split())[-STDERR_TAIL:] or 'no output'}")
        if proc.stderr:
            proc.stderr.close()
        return port_url(parse_shell_export(text))

    def power(self, action: str, off_s: float | None = None) -> None:
        args = ["power", action]
        if off_s is not None and action == "cycle":
            args += ["-t", f"{off_s:g}"]
        self.check(*args, timeout=self.timeout_s + (off_s or 0.0))

    def show(self) -> str:
        return self.check("show")


def _yaml_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _tail(proc: subprocess.CompletedProcess[str]) -> str:
    text = " ".join((proc.stderr or proc.stdout or "").split())
    text = text.removeprefix("labgrid-client: ").removeprefix("Error: ")
    return (text[-STDERR_TAIL:] or f"exit status {proc.returncode}")


def _kill(proc: subprocess.Popen[str], sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
