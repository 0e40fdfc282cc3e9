"""FIX 4.4 framing checked both ways against an independent implementation: ``simplefix``."""

from __future__ import annotations

import pytest
import simplefix
from hypothesis import given, settings
from hypothesis import strategies as st

from tickrail._native import fix_decode, fix_encode

# FIX "data" fields are length-prefixed binary; tickrail's codec carries none (text only).
RAW_DATA_TAGS = frozenset(simplefix.FixParser().raw_len_tags) | frozenset(simplefix.FixParser().raw_data_tags)
tags = st.integers(11, 99_999).filter(
    lambda tag: tag not in RAW_DATA_TAGS and tag != 35
)  # 35 is the header's
values = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=30)
fields = st.lists(st.tuples(tags, values), max_size=15)


@settings(max_examples=200, deadline=None)
@given(msg_type=st.sampled_from(["0", "A", "D", "8", "W", "X", "V", "5"]), fields=fields)
def test_simplefix_reads_what_we_write(msg_type: str, fields: list[tuple[int, str]]) -> None:
    ours = fix_encode(msg_type, fields)
    parser = simplefix.FixParser()
    parser.append_buffer(ours)
    message = parser.get_message()
    assert message is not None, "simplefix found a whole message"
    assert message.get(8) == b"FIX.4.4" and message.get(35) == msg_type.encode()
    # simplefix recomputes BodyLength and CheckSum on encode: ours must be what it computes.
    again = simplefix.FixMessage()
    for tag, value in message.pairs:
        if int(tag) not in (9, 10):
            again.append_pair(int(tag), value)
    assert again.encode() == ours


@settings(max_examples=200, deadline=None)
@given(msg_type=st.sampled_from(["0", "A", "D", "8"]), fields=fields)
def test_we_read_what_simplefix_writes(msg_type: str, fields: list[tuple[int, str]]) -> None:
    theirs = simplefix.FixMessage()
    theirs.append_pair(8, "FIX.4.4")
    theirs.append_pair(35, msg_type)
    for tag, value in fields:
        theirs.append_pair(tag, value)
    data = theirs.encode()
    decoded = fix_decode(data + b"8=FIX")  # a following message has begun
    assert decoded is not None
    got, used = decoded
    assert used == len(data)
    assert [(tag, value.decode()) for tag, value in got[2:-1]] == [(35, msg_type), *fields]


def test_a_bad_checksum_or_a_foreign_version_is_refused_by_name() -> None:
    data = bytearray(fix_encode("0", [(49, "VENUE")]))
    data[-2] = ord("0") if data[-2] != ord("0") else ord("1")
    with pytest.raises(ValueError, match=r"CheckSum \(10\)"):
        fix_decode(bytes(data))
    with pytest.raises(ValueError, match=r"must start with 8=FIX\.4\.4"):
        fix_decode(b"8=FIX.4.2\x019=5\x0135=0\x0110=000\x01")
    assert fix_decode(bytes(data[:10])) is None, "an incomplete message waits for more bytes"
    with pytest.raises(ValueError, match="is empty or contains SOH"):
        fix_encode("0", [(58, "a\x01b")])
    body = b"35=0\x0149=\x01"
    head = b"8=FIX.4.4\x019=%d\x01" % len(body)
    framed = head + body + b"10=%03d\x01" % (sum(head + body) % 256)
    with pytest.raises(ValueError, match="tag 49 has an empty value"):
        fix_decode(framed)
