"""Run by tests/report/test_secrets_in_reports.py in a pytest subprocess: case-like steps that hand the
DUT every kind of secret the note has (3.3.1 aliauth <device_secret>, 3.3.4 AT+QMTCONN
<password>, the latter from the rig file's broker.password as ${VAR}), so the test can look for
them in every report file. Not collected by `pytest tests`."""

from __future__ import annotations

import os

from harness.at.flows import open_connect, result


def test_secret_broker_password_connects(modem, broker, rig) -> None:
    assert rig.broker.password  # from ${SECRETS_TEST_BROKER_PW}: a real value reached the rig
    open_connect(modem, broker.dut_host, broker.port, "secrets-case", user=rig.broker.username,
                 password=rig.broker.password)
    closed = result(modem, "AT+QMTDISC=0", "+QMTDISC", 0)
    assert closed.args == [0, 0]


def test_secret_aliauth_device_secret(modem) -> None:
    secret = os.environ["SECRETS_TEST_DEVICE_SECRET"]
    assert modem.command(f'AT+QMTCFG="aliauth",0,"a1Product","dev-01","{secret}"').ok
    read = modem.command('AT+QMTCFG="aliauth",0')  # 3.3.1: the read-back may carry the secret
    assert read.ok
