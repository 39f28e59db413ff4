"""The suite treats the DUT as a black box on a serial URL: the conformant emulator behind a
byte-for-byte TCP relay (as a lab's ser2net or a remote rig would put it) passes unchanged.

`make test` runs the modules that cross the relay in every way (plain AT, the 6.1 example with its
data-mode publish, URCs of received messages, QoS 0/1/2 flows); `make proof` (BC660K_PROOF_FULL=1)
runs the whole suite behind it."""

from __future__ import annotations

import contextlib
import os
import socket
import threading

from run_project import ROOT, run

from harness.emulator.launcher import EmulatorProcess

FULL = os.environ.get("BC660K_PROOF_FULL") == "1"
MODULES = ["suites/test_general.py", "suites/test_example_6_1.py", "suites/test_qmtrecv.py", "suites/test_qos.py",
           "suites/test_mqtt_flow.py"]


class ByteRelay:
    """Forwards bytes both ways between one client and the emulator's TCP UART, unchanged."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.forwarded = 0
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    def _serve(self) -> None:
        self.server.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            up = socket.create_connection(self.upstream)
            for s in (client, up):  # forward each byte when it comes, as a serial line would
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for a, b in ((client, up), (up, client)):
                t = threading.Thread(target=self._pump, args=(a, b), daemon=True)
                t.start()
                self._threads.append(t)

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(4096):
                dst.sendall(chunk)
                self.forwarded += len(chunk)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def close(self) -> None:
        self._stop.set()
        self.server.close()
        self._accept.join(2)
        for t in self._threads:
            t.join(2)


def test_suite_passes_unchanged_behind_a_byte_relay(tmp_path):
    emulator = EmulatorProcess.start(transport="tcp", time_scale=0.1, log_path=tmp_path / "emulator.log")
    host, port = emulator.url.removeprefix("socket://").rsplit(":", 1)
    relay = ByteRelay((host, int(port)))
    try:
        proc = run(ROOT, *(["suites"] if FULL else MODULES), "-q", f"--report-dir={tmp_path}",
                   "--port", f"socket://127.0.0.1:{relay.port}", "--time-scale", "0.1", timeout=900)
    finally:
        relay.close()
        emulator.stop()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert relay.forwarded > 1000
    assert " passed" in proc.stdout.splitlines()[-1] and "failed" not in proc.stdout.splitlines()[-1]
