"""Run by tests/rig/test_ladder.py in a pytest subprocess: the emulator process dies (nothing the
ladder can bring back), so the rest of the run must be reported as "rig broken", not as DUT
failures, and the run must exit with 3. Not collected by `pytest tests`."""

from __future__ import annotations


def test_1_emulator_dies(modem, dut) -> None:
    dut.emulator.proc.kill()
    assert dut.emulator.proc.wait(10) != 0


def test_2_would_pass(modem) -> None:
    assert modem.command("AT").ok


def test_3_would_pass_too(modem) -> None:
    assert modem.command("AT").ok
