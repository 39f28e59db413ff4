"""The emulator's result codes: every `+CME ERROR: <err>` code it can answer, defined once here
with the text AT+CMEE=2 prints for it.

General codes: 3GPP TS 27.007 9.2 as the BC660K-GL AT Commands Manual lists them (DESIGN
"Module facts"), and the module's own code for a radio that is off (obs. facts 12, 13). MQTT
codes: the application note, chapter 4 Table 2, the whole table, so a new handler finds its code
here instead of writing the number again.

A handler answers with `ctx.error(code)` or raises `Refused(code)` from anywhere below it (the
front end turns that into the final result); plain ERROR (no code) is `ctx.error()` /
`Refused()`. The front end picks ERROR vs `+CME ERROR: <code>` vs the text by AT+CMEE.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from types import MappingProxyType
from typing import TypeVar

T = TypeVar("T")


class Cme(IntEnum):
    # 27.007 9.2.1 general errors (DESIGN "Module facts")
    OPERATION_NOT_ALLOWED = 3
    OPERATION_NOT_SUPPORTED = 4
    INCORRECT_PARAMETERS = 50
    DATA_OUT_OF_RANGE = 59
    UNKNOWN = 100
    # obs. facts 12, 13: `+CME ERROR: ue not power on` (CF, AT+CMEE=2), e.g. AT+CPIN? at AT+CFUN=0 after
    # power-up. Not a 27.007 code. DECIDED: 303, the number this text has in the AT stack of the
    # module's NB-IoT chipset family (the public Eigencomm SDK's cmicomm.h: CME_INTERNAL_ERROR_BASE
    # 301, CME_UE_BUSY 302, CME_NOT_POWER_ON 303; the same table spells 50 "Incorrect parameters",
    # mixed case, as fact 13 quotes it). No capture shows the number itself.
    UE_NOT_POWER_ON = 303
    # Application note chapter 4 Table 2
    MQTT_LINK_LAYER_ERROR = 8503
    MQTT_ILLEGAL_PACKET = 8504
    MQTT_ILLEGAL_CHARACTER = 8505
    MQTT_ILLEGAL_UTF8 = 8506
    MQTT_INVALID_PARAMETER = 8507
    MQTT_DATA_EXCEEDS_BUFFER = 8508
    MQTT_BUFFER_OVERFLOW = 8509
    MQTT_OUT_OF_MEMORY = 8510
    MQTT_MEMORY_ERROR = 8511
    MQTT_UNKNOWN_ERROR = 8600


TEXT: Mapping[int, str] = MappingProxyType({
    Cme.OPERATION_NOT_ALLOWED: "operation not allowed",
    Cme.OPERATION_NOT_SUPPORTED: "operation not supported",
    Cme.INCORRECT_PARAMETERS: "incorrect parameters",
    Cme.DATA_OUT_OF_RANGE: "data value out of range",
    Cme.UNKNOWN: "unknown",
    Cme.UE_NOT_POWER_ON: "ue not power on",  # obs. facts 12, 13, lower case as quoted
    Cme.MQTT_LINK_LAYER_ERROR: "MQTT link layer error",
    Cme.MQTT_ILLEGAL_PACKET: "MQTT illegal packet",
    Cme.MQTT_ILLEGAL_CHARACTER: "MQTT illegal character",
    Cme.MQTT_ILLEGAL_UTF8: "MQTT illegal UTF8",
    Cme.MQTT_INVALID_PARAMETER: "MQTT invalid parameter",
    Cme.MQTT_DATA_EXCEEDS_BUFFER:
        "The length of transmitted data exceeds the size of the remaining transmission buffer",
    Cme.MQTT_BUFFER_OVERFLOW: "MQTT buffer overflow",
    Cme.MQTT_OUT_OF_MEMORY: "MQTT out of memory",
    Cme.MQTT_MEMORY_ERROR: "MQTT memory error",
    Cme.MQTT_UNKNOWN_ERROR: "MQTT unknown error",
})
assert set(TEXT) == set(Cme)


class Refused(Exception):
    """The command line is refused: the front end answers `+CME ERROR: <code>` (as AT+CMEE
    selects), or plain ERROR when `code` is None."""

    def __init__(self, code: Cme | None = None) -> None:
        super().__init__(code)
        self.code = code


def need(value: T | None, code: Cme) -> T:
    """`value`, or Refused(code) when a parser found nothing acceptable (None)."""
    if value is None:
        raise Refused(code)
    return value
