"""The exit statuses of a conformance run and of `python -m harness.rig doctor`, defined once
(DESIGN "Contracts", README "Exit status"). pytest's own codes keep their meaning where they
coincide: 0 and 1 are pytest's OK and TESTS_FAILED, 4 is its USAGE_ERROR (a pytest.UsageError
from the rig loader ends the run with it)."""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    PASSED = 0  # every case passed (the doctor: every part is fine)
    FAILED = 1  # some case failed
    RIG_BROKEN = 3  # the rig broke or the DUT is unreachable (the doctor: a part of the rig failed)
    USAGE = 4  # the rig file or an option is wrong


PASSED, FAILED, RIG_BROKEN, USAGE = Exit.PASSED, Exit.FAILED, Exit.RIG_BROKEN, Exit.USAGE

__all__ = ["FAILED", "PASSED", "RIG_BROKEN", "USAGE", "Exit"]
