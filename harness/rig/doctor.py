"""`python -m harness.rig doctor`: is this rig fit to qualify a module? One row per part.

Checks, in order, each naming the part it is about: the rig file; the DUT's port (the emulator
started for dut.kind emulator); who the DUT says it is (ATI, AT+CGMR, AT+CGSN: 3.x identity is
what the qualification record is about); the relay (power cycle, or reset pulse, and the same
module answering afterwards) unless --no-power; the broker the DUT must reach (started as the
rig says; the DUT opens a connection to broker.dut_address, 3.3.2); the certificates when
broker.tls (the session PKI loads and chains to its CA, and the broker's TLS listener verifies);
the rig's broker account when broker.username is set (harness/rig/account.py: the host and the DUT
log in with it, 3.3.4; a refusal names `rig.yaml: broker.username/broker.password`, exit 4).

A failed part makes the parts that need it SKIP with the reason. Never a traceback: anything
unexpected becomes a FAIL row naming the part. The exit status means what a conformance run's
does (harness/rig/exits.py): 0 no row is FAIL, 3 a part of the rig failed (the DUT unreachable,
the relay, the broker), 4 the rig file or an option is wrong.

``port`` (``--port URL``) means what the suite's ``--port`` means: an external DUT at that URL, no
emulator; the rows about the DUT use the suite's words (harness/rig/reach.py), so the line a run
stopped with and the doctor's row read the same.

A labgrid rig (``labgrid:``) has its own first row: the coordinator answers, the place exists, who
holds it (the doctor never waits: a place acquired by someone else is a FAIL naming them), its
resources are online and its power driver answers (``power get``). The doctor then acquires the
place for the rows after it (port, identity, relay: the power cycle goes through labgrid and the port
is read again after it) and releases it at the end.

The checks themselves, and the State they share, are in doctor_checks.py; this module runs them
in order, turns their outcome into rows and the exit status, and prints the table.

When a row FAILs after the DUT's port was opened, the serial exchange (secrets masked) is kept in
a file the last row names (``transcript``): what the DUT answered is the evidence a lab engineer
needs for a failure that may not come back on a rerun.
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from harness.at import Transcript
from harness.rig.doctor_checks import CHECKS, OPTIONAL, CheckFailed, CheckSkipped, OptionWrong, State
from harness.rig.exits import PASSED, RIG_BROKEN, USAGE
from harness.rig.loader import OPTION_NAMES, RigError, load_rig
from harness.rig.options import overrides as option_overrides

__all__ = ["FAIL", "OK", "SAVED", "SKIP", "Row", "print_table", "run_doctor"]

OK, FAIL, SKIP, SAVED = "OK", "FAIL", "SKIP", "SAVED"


@dataclass(frozen=True)
class Row:
    check: str
    status: str
    detail: str


# -- running and printing -----------------------------------------------------------------------


def run_doctor(rig_path: str | Path, *, power: bool = True, port: str | None = None) -> tuple[list[Row], int]:
    """All rows and the exit status. `port`: an external DUT at that URL (the suite's --port)."""
    overrides = option_overrides({"--port": port})  # the suite's --port, from the same table
    try:
        rig = load_rig(rig_path, overrides, option_names=OPTION_NAMES)
    except RigError as exc:
        rows = [Row("rig file", FAIL, str(exc))]
        return rows + [Row(name, SKIP, "the rig file or an option is wrong") for name, _ in CHECKS
                       if name not in OPTIONAL], USAGE
    d, r = rig.dut, rig.relay
    where = d.port or d.transport
    if rig.labgrid is not None:
        where = f"place {rig.labgrid.place or rig.labgrid.reserve} at {rig.labgrid.coordinator}"
    what = f"dut {d.kind} ({where}), relay {r.kind}, broker {rig.broker.kind}"
    rows = [Row("rig file", OK, f"{rig_path}: {what}")]
    usage = False
    with contextlib.ExitStack() as stack:
        state = State(rig, power, stack, Transcript(secrets=rig.secrets()))
        for name, check in CHECKS:
            if name in OPTIONAL and not OPTIONAL[name](rig):
                continue  # a row only for a rig that has the part
            try:
                rows.append(Row(name, OK, check(state)))
            except CheckSkipped as exc:
                rows.append(Row(name, SKIP, str(exc)))
            except CheckFailed as exc:
                usage = usage or isinstance(exc, OptionWrong)
                state.failed.add(name)
                rows.append(Row(name, FAIL, str(exc)))
            except Exception as exc:  # never a traceback: name the part and what was raised
                state.failed.add(name)
                rows.append(Row(name, FAIL, f"{name}: unexpected {type(exc).__name__}: {' '.join(str(exc).split())}"))
        if any(row.status == FAIL for row in rows) and len(state.log):
            rows.append(Row("transcript", SAVED, _keep(state.log)))
    if usage:
        return rows, USAGE
    return rows, RIG_BROKEN if any(row.status == FAIL for row in rows) else PASSED


def _keep(log: Transcript) -> str:
    """The doctor's serial exchange in a file of its own (the work directory goes at the end)."""
    try:
        fd, name = tempfile.mkstemp(prefix="bc660k-doctor-", suffix=".txt")
        with open(fd, "w", encoding="utf-8") as out:
            out.write(log.render())
    except OSError as exc:
        return f"the serial exchange could not be kept: {exc}"
    return f"the serial exchange is in {name}"


def print_table(rows: list[Row], out: TextIO) -> None:
    width = max(len(row.check) for row in rows)
    out.write(f"{'CHECK':<{width}}  STATUS  DETAIL\n")
    for row in rows:
        out.write(f"{row.check:<{width}}  {row.status:<6}  {row.detail}\n")
