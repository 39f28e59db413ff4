"""Opening a pyserial URL with a real deadline and a one-line error."""

from __future__ import annotations

import contextlib
import logging
import re
import select
import socket
import threading

import serial

from harness.at.errors import PortOpenError

READ_POLL_S = 0.05  # reader wakes this often to notice close()
READ_CHUNK = 65536  # most bytes one read hands to the framer
WRITE_TIMEOUT_S = 5.0  # a DUT that stops reading must not hang the case
NO_CONTROL_ACK = "waiting for option 'control'"  # pyserial's rfc2217 open, SET_CONTROL unanswered
IGN_SET_CONTROL = "ign_set_control"

log = logging.getLogger("harness.at")
_no_modem_lines: set[str] = set()  # rfc2217 URLs whose server proved it never acks SET_CONTROL


def open_port(url: str, baud: int, open_timeout: float) -> serial.SerialBase:
    """Open `url`; an `rfc2217://` server that never acknowledges DTR/RTS is opened again with
    `?ign_set_control` (the form labgrid always uses), said once in the log.

    Why not stop: pyserial sets DTR and RTS at open and waits for the server's answer, and a server
    port without modem lines (ser2net exporting a pty or a 3-wire adapter: TIOCMSET fails) never
    answers, though the data path works. With the option pyserial still sends DTR/RTS and only
    stops waiting for the acknowledgement, so a dtr_rts relay behind a port that has the lines
    works as before. `port.port` names the URL actually opened (the transcript records it)."""
    if _scheme(url) == "rfc2217" and url in _no_modem_lines:
        return _open(_with_ign_set_control(url), baud, open_timeout)
    try:
        return _open(url, baud, open_timeout)
    except PortOpenError as e:
        if not (_scheme(url) == "rfc2217" and NO_CONTROL_ACK in e.raw and IGN_SET_CONTROL not in url):
            raise
    _no_modem_lines.add(url)
    log.warning("%s: the RFC 2217 server does not acknowledge DTR/RTS (its port has no modem lines); "
                "opened with ?%s, as labgrid does", url, IGN_SET_CONTROL)
    return _open(_with_ign_set_control(url), baud, open_timeout)


def _with_ign_set_control(url: str) -> str:
    return url + ("&" if "?" in url else "?") + IGN_SET_CONTROL


def _open(url: str, baud: int, open_timeout: float) -> serial.SerialBase:
    """serial_for_url in a helper thread, so open_timeout holds even for a blackholed host."""
    if not url or not url.strip():
        raise PortOpenError(url, "empty URL")
    state: dict[str, object] = {}
    lock = threading.Lock()
    kwargs: dict[str, object] = {"baudrate": baud, "timeout": READ_POLL_S, "write_timeout": WRITE_TIMEOUT_S}
    if _scheme(url) == "rfc2217":
        # pyserial's rfc2217 driver refuses write_timeout ("currently not supported"); its socket
        # is opened with a 5 s timeout, so a write to a peer that stopped reading ends there anyway.
        del kwargs["write_timeout"]
    if "://" not in url:
        kwargs["exclusive"] = True  # two channels on one UART interleave garbage; refuse instead
    if _is_socket_url(url):
        kwargs["timeout"] = 0  # read_some waits with select: a read then takes what is there

    def target() -> None:
        try:
            port = serial.serial_for_url(url, **kwargs)
        except Exception as e:  # pyserial raises SerialException, ValueError, OSError...
            state["error"] = e
            return
        with lock:
            if state.get("abandoned"):
                port.close()
            else:
                state["port"] = port

    t = threading.Thread(target=target, name=f"at-open {url}", daemon=True)
    t.start()
    t.join(open_timeout)
    with lock:
        if "port" in state:
            port: serial.SerialBase = state["port"]  # type: ignore[assignment]
            if _is_socket_url(url):
                _no_delay(port)
            return port
        if "error" in state:
            raw = str(state["error"])
            err = PortOpenError(url, _reason(raw, url))
            err.raw = raw
            raise err
        state["abandoned"] = True
    raise PortOpenError(url, f"no connection within {open_timeout:g} s")


def _reason(msg: str, url: str = "") -> str:
    """pyserial repeats the port name and errno; keep the part a lab engineer acts on."""
    if "exclusively lock" in msg:
        return "port is in use by another program (could not lock it)"
    if NO_CONTROL_ACK in msg and _scheme(url) == "rfc2217":
        return "the RFC 2217 server did not acknowledge setting DTR/RTS, even with ?ign_set_control"
    return re.sub(r"^(\[Errno \d+\] )?could not open port \S+: ", "", msg, flags=re.I)


def _no_delay(port: serial.SerialBase) -> None:
    """A command line goes out at once, not 40 ms later behind an unacknowledged one (Nagle):
    a UART has no such delay, and the resync's <ESC><CR> then AT must not be held back."""
    with contextlib.suppress(OSError, AttributeError), \
            socket.fromfd(port.fileno(), socket.AF_INET, socket.SOCK_STREAM) as dup:  # a dup: closed here
        dup.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _scheme(url: str) -> str:
    head, sep, _ = url.strip().partition("://")
    return head.lower() if sep else ""


def _is_socket_url(url: str) -> bool:
    return _scheme(url) == "socket"


def read_some(port: serial.SerialBase) -> bytes:
    """Wait up to READ_POLL_S for input, then return all that is there (at most READ_CHUNK).

    pyserial's socket:// `in_waiting` is 0 or 1 (a select, not a byte count), so the usual
    read(1) + read(in_waiting) takes two bytes per round there: a 1 MB line became half a
    million reads. A socket port is opened non-blocking (timeout 0) and waited on with select
    here instead; then one read takes everything the socket holds. Every other port (a UART, a
    pty, rfc2217://, loop://) counts its input bytes, and read(1) + read(in_waiting) is right.
    """
    if getattr(port, "port", None) is not None and _is_socket_url(str(port.port)) and port.timeout == 0:
        ready, _, _ = select.select([port.fileno()], [], [], READ_POLL_S)
        return port.read(READ_CHUNK) if ready else b""
    data = port.read(1)
    if data:
        n = port.in_waiting
        if n:
            data += port.read(min(n, READ_CHUNK))
    return data
