"""The emulated SIM, cell and network: every fixed identity and radio value the general commands
report, in one place, so that the answers agree with each other (AT+CSQ, AT+CESQ and AT+QENG=0
describe the same cell; AT+CIMI, AT+COPS? and AT+CEREG? the same network).

Why fixed values: a host or a case must be able to compare an answer with something, and a
recorded real module (observations file, source MB-T) gives the shapes but its identifiers were
redacted. Every identifier here is reserved or obviously made up, so nobody mistakes it for a
real subscriber, operator or address:

- the network is the 3GPP test PLMN 001/01, the SIM's IMSI and ICCID belong to it;
- addresses come from the RFC 5737 documentation ranges (and RFC 2544 for resolved names);
- the radio values are those of a good NB-IoT cell on band 20, in the ranges real modules print
  (obs. fact 19 was recorded on band 20, EARFCN 6254, guard-band operation).

Only the standard library is imported: the handler modules and the tests read these constants.
"""

from __future__ import annotations


def luhn_ok(digits: str) -> bool:
    """Check digit of an IMEI (3GPP TS 23.003 Annex B) or an ICCID (ITU-T E.118): the Luhn formula."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


# --- identities (obs. fact 4: IMEI 15 digits, bare IMSI line, ICCID 20 digits) --------------
DEFAULT_IMEI = "869181050123452"  # 15 digits, valid check digit; --imei overrides it
SVN = "05"  # software version number: AT+CGSN=3, and the last two digits of the IMEISV
PLMN = "00101"  # the 3GPP test network (MCC 001, MNC 01)
IMSI = "001010123456789"  # MCC 001 + MNC 01 + a 10-digit MSIN: the SIM is at home on PLMN
ICCID = "89001010123456789015"  # 89 (telecom) + 001-01 + serial + Luhn digit: 20 digits
IP_ADDRESS = "192.0.2.10"  # RFC 5737 TEST-NET-1: the address of PDP context 0 once attached
NETWORK_APN = "nbiot.test"  # the APN the network assigns when AT+QCGDEFCONT gave none (RFC 2606 .test)
for _value, _digits in ((DEFAULT_IMEI, 15), (IMSI, 15), (ICCID, 20)):
    assert _value.isdigit() and len(_value) == _digits, _value
assert luhn_ok(DEFAULT_IMEI) and luhn_ok(ICCID) and IMSI.startswith(PLMN)

# --- the serving cell (AT+CEREG, AT+QENG=0, AT+CSQ, AT+CESQ) -------------------------------
TAC = "1A2B"  # two-byte tracking area code, hex (manual 4.1 <tac>)
CELL_ID = "0C0D0E0F"  # 28-bit E-UTRAN cell ID, four bytes hex (manual 4.1 <ci>)
ACT = 9  # E-UTRAN (NB-S1 mode): the only <AcT> of an NB-IoT module (manual 4.1, 7.2)
BAND = 20
EARFCN = 6254  # in band 20 (DL EARFCN 6150-6449)
EARFCN_OFFSET = 12  # manual 4.8 <sc_EARFCN_offset> 12: offset 0
PCI = 299  # physical cell ID, 0-503
RSRP_DBM = -75  # a good cell: manual 4.8 NOTE 2 calls RSRP >= -100 dBm strong
RSRQ_DB = -7
RSSI_DBM = -63  # about RSRP + 10*log10(12 subcarriers) + load: AT+CSQ <rssi> 25
SINR_DB = 11
ECL = 0  # enhanced coverage level 0 (good coverage)
TX_POWER_DBM = -128  # manual 4.8 <sc_Tx_pwr>: the invalid value, printed while idle (obs. fact 19)
OPERATION_MODE = 2  # guard band, as recorded (obs. fact 19)
NEIGHBOUR = (EARFCN, 298, -85, -12)  # one neighbour cell: EARFCN, PCI, RSRP dBm, RSRQ dB

# --- the rest of the module ----------------------------------------------------------------
SUPPLY_MV = 3470  # AT+CBC: a fresh 3.6 V lithium cell under load (obs. fact 5 recorded 3470)
ZONE_QUARTERS = 8  # local time zone incl. DST, in quarters of an hour (+2 h): obs. fact 20's values
DST_HOURS = 1  # the zone includes 1 hour of daylight saving time (obs. fact 20: `+CTZEU: "+8",1,...`)
PING_BYTES = 32  # ICMP echo payload of AT+QPING
PING_RTT_MS = 320  # an NB-IoT round trip: hundreds of milliseconds
PING_TTL = 52
PING_NAME_ADDRESS = "198.18.0.1"  # what any host name resolves to (RFC 2544 benchmarking range)
