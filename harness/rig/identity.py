"""Who the DUT says it is: the first thing a qualification record needs, and what the
recovery ladder compares after a power cycle (same IMEI, same firmware)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol


class _Channel(Protocol):
    def command(self, line: str, timeout: float | None = None) -> object: ...


class IdentityError(Exception):
    """The DUT answered, but not like a BC660K-GL; the message quotes what it said."""


@dataclass(frozen=True)
class Identity:
    manufacturer: str
    model: str
    revision: str
    imei: str

    def facts(self) -> dict[str, str]:
        return {"DUT manufacturer": self.manufacturer, "DUT model": self.model,
                "DUT firmware": self.revision, "DUT IMEI": self.imei}


def _lines(resp: object, cmd: str) -> list[str]:
    if not getattr(resp, "ok", False):
        raise IdentityError(f"{cmd} answered {getattr(resp, 'final', '?')!r}, expected OK")
    return [ln.strip() for ln in getattr(resp, "lines", []) if ln.strip()]


def read_identity(channel: _Channel) -> Identity:
    ati = _lines(channel.command("ATI"), "ATI")
    cgmr = _lines(channel.command("AT+CGMR"), "AT+CGMR")
    cgsn = _lines(channel.command("AT+CGSN=1"), "AT+CGSN=1")
    revision = next((ln.split(":", 1)[1].strip() for ln in cgmr if ln.startswith("Revision:")), "")
    if not revision:
        raise IdentityError(f"AT+CGMR gave no 'Revision: ...' line: {cgmr!r}")
    imei = next((m.group(0) for ln in cgsn if (m := re.search(r"\d{15}", ln))), "")
    if not imei:
        raise IdentityError(f"AT+CGSN=1 gave no 15-digit IMEI: {cgsn!r}")
    manufacturer = ati[0] if ati else "?"
    model = ati[1] if len(ati) > 1 else "?"
    return Identity(manufacturer, model, revision, imei)
