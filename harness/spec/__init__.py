"""The application note (BC660K-GL MQTT Application Note) as data.

`ENTRIES` lists every citable promise (command, form, parameter, code, URC, maximum response
time, numbered note, unclear point, example step) with a stable id, its section as the note
numbers it and at most one quoted line; the coverage report lists each with the cases that cite
it. Chapter 5's and 6's subsections are unnumbered in the text; they are 5.1 (+QMTSTAT), 5.2
(+QMTRECV, as 3.3.8 note 3 calls it), 6.1 (without SSL) and 6.2 (with SSL).

Beside the note, and not among its entries: mqtt311.py (every normative statement of MQTT 3.1.1,
whom it binds) and yardsticks.py (the public MQTT client test suites, each test with the cases
that check it), for the coverage report's two further sections.
"""

from __future__ import annotations

from . import codes, commands, examples, qmtcfg, unclear, urcs
from .model import Entry

NOTE_FILE = "BC660K-GL_MQTT_Application_Note.txt"


def _collect() -> tuple[Entry, ...]:
    out: list[Entry] = []
    for mod in (qmtcfg, commands, codes, urcs, unclear, examples):
        out += mod.entries()
    return tuple(out)


ENTRIES: tuple[Entry, ...] = _collect()
BY_ID: dict[str, Entry] = {e.id: e for e in ENTRIES}

__all__ = ["BY_ID", "ENTRIES", "NOTE_FILE", "Entry"]
