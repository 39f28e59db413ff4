"""Errors of the broker side of the rig.

Each carries one human-readable line: the harness prints them as the reason a rig could not be
brought up or a case could not observe the wire, so a traceback wall would bury the cause.
"""

from __future__ import annotations


class BrokerError(Exception):
    """The embedded broker could not be configured, started or stopped."""


class ObserverError(Exception):
    """The broker-side observer client failed: connect refused, ack or message not seen in time."""
