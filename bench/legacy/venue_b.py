"""Venue B's adapters for the legacy engine: FIX 4.4 over TCP, for market data (:class:`Feed`)
and order entry (:class:`Gateway`), with a small tag=value codec of their own.

The wire is as venue B and tickrail's production clients speak it (``venues/src/fix_server.rs``,
``feeds/src/fix_feed.rs``, ``execution/src/gateway/fix.rs``):

* Framing: ``8=FIX.4.4``, BodyLength (9) and CheckSum (10) are checked on every message read and
  computed on every message written; a message that does not frame is a :class:`FramingError`
  (the stream cannot be cut past it, so the connection is dropped). A well-framed message that
  lacks a required field or holds a value FIX does not allow is an :class:`InvalidMessage`
  naming the field: the session refuses it with a Reject and goes on.
* Session: each connection logs on afresh (ResetSeqNumFlag=Y, HeartBtInt 1 s), answers
  TestRequests, sends a Heartbeat after a second without sending and a TestRequest after 1.2 s
  without hearing anything (the peer is dead if that goes unanswered for another second). A
  message numbered above the expected one opens a gap: everything from the expected number on
  is asked for again (ResendRequest, EndSeqNo=0) and what arrives beyond the gap is dropped
  until the replay (PossDupFlag=Y) has filled it; possible duplicates already taken are
  skipped. We keep none of what we sent: asked for it, we gap-fill (an order is never sent
  late).
* Market data: the feed logs on as ``TICKRAIL``, subscribes to every listed symbol in one
  MarketDataRequest (snapshot plus updates of bids, offers and trades), rebuilds each book
  from its snapshot (``W``) and keeps it by incremental refreshes (``X``) whose level sizes are
  absolute. A refresh that does not fit its book (a change to a level it lacks, say) makes that
  book unknown until a fresh snapshot, which it asks for; a refused message may have been a
  refresh, so every book is asked for afresh.
* Orders: the gateway logs on with the engine's CompIDs (``TRKREXEC`` to ``VENUEB``); an order's
  ClOrdID is our integer id in decimal digits, a cancel request's the order's followed by
  ``C``; prices and quantities travel as decimal text of our fixed point exactly.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
import re
import time
from collections.abc import Callable
from itertools import pairwise
from typing import NamedTuple, cast

from bench.legacy.venue import Kind, OnBook, OnReport, Report

log = logging.getLogger(__name__)

#: The field separator.
SOH = b"\x01"
#: Every message starts with it.
BEGIN_STRING = b"8=FIX.4.4\x01"
#: Units of 1e-9 in one.
NANOS = 1_000_000_000
#: The CompID tickrail's market-data feed logs on to venue B with.
FEED_SENDER = "TICKRAIL"
#: Venue B's CompID.
VENUE_COMP_ID = "VENUEB"
#: HeartBtInt (108) we ask for, in seconds.
HEARTBEAT_S = 1
#: How often the session's timers run.
TIMER_PERIOD_S = 0.05
#: How long the feed waits before connecting again.
RECONNECT_DELAY_S = 0.05
#: How long the gateway waits for the venue's Logon.
LOGON_TIMEOUT_S = 5.0
#: The longest body accepted (a guard against a BodyLength that is garbage).
MAX_BODY_LENGTH = 1 << 20
#: The most entries a snapshot or refresh may announce.
MAX_ENTRIES = 100_000

# Tags, as their text on the wire.
MSG_TYPE = b"35"
SENDER_COMP_ID = b"49"
TARGET_COMP_ID = b"56"
MSG_SEQ_NUM = b"34"
SENDING_TIME = b"52"
POSS_DUP_FLAG = b"43"
ORIG_SENDING_TIME = b"122"
NO_MD_ENTRIES = b"268"
MD_UPDATE_ACTION = b"279"
MD_ENTRY_TYPE = b"269"
SYMBOL = b"55"
MD_ENTRY_PX = b"270"
MD_ENTRY_SIZE = b"271"

#: The standard header's tags (FIX 4.4), which come right after MsgType.
HEADER_TAGS = frozenset(
    b"%d" % tag
    for tag in (
        *(49, 56, 34, 52, 43, 122, 50, 57, 115, 128, 97, 369),
        *(142, 143, 116, 144, 129, 145, 90, 91, 212, 213, 347, 627, 1128),
    )
)

#: FIX names of the tags this module reads, for error messages.
TAG_NAMES = {
    b"6": "AvgPx",
    b"7": "BeginSeqNo",
    b"11": "ClOrdID",
    b"14": "CumQty",
    b"16": "EndSeqNo",
    b"17": "ExecID",
    b"31": "LastPx",
    b"32": "LastQty",
    b"34": "MsgSeqNum",
    b"36": "NewSeqNo",
    b"37": "OrderID",
    b"38": "OrderQty",
    b"39": "OrdStatus",
    b"41": "OrigClOrdID",
    b"43": "PossDupFlag",
    b"44": "Price",
    b"45": "RefSeqNum",
    b"49": "SenderCompID",
    b"52": "SendingTime",
    b"54": "Side",
    b"55": "Symbol",
    b"56": "TargetCompID",
    b"108": "HeartBtInt",
    b"112": "TestReqID",
    b"123": "GapFillFlag",
    b"141": "ResetSeqNumFlag",
    b"150": "ExecType",
    b"151": "LeavesQty",
    b"262": "MDReqID",
    b"268": "NoMDEntries",
    b"269": "MDEntryType",
    b"270": "MDEntryPx",
    b"271": "MDEntrySize",
    b"279": "MDUpdateAction",
    b"434": "CxlRejResponseTo",
}

#: Names of the message types this module reads, for error messages.
MSG_TYPE_NAMES = {
    b"0": "Heartbeat",
    b"1": "TestRequest",
    b"2": "ResendRequest",
    b"3": "Reject",
    b"4": "SequenceReset",
    b"5": "Logout",
    b"A": "Logon",
    b"W": "MarketDataSnapshotFullRefresh",
    b"X": "MarketDataIncrementalRefresh",
    b"Y": "MarketDataRequestReject",
    b"8": "ExecutionReport",
    b"9": "OrderCancelReject",
}

_UTC_TIMESTAMP = re.compile(rb"[0-9]{8}-[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?")

#: One field: its tag and its value, both as the bytes on the wire.
Field = tuple[bytes, bytes]


class FixError(ValueError):
    """Bytes from the venue that are not acceptable FIX 4.4, or a session that cannot go on."""


class FramingError(FixError):
    """The byte stream cannot be cut into messages here: begin string, BodyLength, CheckSum or
    field syntax is wrong. Nothing past it can be trusted; the connection is dropped."""


class InvalidMessage(FixError):
    """A well-framed message with a required field missing or a value FIX does not allow; ``seq``
    is its MsgSeqNum when that could be read."""

    def __init__(self, detail: str, seq: int | None) -> None:
        super().__init__(detail)
        self.seq = seq


class SessionError(FixError):
    """The session is over (wrong CompIDs, a peer that lost count or went silent, an unreadable
    header): the connection is closed."""


class ForeignReport(FixError):
    """A valid report about an order that is not one of ours (a ClOrdID that is not our id)."""


def _tag_name(tag: bytes) -> str:
    name = TAG_NAMES.get(tag)
    return f"{name} ({tag.decode()})" if name else f"tag {tag.decode()}"


def _type_name(msg_type: bytes) -> str:
    name = MSG_TYPE_NAMES.get(msg_type)
    return f"{name} ({msg_type.decode(errors='replace')})" if name else f"MsgType {msg_type!r}"


def frame(data: bytes, start: int) -> tuple[list[Field], int] | None:
    """Cuts the message at ``data[start:]``: its fields after the BodyLength (MsgType first,
    CheckSum excluded) and the offset just past it; ``None`` while the message is incomplete.
    Raises :class:`FramingError` naming what is wrong."""
    begin_end = start + len(BEGIN_STRING)
    begin = data[start:begin_end]
    if begin != BEGIN_STRING:
        if BEGIN_STRING.startswith(begin):
            return None
        raise FramingError(f"a message must start with 8=FIX.4.4, not {begin!r}")
    length_end = data.find(SOH, begin_end)
    if length_end < 0:
        if len(data) - begin_end > 12:
            raise FramingError("BodyLength (9) does not end")
        return None
    length_field = data[begin_end:length_end]
    if not length_field.startswith(b"9="):
        raise FramingError(f"the second field is {length_field!r}, not BodyLength (9)")
    length_text = length_field[2:]
    body_length = int(length_text) if length_text.isdigit() else 0
    if not 0 < body_length < MAX_BODY_LENGTH:
        raise FramingError(f"BodyLength (9) {length_text!r} is not a length")
    body_start = length_end + 1
    body_end = body_start + body_length
    end = body_end + 7
    if len(data) < end:
        return None
    trailer = data[body_end:end]
    if trailer[:3] != b"10=" or trailer[6] != 1 or not trailer[3:6].isdigit():
        raise FramingError(
            f"no CheckSum (10) after a body of {body_length} bytes: BodyLength (9) is wrong, "
            f"the bytes there are {trailer!r}"
        )
    declared = int(trailer[3:6])
    actual = sum(data[start:body_end]) & 0xFF
    if declared != actual:
        raise FramingError(f"CheckSum (10) is {declared:03}, but the bytes sum to {actual:03}")
    if data[body_end - 1] != 1:
        raise FramingError("the body does not end with SOH before CheckSum (10)")
    fields = []
    for text in data[body_start : body_end - 1].split(SOH):
        tag, equals, value = text.partition(b"=")
        if not equals or not tag.isdigit() or len(tag) > 9:
            raise FramingError(f"field {text!r} is not tag=value")
        if not value:
            raise FramingError(f"tag {tag.decode()} has an empty value")
        fields.append((tag, value))
    if fields[0][0] != MSG_TYPE:
        raise FramingError("the body does not start with MsgType (35)")
    return fields, end


@functools.lru_cache(maxsize=1 << 16)
def parse_decimal(text: bytes) -> int | None:
    """Decimal text as an integer in units of 1e-9; ``None`` if it is not a number or has more
    than nine decimals."""
    negative = text.startswith(b"-")
    whole, _, fraction = (text[1:] if negative else text).partition(b".")
    if len(fraction) > 9 or not (whole + fraction).isdigit():
        return None
    value = int(whole or b"0") * NANOS + int(fraction.ljust(9, b"0"))
    if value >= 1 << 63:
        return None
    return -value if negative else value


def format_decimal(value: int) -> bytes:
    """``value`` in units of 1e-9 as decimal text without trailing zeros (``189500000000`` is
    ``189.5``)."""
    if value < 0:
        return b"-" + format_decimal(-value)
    whole, fraction = divmod(value, NANOS)
    if not fraction:
        return b"%d" % whole
    return (b"%d.%09d" % (whole, fraction)).rstrip(b"0")


class _Clock:
    """UTCTimestamps at millisecond precision, the date and time formatted once a second."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = b""

    def now(self) -> bytes:
        """The current UTCTimestamp (``YYYYMMDD-HH:MM:SS.sss``)."""
        ns = time.time_ns()
        second, within = divmod(ns, NANOS)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(second)).encode()
        return b"%s.%03d" % (self._prefix, within // 1_000_000)


_clock = _Clock()


def _required(fields: dict[bytes, bytes], tag: bytes, msg_type: bytes, seq: int) -> bytes:
    value = fields.get(tag)
    if value is None:
        raise InvalidMessage(f"{_type_name(msg_type)} {seq}: missing {_tag_name(tag)}", seq)
    return value


def _invalid(msg_type: bytes, seq: int | None, tag: bytes, value: bytes) -> InvalidMessage:
    where = f"{_type_name(msg_type)} {seq}" if seq else _type_name(msg_type)
    return InvalidMessage(f"{where}: {_tag_name(tag)} {value.decode(errors='replace')!r} is invalid", seq)


def _number(fields: dict[bytes, bytes], tag: bytes, msg_type: bytes, seq: int) -> int:
    value = _required(fields, tag, msg_type, seq)
    if not value.isdigit():
        raise _invalid(msg_type, seq, tag, value)
    return int(value)


def _decimal(
    fields: dict[bytes, bytes], tag: bytes, msg_type: bytes, seq: int, *, required: bool, least: int | None
) -> int:
    """The decimal value of ``tag`` (0 if absent and not ``required``), at least ``least`` if
    that is given."""
    value = _required(fields, tag, msg_type, seq) if required else fields.get(tag)
    if value is None:
        return 0
    number = parse_decimal(value)
    if number is None or (least is not None and number < least):
        raise _invalid(msg_type, seq, tag, value)
    return number


def _code(fields: dict[bytes, bytes], tag: bytes, msg_type: bytes, seq: int, allowed: bytes) -> bytes:
    value = _required(fields, tag, msg_type, seq)
    if len(value) != 1 or value not in allowed:
        raise _invalid(msg_type, seq, tag, value)
    return value


def read_header(fields: list[Field]) -> tuple[int, bool, bytes, bytes, int]:
    """The standard header: MsgSeqNum, PossDupFlag, SenderCompID, TargetCompID and the index of
    the body's first field. Raises :class:`InvalidMessage` naming a missing or invalid field."""
    values: dict[bytes, bytes] = {}
    index = 1
    count = len(fields)
    while index < count:
        tag, value = fields[index]
        if tag not in HEADER_TAGS:
            break
        values.setdefault(tag, value)
        index += 1
    msg_type = fields[0][1]
    seq_text = values.get(MSG_SEQ_NUM)
    seq = int(seq_text) if seq_text is not None and seq_text.isdigit() and int(seq_text) > 0 else None
    for tag in (SENDER_COMP_ID, TARGET_COMP_ID, MSG_SEQ_NUM, SENDING_TIME):
        if tag not in values:
            raise InvalidMessage(f"{_type_name(msg_type)}: missing {_tag_name(tag)}", seq)
    if seq is None:
        raise _invalid(msg_type, None, MSG_SEQ_NUM, values[MSG_SEQ_NUM])
    if not _UTC_TIMESTAMP.fullmatch(values[SENDING_TIME]):
        raise _invalid(msg_type, seq, SENDING_TIME, values[SENDING_TIME])
    poss_dup = values.get(POSS_DUP_FLAG, b"N")
    if poss_dup not in (b"Y", b"N"):
        raise _invalid(msg_type, seq, POSS_DUP_FLAG, poss_dup)
    return seq, poss_dup == b"Y", values[SENDER_COMP_ID], values[TARGET_COMP_ID], index


#: The session-level message types.
_ADMIN_TYPES = frozenset((b"A", b"0", b"1", b"2", b"3", b"4", b"5"))


class _Admin(NamedTuple):
    """What the session acts on in a session-level message."""

    #: Logon: ResetSeqNumFlag (141).
    reset: bool = False
    #: TestRequest: TestReqID (112).
    test_req_id: bytes = b""
    #: ResendRequest: BeginSeqNo (7) and EndSeqNo (16).
    begin: int = 0
    end: int = 0
    #: SequenceReset: GapFillFlag (123) and NewSeqNo (36).
    gap_fill: bool = False
    new_seq_no: int = 0


_NO_ADMIN = _Admin()


def _decode_admin(msg_type: bytes, body: dict[bytes, bytes], seq: int) -> _Admin:
    """The values of a session-level message; raises :class:`InvalidMessage` naming a required
    field that is missing or invalid."""
    if msg_type == b"A":
        if _number(body, b"108", msg_type, seq) <= 0:
            raise _invalid(msg_type, seq, b"108", body[b"108"])
        return _Admin(reset=_flag(body, b"141", msg_type, seq))
    if msg_type == b"1":
        return _Admin(test_req_id=_required(body, b"112", msg_type, seq))
    if msg_type == b"2":
        begin = _number(body, b"7", msg_type, seq)
        if begin <= 0:
            raise _invalid(msg_type, seq, b"7", body[b"7"])
        return _Admin(begin=begin, end=_number(body, b"16", msg_type, seq))
    if msg_type == b"4":
        new_seq_no = _number(body, b"36", msg_type, seq)
        if new_seq_no <= 0:
            raise _invalid(msg_type, seq, b"36", body[b"36"])
        return _Admin(gap_fill=_flag(body, b"123", msg_type, seq), new_seq_no=new_seq_no)
    return _NO_ADMIN


def _flag(body: dict[bytes, bytes], tag: bytes, msg_type: bytes, seq: int) -> bool:
    """A Y/N field, N when absent."""
    value = body.get(tag, b"N")
    if value not in (b"Y", b"N"):
        raise _invalid(msg_type, seq, tag, value)
    return value == b"Y"


class Incoming(enum.Enum):
    """What a received message was, to its session."""

    #: An application message, in sequence: the owner decodes and applies it.
    APP = "app"
    #: The Logon handshake completed.
    LOGGED_ON = "logged on"
    #: A session-level message, dealt with.
    ADMIN = "admin"
    #: A possible duplicate already taken, skipped.
    DUPLICATE = "duplicate"
    #: Beyond a gap: not delivered; the replay brings it again.
    DISCARDED = "discarded"
    #: The peer logged out; the session is closed.
    LOGGED_OUT = "logged out"


class State(enum.Enum):
    """Where a session is."""

    AWAITING_LOGON = "awaiting logon"
    ACTIVE = "active"
    LOGOUT_SENT = "logout sent"
    CLOSED = "closed"


class _Recovery:
    """An outstanding ResendRequest."""

    __slots__ = ("for_replay_hole", "replay_started", "requested_at_ns")

    def __init__(self, requested_at_ns: int, for_replay_hole: bool) -> None:
        self.requested_at_ns = requested_at_ns
        #: A possible duplicate has filled the next number since the request.
        self.replay_started = False
        #: Asked because a replay skipped a number (the rest of it is beyond the gap too).
        self.for_replay_hole = for_replay_hole


class FixSession:
    """The initiator's side of one FIX 4.4 session on one connection: numbering, the Logon
    handshake (afresh, ResetSeqNumFlag=Y), heartbeats and test requests, gaps and resends, as
    tickrail's ``protocols/src/fix_session.rs`` does. ``write`` takes every byte to send; the
    Logon is written at once. Times are ``time.monotonic_ns()``."""

    def __init__(
        self, sender: str, target: str, heartbeat_s: int, write: Callable[[bytes], None], now_ns: int
    ) -> None:
        self.sender = sender.encode()
        self.target = target.encode()
        self.heartbeat_ns = heartbeat_s * NANOS
        self.state = State.AWAITING_LOGON
        self.next_out = 1
        self.next_in = 1
        self.highest_seen = 0
        self.started_ns = now_ns
        self.last_sent_ns = now_ns
        self.last_received_ns = now_ns
        self.logout_sent_ns = 0
        #: When the outstanding TestRequest was sent, and how many were.
        self.test_request_ns: int | None = None
        self.test_requests = 0
        self.recovery: _Recovery | None = None
        #: Gaps opened and filled, ResendRequests sent, duplicates skipped, messages refused.
        self.gaps = 0
        self.recoveries = 0
        self.resend_requests = 0
        self.duplicates = 0
        self.invalid = 0
        self._write = write
        self._header = b"\x0149=" + self.sender + b"\x0156=" + self.target + b"\x0134="
        self.send(b"A", b"98=0\x01108=%d\x01141=Y\x01" % heartbeat_s, now_ns)

    def encode(self, msg_type: bytes, body: bytes, seq: int, extra_header: bytes = b"") -> bytes:
        """``body`` (whole fields) as message ``seq`` of type ``msg_type``, framed."""
        payload = b"35=%s%s%d\x0152=%s\x01%s%s" % (
            msg_type,
            self._header,
            seq,
            _clock.now(),
            extra_header,
            body,
        )
        message = b"%s9=%d\x01%s" % (BEGIN_STRING, len(payload), payload)
        return b"%s10=%03d\x01" % (message, sum(message) & 0xFF)

    def send(self, msg_type: bytes, body: bytes, now_ns: int) -> None:
        """Numbers and writes ``body`` (whole fields) as a message of type ``msg_type``."""
        self._write(self.encode(msg_type, body, self.next_out))
        self.next_out += 1
        self.last_sent_ns = now_ns

    def is_gap_open(self) -> bool:
        """Whether messages from the venue were lost and are not yet replayed."""
        return self.recovery is not None

    def unrecovered(self) -> int:
        """How many message numbers of an open gap were never delivered (0 with no gap)."""
        return self.highest_seen - self.next_in + 1 if self.recovery is not None else 0

    def logout(self, now_ns: int) -> None:
        """Sends Logout; the session closes when the peer answers (or after an interval)."""
        if self.state is State.CLOSED:
            return
        self.send(b"5", b"", now_ns)
        self.state = State.LOGOUT_SENT
        self.logout_sent_ns = now_ns

    def fail(self, error: SessionError, now_ns: int) -> SessionError:
        """Ends the session with a Logout naming ``error``, which is returned (to raise)."""
        if self.state is not State.CLOSED:
            text = str(error).replace("\x01", " ").encode(errors="replace")
            self.send(b"5", b"58=%s\x01" % text, now_ns)
            self.state = State.CLOSED
        return error

    def reject(self, error: InvalidMessage, now_ns: int) -> None:
        """Refuses an application message taken in sequence (its number is used up) that did
        not decode: a Reject naming what was wrong."""
        self.invalid += 1
        self._send_reject(error, now_ns)

    def _send_reject(self, error: InvalidMessage, now_ns: int) -> None:
        text = str(error).replace("\x01", " ").encode(errors="replace")
        self.send(b"3", b"45=%d\x0158=%s\x01" % (error.seq or 0, text), now_ns)

    def on_frame(self, fields: list[Field], now_ns: int) -> tuple[Incoming, int, int]:
        """Takes one framed message: what it was, its MsgSeqNum and the index of its body's
        first field. Raises :class:`InvalidMessage` for a message refused (the session goes
        on) and :class:`SessionError` when the session is over."""
        self.last_received_ns = now_ns
        self.test_request_ns = None
        msg_type = fields[0][1]
        try:
            seq, poss_dup, sender, target, index = read_header(fields)
            admin = (
                _decode_admin(msg_type, dict(fields[index:]), seq) if msg_type in _ADMIN_TYPES else _NO_ADMIN
            )
        except InvalidMessage as error:
            raise self._on_invalid(error, now_ns) from None
        logon = self.state is State.AWAITING_LOGON
        if logon:
            self._on_logon(msg_type, sender, target, now_ns)
            if admin.reset:
                # A Logon that starts afresh is number 1, whatever it says; ours was 1 too.
                self.next_in, self.highest_seen, self.recovery = 1, 0, None
                seq = 1
        if msg_type == b"4" and not admin.gap_fill:
            # Reset mode ignores the message's own number.
            self.next_in = max(self.next_in, admin.new_seq_no)
            self._close_gap_if_filled()
            return Incoming.ADMIN, seq, index
        self.highest_seen = max(self.highest_seen, seq)
        if seq < self.next_in:
            if poss_dup:
                self.duplicates += 1
                return Incoming.DUPLICATE, seq, index
            low = SessionError(
                f"MsgSeqNum {seq} is below the expected {self.next_in} and not a possible duplicate"
            )
            raise self.fail(low, now_ns)
        if seq > self.next_in:
            # A ResendRequest is answered even across a gap, so both sides can recover.
            if msg_type == b"2":
                self._serve_resend(admin.begin, admin.end, now_ns)
            self._on_beyond_gap(poss_dup, now_ns)
            return (Incoming.LOGGED_ON if logon else Incoming.DISCARDED), seq, index
        self.next_in += 1
        if poss_dup and self.recovery is not None:
            self.recovery.replay_started = True
        incoming = self._dispatch(msg_type, admin, now_ns) if msg_type in _ADMIN_TYPES else Incoming.APP
        self._close_gap_if_filled()
        return incoming, seq, index

    def _on_logon(self, msg_type: bytes, sender: bytes, target: bytes, now_ns: int) -> None:
        if msg_type != b"A":
            raise self.fail(SessionError(f"expected Logon first, got {_type_name(msg_type)}"), now_ns)
        if sender != self.target or target != self.sender:
            wrong = SessionError(
                f"Logon from {sender.decode(errors='replace')!r} to {target.decode(errors='replace')!r} "
                f"does not belong to this session ({self.sender.decode()} to {self.target.decode()})"
            )
            raise self.fail(wrong, now_ns)
        self.state = State.ACTIVE

    def _on_invalid(self, error: InvalidMessage, now_ns: int) -> FixError:
        """A framed message that does not decode: refused with a Reject if its number can be
        read (the number is used up), else the session cannot go on."""
        self.invalid += 1
        seq = error.seq
        if seq is None or self.state is State.AWAITING_LOGON:
            return self.fail(SessionError(f"unreadable header: {error}"), now_ns)
        self.highest_seen = max(self.highest_seen, seq)
        if seq == self.next_in:
            self.next_in += 1
            self._send_reject(error, now_ns)
            self._close_gap_if_filled()
        elif seq > self.next_in:
            self._on_beyond_gap(False, now_ns)
        return error

    def _request_resend(self, for_replay_hole: bool, now_ns: int) -> None:
        self.send(b"2", b"7=%d\x0116=0\x01" % self.next_in, now_ns)
        self.resend_requests += 1
        self.recovery = _Recovery(now_ns, for_replay_hole)

    def _on_beyond_gap(self, poss_dup: bool, now_ns: int) -> None:
        recovery = self.recovery
        if recovery is None:
            self.gaps += 1
            self._request_resend(False, now_ns)
        elif recovery.replay_started:
            # The replay is over (or went on past a hole) and a number is still missing.
            self._request_resend(False, now_ns)
        elif poss_dup and not recovery.for_replay_hole:
            # The replay skipped a number.
            self._request_resend(True, now_ns)
        # Else a live message sent before the venue saw our request: the replay has it too.

    def _close_gap_if_filled(self) -> None:
        if self.recovery is not None and self.next_in > self.highest_seen:
            self.recovery = None
            self.recoveries += 1

    def _dispatch(self, msg_type: bytes, admin: _Admin, now_ns: int) -> Incoming:
        if msg_type == b"A":
            return Incoming.LOGGED_ON
        if msg_type == b"1":
            self.send(b"0", b"112=%s\x01" % admin.test_req_id, now_ns)
        elif msg_type == b"2":
            self._serve_resend(admin.begin, admin.end, now_ns)
        elif msg_type == b"4":
            self.next_in = max(self.next_in, admin.new_seq_no)
        elif msg_type == b"5":
            if self.state is not State.LOGOUT_SENT:
                self.send(b"5", b"", now_ns)
            self.state = State.CLOSED
            return Incoming.LOGGED_OUT
        return Incoming.ADMIN

    def _serve_resend(self, begin: int, end: int, now_ns: int) -> None:
        """Answers a ResendRequest: we keep nothing we sent, so one SequenceReset-GapFill over
        every number asked for."""
        last = self.next_out - 1 if end == 0 else min(end, self.next_out - 1)
        if begin > last:
            return
        extra = b"43=Y\x01122=%s\x01" % _clock.now()
        self._write(self.encode(b"4", b"123=Y\x0136=%d\x01" % (last + 1), begin, extra))
        self.last_sent_ns = now_ns

    def on_timer(self, now_ns: int) -> None:
        """Heartbeats, test requests, overdue resend requests and timeouts; raises
        :class:`SessionError` when the session is over."""
        interval = self.heartbeat_ns
        if self.state is State.CLOSED:
            return
        if self.state is State.AWAITING_LOGON:
            if now_ns - self.started_ns >= 2 * interval:
                waited = (now_ns - self.started_ns) // 1_000_000
                raise self.fail(SessionError(f"no Logon within {waited} ms"), now_ns)
            return
        if self.state is State.LOGOUT_SENT:
            if now_ns - self.logout_sent_ns >= interval:
                self.state = State.CLOSED
            return
        silent = now_ns - self.last_received_ns
        if self.test_request_ns is not None and now_ns - self.test_request_ns >= interval:
            raise self.fail(SessionError(f"the venue has been silent for {silent // 1_000_000} ms"), now_ns)
        if self.test_request_ns is None and silent >= interval + interval // 5:
            self.test_requests += 1
            self.send(b"1", b"112=%d\x01" % self.test_requests, now_ns)
            self.test_request_ns = now_ns
        if self.recovery is not None and now_ns - self.recovery.requested_at_ns >= interval:
            self._request_resend(False, now_ns)
        if now_ns - self.last_sent_ns >= interval:
            self.send(b"0", b"", now_ns)


#: A market-data entry: MDUpdateAction, MDEntryType, Symbol, price and size in units of 1e-9.
Entry = tuple[bytes, bytes, bytes, int, int]

_CODES = frozenset((b"0", b"1", b"2"))
_NEW, _CHANGE, _DELETE = b"0", b"1", b"2"
_BID, _OFFER, _TRADE = b"0", b"1", b"2"


def decode_entries(fields: list[Field], index: int, seq: int, snapshot_symbol: bytes | None) -> list[Entry]:
    """The NoMDEntries (268) group of a refresh (``X``: entries start with MDUpdateAction) or of
    a snapshot of ``snapshot_symbol`` (``W``: entries start with MDEntryType and are all new),
    from ``fields[index:]``. Raises :class:`InvalidMessage` naming what is missing or wrong."""
    msg_type = b"X" if snapshot_symbol is None else b"W"
    count_at = index
    total = len(fields)
    while count_at < total and fields[count_at][0] != NO_MD_ENTRIES:
        count_at += 1
    if count_at == total:
        raise InvalidMessage(f"{_type_name(msg_type)} {seq}: missing NoMDEntries (268)", seq)
    count_text = fields[count_at][1]
    if not count_text.isdigit() or int(count_text) > MAX_ENTRIES:
        raise _invalid(msg_type, seq, NO_MD_ENTRIES, count_text)
    delimiter = MD_UPDATE_ACTION if snapshot_symbol is None else MD_ENTRY_TYPE
    group = fields[count_at + 1 :]
    if group and group[0][0] != delimiter:
        raise InvalidMessage(
            f"{_type_name(msg_type)} {seq}: NoMDEntries (268): an entry starts with "
            f"{_tag_name(group[0][0])}, not with {_tag_name(delimiter)}",
            seq,
        )
    starts = [at for at, (tag, _) in enumerate(group) if tag == delimiter]
    if len(starts) != int(count_text):
        raise InvalidMessage(
            f"{_type_name(msg_type)} {seq}: NoMDEntries (268) is {int(count_text)}, "
            f"but {len(starts)} entries follow",
            seq,
        )
    starts.append(len(group))
    return [_entry(dict(group[start:end]), msg_type, seq, snapshot_symbol) for start, end in pairwise(starts)]


def _entry(entry: dict[bytes, bytes], msg_type: bytes, seq: int, snapshot_symbol: bytes | None) -> Entry:
    """One entry's values, checked at once; what is wrong is worked out only when something is."""
    action = _NEW if snapshot_symbol is not None else entry.get(MD_UPDATE_ACTION)
    entry_type = entry.get(MD_ENTRY_TYPE)
    symbol = snapshot_symbol or entry.get(SYMBOL)
    price = parse_decimal(entry.get(MD_ENTRY_PX, b""))
    size_text = entry.get(MD_ENTRY_SIZE)
    size = parse_decimal(size_text) if size_text is not None else 0 if action == _DELETE else None
    if (
        action in _CODES
        and entry_type in _CODES
        and symbol
        and price is not None
        and price > 0
        and size is not None
        and size >= 0
    ):
        return action, entry_type, symbol, price, size
    if snapshot_symbol is None:
        _code(entry, MD_UPDATE_ACTION, msg_type, seq, b"012")
    _code(entry, MD_ENTRY_TYPE, msg_type, seq, b"012")
    if snapshot_symbol is None:
        _required(entry, SYMBOL, msg_type, seq)
    _decimal(entry, MD_ENTRY_PX, msg_type, seq, required=True, least=1)
    _decimal(entry, MD_ENTRY_SIZE, msg_type, seq, required=True, least=0)
    raise AssertionError("an entry that failed its checks passed them one by one")


class _Book:
    """One symbol's price levels (price to size, units of 1e-9) with its best prices kept."""

    __slots__ = ("ask", "asks", "bid", "bids", "instrument", "known")

    def __init__(self, instrument: int) -> None:
        self.instrument = instrument
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        #: Best bid and ask, 0 where a side is empty.
        self.bid = 0
        self.ask = 0
        #: It has had its snapshot and every refresh since fitted it.
        self.known = False

    def set_bid(self, price: int, size: int) -> None:
        """Sets the bid level at ``price`` to ``size`` (0 removes it)."""
        if size:
            self.bids[price] = size
            if price > self.bid:
                self.bid = price
        else:
            del self.bids[price]
            if price == self.bid:
                self.bid = max(self.bids) if self.bids else 0

    def set_ask(self, price: int, size: int) -> None:
        """Sets the ask level at ``price`` to ``size`` (0 removes it)."""
        if size:
            self.asks[price] = size
            if not self.ask or price < self.ask:
                self.ask = price
        else:
            del self.asks[price]
            if price == self.ask:
                self.ask = min(self.asks) if self.asks else 0

    def replace(self, entries: list[Entry]) -> None:
        """Becomes the book of a snapshot's entries."""
        self.bids = {price: size for _, side, _, price, size in entries if side == _BID and size}
        self.asks = {price: size for _, side, _, price, size in entries if side == _OFFER and size}
        self.bid = max(self.bids) if self.bids else 0
        self.ask = min(self.asks) if self.asks else 0
        self.known = True


class _FixStream(asyncio.Protocol):
    """A FIX connection's reading side, shared by the feed and the gateway: the bytes read are
    cut into messages, each handed to :meth:`_on_message` with the read's time; a framing error
    ends the connection (nothing after it can be cut), a session error closes it."""

    _session: FixSession | None
    _transport: asyncio.Transport | None
    _pending: bytes

    def _on_message(self, fields: list[Field], received_ns: int) -> None:
        raise NotImplementedError

    def _refuse(self, error: FixError) -> None:
        raise NotImplementedError

    def _unframed(self) -> None:
        """A message could not be cut out of the stream (before the connection is aborted)."""

    def _session_timer(self) -> bool:
        """Runs the session's timer (heartbeats, test requests, a silent peer); whether the
        connection goes on."""
        session = self._session
        if session is None or self._transport is None:
            return False
        try:
            session.on_timer(time.monotonic_ns())
        except SessionError as error:
            self._refuse(error)
            self._transport.close()
            return False
        if session.state is State.CLOSED:
            self._transport.close()
            return False
        return True

    def data_received(self, data: bytes) -> None:
        """Handles every whole message read; keeps the rest for the next read."""
        received_ns = time.monotonic_ns()
        if self._pending:
            data = self._pending + data
        at = 0
        end = len(data)
        try:
            while at < end and self._session is not None:
                framed = frame(data, at)
                if framed is None:
                    break
                fields, at = framed
                self._on_message(fields, received_ns)
        except FramingError as error:
            self._refuse(error)
            self._unframed()
            if self._transport is not None:
                self._transport.abort()
            return
        except SessionError as error:
            self._refuse(error)
            if self._transport is not None:
                self._transport.close()
            return
        self._pending = data[at:]
        if self._session is not None and self._session.state is State.CLOSED and self._transport is not None:
            self._transport.close()


class Feed(_FixStream):
    """Venue B's market-data handler: one FIX connection (reconnected when it drops), a book
    per listed symbol, ``on_book`` after every message that changed a book, once per book.

    Besides :attr:`messages` and :attr:`lost` it counts what went wrong: messages refused
    (:attr:`invalid`, the last error in :attr:`last_error`), refresh entries that did not fit
    their book (:attr:`book_errors`), subscriptions refused, connections made and connection
    attempts that failed; the session's gap counters are summed over connections."""

    def __init__(
        self,
        address: tuple[str, int],
        symbols: dict[str, int],
        on_book: OnBook,
        *,
        sender: str = FEED_SENDER,
        target: str = VENUE_COMP_ID,
    ) -> None:
        self.messages = 0
        self.lost = 0
        self.invalid = 0
        self.book_errors = 0
        self.refused_subscriptions = 0
        self.connections = 0
        self.connect_failures = 0
        self.gaps = 0
        self.recoveries = 0
        self.last_error: FixError | None = None
        self._address = address
        self._sender = sender
        self._target = target
        self._on_book = on_book
        self._books = {name.encode(): _Book(instrument) for name, instrument in symbols.items()}
        self._transport: asyncio.Transport | None = None
        self._session: FixSession | None = None
        self._ended: asyncio.Future[None] | None = None
        self._pending = b""
        self._requests = 0

    async def run(self) -> None:
        """Connects, logs on and subscribes; applies what comes until cancelled (then logs
        out), connecting again whenever the connection drops."""
        loop = asyncio.get_running_loop()
        host, port = self._address
        try:
            while True:
                self._ended = loop.create_future()
                try:
                    await loop.create_connection(lambda: self, host, port)
                except OSError:
                    self.connect_failures += 1
                    await asyncio.sleep(RECONNECT_DELAY_S)
                    continue
                while not self._ended.done():
                    await asyncio.wait((self._ended,), timeout=TIMER_PERIOD_S)
                    self._on_timer()
                await asyncio.sleep(RECONNECT_DELAY_S)
        finally:
            if self._transport is not None and not self._transport.is_closing():
                if self._session is not None:
                    self._session.logout(time.monotonic_ns())
                self._transport.close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """A new connection: a fresh session, whose Logon goes out at once."""
        # uvloop's transports are asyncio's in all but class.
        self._transport = transport = cast(asyncio.Transport, transport)
        self._pending = b""
        self.connections += 1
        self._session = FixSession(
            self._sender, self._target, HEARTBEAT_S, transport.write, time.monotonic_ns()
        )

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection ended: what an open gap held is lost, every book is unknown until a
        new session's snapshot."""
        session = self._session
        if session is not None:
            self.lost += session.unrecovered()
            self.gaps += session.gaps
            self.recoveries += session.recoveries
        self._session = None
        self._transport = None
        for book in self._books.values():
            book.known = False
        if self._ended is not None and not self._ended.done():
            self._ended.set_result(None)

    def _unframed(self) -> None:
        self.lost += 1

    def _on_message(self, fields: list[Field], received_ns: int) -> None:
        session = self._session
        assert session is not None
        try:
            incoming, seq, index = session.on_frame(fields, received_ns)
        except InvalidMessage as error:
            self._refuse_message(error, received_ns)
            return
        if incoming is not Incoming.APP:
            if incoming is Incoming.LOGGED_ON:
                self._subscribe(list(self._books))
            return
        msg_type = fields[0][1]
        try:
            if msg_type == b"X":
                self._apply_refresh(decode_entries(fields, index, seq, None), received_ns)
            elif msg_type == b"W":
                symbol = _required(dict(fields[index:]), SYMBOL, msg_type, seq)
                self._apply_snapshot(symbol, decode_entries(fields, index, seq, symbol), received_ns)
            elif msg_type == b"Y":
                text = dict(fields[index:]).get(b"58", b"no reason").decode(errors="replace")
                self.refused_subscriptions += 1
                self.last_error = FixError(f"subscription refused: {text}")
                log.warning("venue B feed: %s", self.last_error)
        except InvalidMessage as error:
            session.reject(error, received_ns)
            self._refuse_message(error, received_ns)

    def _refuse(self, error: FixError) -> None:
        self.invalid += 1
        self.last_error = error
        log.warning("venue B feed: %s", error)

    def _refuse_message(self, error: InvalidMessage, now_ns: int) -> None:
        """A refused message may have been a refresh: no book can be trusted until it is sent
        whole again."""
        self._refuse(error)
        self.lost += 1
        for book in self._books.values():
            book.known = False
        self._subscribe(list(self._books))

    def _subscribe(self, symbols: list[bytes]) -> None:
        """Asks for snapshots and refreshes of ``symbols``, as the production feed does."""
        session = self._session
        assert session is not None
        self._requests += 1
        listed = b"".join(b"55=%s\x01" % symbol for symbol in symbols)
        request = b"262=%d\x01263=1\x01264=0\x01265=1\x01267=3\x01269=0\x01269=1\x01269=2\x01146=%d\x01%s" % (
            self._requests,
            len(symbols),
            listed,
        )
        session.send(b"V", request, time.monotonic_ns())

    def _apply_snapshot(self, symbol: bytes, entries: list[Entry], received_ns: int) -> None:
        self.messages += 1
        book = self._books.get(symbol)
        if book is None:
            self._refuse(FixError(f"snapshot of {symbol!r}, which the feed does not keep"))
            return
        book.replace(entries)
        self._publish(book, received_ns)

    def _apply_refresh(self, entries: list[Entry], received_ns: int) -> None:
        self.messages += 1
        books = self._books
        touched: list[_Book] = []
        for action, entry_type, symbol, price, size in entries:
            if entry_type == _TRADE:
                continue
            book = books.get(symbol)
            if book is None or not book.known:
                continue
            levels = book.bids if entry_type == _BID else book.asks
            had = price in levels
            if action == _NEW:
                fits = not had and size > 0
            elif action == _CHANGE:
                fits = had and size > 0
            else:
                fits = had
                size = 0
            if not fits:
                self._misfit(book, symbol, action, entry_type, price)
                continue
            if entry_type == _BID:
                book.set_bid(price, size)
            else:
                book.set_ask(price, size)
            if book not in touched:
                touched.append(book)
        for book in touched:
            if book.known:
                self._publish(book, received_ns)

    def _misfit(self, book: _Book, symbol: bytes, action: bytes, entry_type: bytes, price: int) -> None:
        """A refresh entry that does not fit its book: the book is unknown until its snapshot,
        which is asked for again."""
        self.book_errors += 1
        what = {_NEW: "New", _CHANGE: "Change", _DELETE: "Delete"}[action]
        side = "bid" if entry_type == _BID else "offer"
        self.last_error = FixError(
            f"{what} of {symbol.decode()} {side} at {format_decimal(price).decode()} does not fit the book; "
            "resubscribing"
        )
        book.known = False
        self._subscribe([symbol])

    def _publish(self, book: _Book, received_ns: int) -> None:
        bid, ask = book.bid, book.ask
        self._on_book(
            book.instrument,
            bid,
            book.bids[bid] if bid else 0,
            ask,
            book.asks[ask] if ask else 0,
            received_ns,
        )

    def _on_timer(self) -> None:
        self._session_timer()


#: ExecType (150) codes venue B sends, and OrdStatus (39) codes.
_EXEC_TYPES = b"0458F"
_ORD_STATUSES = b"01248"
_FILLED = b"2"
#: Fields an ExecutionReport must have.
_EXECUTION_REQUIRED = (b"37", b"11", b"17", b"150", b"39", b"55", b"54", b"151", b"14", b"6")


def order_id(text: bytes) -> int:
    """Our order id in a ClOrdID: its digits, a cancel request's ``C`` dropped. Raises
    :class:`ForeignReport` for any other text."""
    digits = text[:-1] if text.endswith(b"C") else text
    if not digits.isdigit() or len(digits) > 20:
        raise ForeignReport(f"ClOrdID {text.decode(errors='replace')!r} is not one of our order ids")
    return int(digits)


def decode_report(fields: list[Field], index: int, seq: int) -> tuple[Report, bool]:
    """The report an ExecutionReport (``8``) or OrderCancelReject (``9``) carries, and whether
    it ends the order it names (cancelled, rejected or filled). Raises :class:`InvalidMessage`
    naming a missing or invalid field, :class:`ForeignReport` for an order not ours."""
    msg_type = fields[0][1]
    body = dict(fields[index:])
    if msg_type == b"9":
        for tag in (b"37", b"11", b"41"):
            _required(body, tag, msg_type, seq)
        _code(body, b"39", msg_type, seq, _ORD_STATUSES)
        if _code(body, b"434", msg_type, seq, b"12") == b"1":
            return Report(Kind.CANCEL_REJECTED, order_id(body[b"41"])), False
        return Report(Kind.REPLACE_REJECTED, order_id(body[b"11"]), order_id(body[b"41"])), False
    for tag in _EXECUTION_REQUIRED:
        _required(body, tag, msg_type, seq)
    exec_type = _code(body, b"150", msg_type, seq, _EXEC_TYPES)
    ord_status = _code(body, b"39", msg_type, seq, _ORD_STATUSES)
    _code(body, b"54", msg_type, seq, b"12")
    for tag in (b"151", b"14"):
        _decimal(body, tag, msg_type, seq, required=True, least=0)
    _decimal(body, b"6", msg_type, seq, required=True, least=None)
    id = order_id(body[b"11"])
    original = body.get(b"41")
    if exec_type == b"0":
        return Report(Kind.ACCEPTED, id), False
    if exec_type == b"F":
        quantity = _decimal(body, b"32", msg_type, seq, required=True, least=0)
        price = _decimal(body, b"31", msg_type, seq, required=True, least=None)
        return Report(Kind.FILL, id, quantity=quantity, price=price), ord_status == _FILLED
    if exec_type == b"4":
        return Report(Kind.CANCELED, order_id(original) if original else id), True
    if exec_type == b"5":
        return Report(Kind.REPLACED, id, order_id(original) if original else id), False
    return Report(Kind.REJECTED, id), True


class Gateway(_FixStream):
    """Venue B's order entry: one FIX session, orders written at once, ``on_report`` for every
    ExecutionReport and OrderCancelReject, in the venue's order. It keeps each working order's
    symbol and side (a replace or cancel must repeat them) until the order is done.

    Reports it could not use are counted in :attr:`invalid` (the last in :attr:`last_error`)."""

    def __init__(
        self,
        address: tuple[str, int],
        sender: str,
        target: str,
        symbols: dict[str, int],
        on_report: OnReport,
    ) -> None:
        self.invalid = 0
        self.last_error: FixError | None = None
        self._address = address
        self._sender = sender
        self._target = target
        self._names = {instrument: name.encode() for name, instrument in symbols.items()}
        self._on_report = on_report
        #: Working orders: id to (Symbol, Side) as on the wire.
        self._orders: dict[int, tuple[bytes, bytes]] = {}
        self._transport: asyncio.Transport | None = None
        self._session: FixSession | None = None
        self._logged_on: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._pending = b""

    async def connect(self) -> None:
        """Connects and logs on; returns once the venue has answered the Logon. Raises
        :class:`SessionError` if it refuses or does not answer in time."""
        loop = asyncio.get_running_loop()
        self._logged_on = loop.create_future()
        host, port = self._address
        await loop.create_connection(lambda: self, host, port)
        try:
            await asyncio.wait_for(asyncio.shield(self._logged_on), LOGON_TIMEOUT_S)
        except TimeoutError:
            self.close()
            raise SessionError(f"venue B did not answer our Logon within {LOGON_TIMEOUT_S} s") from None
        self._timer = loop.call_later(TIMER_PERIOD_S, self._tick)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Sends the Logon."""
        # uvloop's transports are asyncio's in all but class.
        self._transport = transport = cast(asyncio.Transport, transport)
        self._session = FixSession(
            self._sender, self._target, HEARTBEAT_S, transport.write, time.monotonic_ns()
        )

    def connection_lost(self, exc: Exception | None) -> None:
        """The session is over; nothing more can be sent."""
        self._transport = None
        if self._session is not None:
            self._session.state = State.CLOSED
        if self._timer is not None:
            self._timer.cancel()
        if self._logged_on is not None and not self._logged_on.done():
            self._logged_on.set_exception(
                SessionError(f"venue B closed the connection before its Logon ({exc})")
            )

    def _send(self, msg_type: bytes, body: bytes) -> None:
        session = self._session
        if session is None or session.state is not State.ACTIVE:
            raise ConnectionError("venue B's order session is not logged on")
        session.send(msg_type, body, time.monotonic_ns())

    def new(self, id: int, instrument: int, buy: bool, price: int, quantity: int) -> None:
        """Writes a NewOrderSingle: a day limit order."""
        symbol = self._names.get(instrument)
        if symbol is None:
            raise ValueError(f"venue B does not list instrument {instrument}")
        side = b"1" if buy else b"2"
        self._orders[id] = (symbol, side)
        self._send(
            b"D",
            b"11=%d\x0155=%s\x0154=%s\x0160=%s\x0138=%s\x0140=2\x0144=%s\x01"
            % (id, symbol, side, _clock.now(), format_decimal(quantity), format_decimal(price)),
        )

    def _working(self, id: int) -> tuple[bytes, bytes]:
        order = self._orders.get(id)
        if order is None:
            raise ValueError(f"order {id} is not working on venue B")
        return order

    def replace(self, original: int, id: int, price: int, quantity: int) -> None:
        """Writes an OrderCancelReplaceRequest of ``original`` by ``id``; ``quantity`` is the new
        total, filled part included."""
        symbol, side = self._working(original)
        self._orders[id] = (symbol, side)
        self._send(
            b"G",
            b"41=%d\x0111=%d\x0155=%s\x0154=%s\x0160=%s\x0138=%s\x0140=2\x0144=%s\x01"
            % (original, id, symbol, side, _clock.now(), format_decimal(quantity), format_decimal(price)),
        )

    def cancel(self, id: int) -> None:
        """Writes an OrderCancelRequest of ``id`` (ClOrdID ``<id>C``)."""
        symbol, side = self._working(id)
        self._send(
            b"F", b"41=%d\x0111=%dC\x0155=%s\x0154=%s\x0160=%s\x01" % (id, id, symbol, side, _clock.now())
        )

    def close(self) -> None:
        """Logs out and closes the socket."""
        if self._timer is not None:
            self._timer.cancel()
        if self._transport is not None and not self._transport.is_closing():
            if self._session is not None:
                self._session.logout(time.monotonic_ns())
            self._transport.close()

    def _on_message(self, fields: list[Field], now_ns: int) -> None:
        session = self._session
        assert session is not None
        try:
            incoming, seq, index = session.on_frame(fields, now_ns)
        except InvalidMessage as error:
            self._refuse(error)
            return
        if incoming is Incoming.LOGGED_ON:
            if self._logged_on is not None and not self._logged_on.done():
                self._logged_on.set_result(None)
            return
        if incoming is not Incoming.APP or fields[0][1] not in (b"8", b"9"):
            return
        try:
            report, done = decode_report(fields, index, seq)
        except InvalidMessage as error:
            session.reject(error, now_ns)
            self._refuse(error)
            return
        except ForeignReport as error:
            self._refuse(error)
            return
        self._follow(report, done)
        self._on_report(report)

    def _follow(self, report: Report, done: bool) -> None:
        """Keeps the working orders' symbols and sides as the venue reports on them."""
        orders = self._orders
        if done:
            orders.pop(report.id, None)
        elif report.kind is Kind.REPLACED and report.original != report.id:
            replaced = orders.pop(report.original, None)
            if replaced is not None:
                orders.setdefault(report.id, replaced)
        elif report.kind is Kind.REPLACE_REJECTED and report.original != report.id:
            orders.pop(report.id, None)

    def _refuse(self, error: FixError) -> None:
        self.invalid += 1
        self.last_error = error
        log.warning("venue B gateway: %s", error)

    def _tick(self) -> None:
        if self._session_timer():
            self._timer = asyncio.get_running_loop().call_later(TIMER_PERIOD_S, self._tick)
