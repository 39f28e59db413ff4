"""A fake network PDU speaking what labgrid's `simplerest` power model speaks, for the loopback lab.

labgrid's NetworkPowerDriver (model simplerest, labgrid/driver/power/simplerest.py) is configured
with a URL template such as ``http://127.0.0.1:PORT/outlet/{index}/{value}``:

- switch: ``GET /outlet/<index>/<value>`` with value ``1`` (on) or ``0`` (off); any 2xx is success;
- state:  ``GET /outlet/<index>`` (the template with an empty value, trailing ``/`` stripped);
  the body ``1`` means on, anything else off.

Each outlet may drive the emulator's power (its control socket, harness/emulator/control.py), so
a power cycle through labgrid is a real one for the DUT: ``--outlet 0=/path/control.sock``. An
unknown outlet or value is 404/400, as a real PDU refuses it; a control socket that does not answer
is 502. Every switch is appended to ``--log`` (one line ``<index> <value>``), for the tests.

    python tools/labgrid/fake_pdu.py --outlet 0=/tmp/x/control.sock [--listen 127.0.0.1:0]

prints the URL template on its first line of stdout, then serves until SIGTERM.
"""

from __future__ import annotations

import argparse
import http.server
import signal
import socket
import sys
import threading
from pathlib import Path


class Outlet:
    def __init__(self, control: str | None) -> None:
        self.control = control
        self.on = True  # the emulator boots powered, as a PDU outlet that was left on

    def switch(self, on: bool) -> None:
        if self.control:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(5.0)
                sock.connect(self.control)
                sock.sendall(b"power on\n" if on else b"power off\n")
                reply = sock.recv(256).decode(errors="replace").strip()
            if not reply.startswith("ok"):
                raise OSError(f"control socket answered {reply!r}")
        self.on = on


def make_server(listen: tuple[str, int], outlets: dict[int, Outlet], log: Path | None) -> http.server.HTTPServer:
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = [p for p in self.path.split("?", 1)[0].split("/") if p]
            if len(parts) not in (2, 3) or parts[0] != "outlet" or not parts[1].isdigit():
                return self.reply(404, "no such resource")
            outlet = outlets.get(int(parts[1]))
            if outlet is None:
                return self.reply(404, f"no outlet {parts[1]}")
            if len(parts) == 2:
                return self.reply(200, "1" if outlet.on else "0")
            if parts[2] not in ("0", "1"):
                return self.reply(400, "value must be 0 or 1")
            with lock:
                try:
                    outlet.switch(parts[2] == "1")
                except OSError as exc:
                    return self.reply(502, f"outlet {parts[1]}: {exc}")
                if log is not None:
                    with log.open("a") as f:
                        f.write(f"{parts[1]} {parts[2]}\n")
            return self.reply(200, parts[2])

        def reply(self, status: int, body: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return http.server.ThreadingHTTPServer(listen, Handler)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT (PORT 0 picks a free one)")
    ap.add_argument("--outlet", action="append", default=[], metavar="INDEX[=CONTROL_SOCKET]",
                    help="an outlet, optionally driving an emulator's control socket")
    ap.add_argument("--log", type=Path, help="append one line per switch")
    args = ap.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    outlets: dict[int, Outlet] = {}
    for spec in args.outlet or ["0"]:
        index, _, control = spec.partition("=")
        outlets[int(index)] = Outlet(control or None)
    server = make_server((host, int(port)), outlets, args.log)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    h, p = server.server_address[:2]
    print(f"http://{h}:{p}/outlet/{{index}}/{{value}}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
