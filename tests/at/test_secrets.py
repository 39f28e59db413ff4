"""Secrets typed into the DUT (3.3.1 <device_secret>, 3.3.4 <pass_word>) never reach a
transcript, wherever they come back: echo, query response, a later line."""

from __future__ import annotations

from harness.at import Transcript


def test_password_of_qmtconn_is_redacted_everywhere():
    t = Transcript()
    t.record("TX", 'AT+QMTCONN=0,"client","user","pa55,word"\r')
    t.record("RX", 'AT+QMTCONN=0,"client","user","pa55,word"')  # echo
    t.record("RX", "something pa55,word later")
    text = t.render()
    assert "pa55,word" not in text
    assert text.count("***") == 3
    assert '"user"' in text and '"client"' in text


def test_aliauth_device_secret_is_redacted_in_the_query_response():
    t = Transcript()
    t.record("TX", 'AT+QMTCFG="aliauth",0,"pk1","dev1","S3cr3tValue"\r')
    t.record("RX", '+QMTCFG: "pk1","dev1","S3cr3tValue"')
    assert "S3cr3tValue" not in t.render()
    assert '"pk1"' in t.render()


def test_commands_without_secrets_are_untouched():
    t = Transcript()
    t.record("TX", 'AT+QMTCONN=0,"client"\r')
    t.record("TX", 'AT+QMTCFG="keepalive",0,120\r')
    assert "***" not in t.render()


def test_raw_bytes_sent_as_surrogate_escapes_render_as_hex():
    t = Transcript()
    t.record("TX", 'AT+QMTSUB=0,1,"\udcff\udcfe",0\r')
    text = t.render()
    assert "\\xff\\xfe" in text
    text.encode("utf-8")  # no lone surrogate left for the report writers
