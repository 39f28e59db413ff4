"""AT syntax (3.1.2) and the identity commands a qualification record starts with."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.spec("3.1.2")


def test_bare_at_answers_ok(modem):
    resp = modem.command("AT")
    assert resp.final == "OK"
    assert resp.lines == []


def test_lower_case_prefix_is_accepted(modem):
    """3.1.2: "All command lines must start with AT or at"."""
    assert modem.command("at").final == "OK"


def test_echo_on_and_off(modem):
    """ATE1 echoes the command line back; ATE0 stops it (module facts, DESIGN.md)."""
    assert modem.command("ATE1").ok
    on = modem.command("AT")
    assert on.final == "OK"
    assert on.echo is not None and on.echo.strip().upper() == "AT"
    assert modem.command("ATE0").ok
    off = modem.command("AT")
    assert off.final == "OK" and off.echo is None


def test_unknown_command_is_an_error(modem):
    resp = modem.command("AT+QNOSUCHCMD")
    assert resp.final == "ERROR" or resp.final.startswith("+CME ERROR:")


def test_ati_identifies_a_bc660k_gl(modem):
    resp = modem.command("ATI")
    assert resp.ok
    assert resp.lines[:2] == ["Quectel_Ltd", "Quectel_BC660K-GL"]
    assert re.fullmatch(r"Revision: BC660KGL\w+", resp.lines[2])


def test_cgmr_matches_ati_revision(modem):
    ati = modem.command("ATI")
    cgmr = modem.command("AT+CGMR")
    assert cgmr.ok and cgmr.lines == [ati.lines[2]]


def test_imei_is_15_digits_with_luhn_check(modem):
    resp = modem.command("AT+CGSN=1")
    assert resp.ok and len(resp.lines) == 1
    m = re.fullmatch(r"\+CGSN: (\d{15})", resp.lines[0])
    assert m, resp.lines
    digits = [int(d) for d in m.group(1)]
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2) for i, d in enumerate(digits))
    assert total % 10 == 0, f"IMEI {m.group(1)} fails the Luhn check"
