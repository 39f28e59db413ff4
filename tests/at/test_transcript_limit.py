"""Issue 19 (4): the transcript is bounded under a URC flood (before: 90,004 entries for one
case). It keeps how the case began and how it ended, with one visible NOTE where the middle
went, and the AT channel's pairing of answers does not depend on what the transcript kept."""

from __future__ import annotations

import re

import pytest
from at_peer import OK, AtPeer, resp

from harness.at import ATChannel, Transcript
from harness.at.transcript import MAX_ENTRIES

pytestmark = pytest.mark.timeout(60)

DROPPED = re.compile(r"NOTE … (\d+) lines dropped "
                     r"\(transcript limit: \d+ entries, the first \d+ and the newest \d+ kept\) …")


def test_urc_flood_through_the_channel_keeps_the_transcript_bounded_with_one_note() -> None:
    n = MAX_ENTRIES + 10_000
    flood = b"".join(b'\r\n+QMTRECV: 0,%d,"t","p"\r\n' % i for i in range(n))
    with AtPeer("tcp") as peer, ATChannel(peer.url, time_scale=0.01, max_urcs=100) as ch:
        peer.on("AT+FLOOD", resp("+FLOOD: 1"), flood, OK)
        peer.on("AT+VAL=1", resp("+VAL: 42"), OK)
        before = ch.transcript.mark()
        r = ch.command("AT+FLOOD", timeout=30)
        assert (r.lines, r.final) == (["+FLOOD: 1"], "OK")
        after = ch.transcript.mark()
        r = ch.command("AT+VAL=1", timeout=5)  # pairing reads the channel's state, not the transcript
        assert (r.lines, r.final) == (["+VAL: 42"], "OK")
        tr = ch.transcript
        assert len(tr.entries) == MAX_ENTRIES + 1  # the kept ones and the note
        text = tr.render()
        notes = DROPPED.findall(text)
        assert len(notes) == 1 and int(notes[0]) == tr.dropped > 0, notes
        assert len(text.splitlines()) == MAX_ENTRIES + 1
        lines = text.splitlines()
        assert "NOTE opened" in lines[0]  # the head: how the case began
        assert lines[-1].endswith("RX  OK") and "+VAL: 42" in lines[-2]  # the tail: how it ended
        assert DROPPED.search(tr.render(since=before))  # a mark before the flood sees the note
        assert "+VAL: 42" in tr.render(since=after) and not DROPPED.search(tr.render(since=after))
        assert len(tr) == tr.mark() > MAX_ENTRIES + tr.dropped // 2  # positions count every entry


def test_head_tail_positions_and_secrets_after_the_cut() -> None:
    tr = Transcript(max_entries=10)  # the first entry and the newest nine
    for i in range(25):
        tr.record("URC", f"+X: {i}")
    tr.record("TX", 'AT+QMTCONN=0,"c","u","pw-late"\r')
    tr.record("RX", "echo of pw-late")
    texts = [e.text for e in tr.entries]
    assert texts[0] == "+X: 0" and texts[-1] == "echo of ***"
    assert texts[1] == "… 17 lines dropped (transcript limit: 10 entries, the first 1 and the newest 9 kept) …"
    assert [e.direction for e in tr.entries].count("NOTE") == 1 and tr.dropped == 17
    assert tr.render(since=20).splitlines()[0].endswith("URC +X: 20")  # kept: no note before it
    assert "2 lines dropped" in tr.render(since=16)  # positions 16 and 17 of the dropped ones
    assert tr.render(since=tr.mark()) == ""
    tr.add_secret("X: 2")  # registered afterwards: redacted in the kept ones
    assert "X: 2" not in tr.render()
    with pytest.raises(ValueError):
        Transcript(max_entries=1)
