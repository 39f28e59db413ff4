"""Opening a pyserial URL with a real deadline and a one-line error."""

from __future__ import annotations

import re
import threading

import serial

from harness.at.errors import PortOpenError

READ_POLL_S = 0.05  # reader wakes this often to notice close()
WRITE_TIMEOUT_S = 5.0  # a DUT that stops reading must not hang the case


def open_port(url: str, baud: int, open_timeout: float) -> serial.SerialBase:
    """serial_for_url in a helper thread, so open_timeout holds even for a blackholed host."""
    if not url or not url.strip():
        raise PortOpenError(url, "empty URL")
    state: dict[str, object] = {}
    lock = threading.Lock()
    kwargs: dict[str, object] = {"baudrate": baud, "timeout": READ_POLL_S, "write_timeout": WRITE_TIMEOUT_S}
    if "://" not in url:
        kwargs["exclusive"] = True  # two channels on one UART interleave garbage; refuse instead

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
            return state["port"]  # type: ignore[return-value]
        if "error" in state:
            raise PortOpenError(url, _reason(str(state["error"])))
        state["abandoned"] = True
    raise PortOpenError(url, f"no connection within {open_timeout:g} s")



def _reason(msg: str) -> str:
    """pyserial repeats the port name and errno; keep the part a lab engineer acts on."""
    if "exclusively lock" in msg:
        return "port is in use by another program (could not lock it)"
    return re.sub(r"^(\[Errno \d+\] )?could not open port \S+: ", "", msg, flags=re.I)
