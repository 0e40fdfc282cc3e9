"""FIX 4.4 checked against an independent implementation, ``simplefix``: our codec's framing both
ways, and what venue B actually sends on a live session."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import cast

import pytest
import simplefix  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from tickrail import _native
from tickrail._native import fix_decode, fix_encode
from tickrail.market import flow, listed, market

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


# --- Venue B on the wire, read by simplefix -------------------------------------------------------
#
# A plain socket client logs on to venue B, idles until the venue heartbeats and tests it, asks for
# market data, sends an order, cancels an unknown order and the live one, and logs out. Every byte
# the venue sends is cut into messages by the 10=xxx trailer, parsed by simplefix, and checked
# against FIX 4.4 here: framing on the raw bytes, then the header, then each message's fields.

VENUE = "VENUEB"
US = "ORACLE"
HEART_BT_INT_S = 1
MD_REQ_ID = "oracle-md-1"
PING = "oracle-ping"
ORDER = "oracle-order-1"
UNKNOWN = "oracle-no-such-order"
SYMBOLS = [symbol.name for symbol in listed("b")]

TRAILER = re.compile(rb"\x0110=([^\x01]*)\x01")
FIX_FLOAT = re.compile(rb"-?(\d+(\.\d*)?|\.\d+)")
UTC_TIMESTAMP = re.compile(r"\d{8}-\d{2}:\d{2}:\d{2}(\.\d{3})?")  # FIX 4.4: seconds or milliseconds
# FIX 4.4 StandardHeader fields after BeginString, BodyLength and MsgType.
HEADER_TAGS = frozenset(
    {49, 56, 115, 128, 90, 91, 50, 142, 57, 143, 116, 144, 129, 145, 34, 97, 52, 122, 212, 213, 347, 369}
    | {627, 628, 629, 630}
)
# Repeating-group fields in the order FIX 4.4 defines them (the ones a venue of ours could send).
X_ENTRY_ORDER = (279, 285, 269, 278, 280, 55, 65, 48, 22, 270, 15, 271)
W_ENTRY_ORDER = (269, 270, 15, 271)


@dataclass(frozen=True)
class Received:
    """One message from the venue: its bytes as they came, and the fields simplefix read."""

    raw: bytes
    fields: list[tuple[int, bytes]]

    @property
    def msg_type(self) -> str:
        return self.get(35) or ""

    def get(self, tag: int) -> str | None:
        """The first value of ``tag``, if any."""
        return next((value.decode() for t, value in self.fields if t == tag), None)

    def raw_value(self, tag: int) -> bytes:
        """The first value of ``tag``, which must be there."""
        value = next((value for t, value in self.fields if t == tag), None)
        assert value is not None, f"tag {tag} is missing: {self.show()}"
        return value

    def tags(self) -> list[int]:
        return [tag for tag, _ in self.fields]

    def show(self) -> str:
        return self.raw.replace(b"\x01", b"|").decode(errors="replace")


class FixClient:
    """A FIX 4.4 initiator on a plain socket: messages built by simplefix, every read bounded."""

    def __init__(self, addr: str) -> None:
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=2.0)
        self.sock.settimeout(0.05)
        self.parser = simplefix.FixParser()
        self.stream = b""  # every byte received
        self.pending = b""  # bytes not yet cut into a message
        self.received: list[Received] = []
        self.next_seq = 1
        self.closed = False
        self.answered_test_requests: list[str] = []

    def send(self, msg_type: str, fields: list[tuple[int, str]]) -> int:
        """Sends a message; returns how many messages had come before it (for ``expect``)."""
        message = simplefix.FixMessage()
        message.append_pair(8, "FIX.4.4")
        message.append_pair(35, msg_type)
        message.append_pair(49, US)
        message.append_pair(56, VENUE)
        message.append_pair(34, self.next_seq)
        message.append_utc_timestamp(52, time.time(), precision=3)
        for tag, value in fields:
            message.append_pair(tag, value)
        self.next_seq += 1
        since = len(self.received)
        self.sock.sendall(cast(bytes, message.encode()))
        return since

    def pump(self) -> None:
        """Reads what is there (for up to the socket timeout) and cuts it into messages."""
        if self.closed:
            time.sleep(0.01)
            return
        try:
            data = self.sock.recv(1 << 16)
        except TimeoutError:
            return
        except OSError:
            self.closed = True
            return
        if not data:
            self.closed = True
            return
        self.stream += data
        self.pending += data
        self.parser.append_buffer(data)
        while match := TRAILER.search(self.pending):
            raw, self.pending = self.pending[: match.end()], self.pending[match.end() :]
            parsed = self.parser.get_message()
            assert parsed is not None, f"simplefix found no message in {raw!r}"
            message = Received(raw, [(int(tag), bytes(value)) for tag, value in parsed.pairs])
            self.received.append(message)
            if message.msg_type == "1":  # a TestRequest: answer at once, as a session must
                test_req_id = message.get(112) or ""
                self.answered_test_requests.append(test_req_id)
                self.send("0", [(112, test_req_id)])

    def expect(
        self, what: str, since: int, predicate: Callable[[Received], bool], timeout: float = 3.0
    ) -> Received:
        """The first message from index ``since`` on that satisfies ``predicate``."""
        deadline = time.monotonic() + timeout
        while True:
            found = next((m for m in self.received[since:] if predicate(m)), None)
            if found is not None:
                return found
            if time.monotonic() > deadline:
                types = [m.msg_type for m in self.received[since:]]
                raise AssertionError(f"no {what} within {timeout} s; got MsgTypes {types[:50]}")
            self.pump()

    def wait_closed(self, timeout: float = 2.0) -> bool:
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            self.pump()
        return self.closed


@dataclass
class Conversation:
    """Everything venue B sent, and the answers the test looked for."""

    client: FixClient
    logon: Received
    heartbeat: Received  # unsolicited, while we were idle
    test_request: Received  # the venue's, while we were silent
    pong: Received  # the Heartbeat answering our TestRequest
    snapshots: list[Received]
    refreshes: list[Received]
    new_order: Received
    unknown_cancel: Received
    cancel: Received
    logout: Received
    closed: bool

    @property
    def messages(self) -> list[Received]:
        return self.client.received


def of_type(msg_type: str, **tags: str) -> Callable[[Received], bool]:
    """A predicate: MsgType ``msg_type`` with each ``t<tag>=value`` given."""
    wanted = {int(name[1:]): value for name, value in tags.items()}
    return lambda m: m.msg_type == msg_type and all(m.get(t) == v for t, v in wanted.items())


def entries(message: Received, delimiter: int) -> list[list[tuple[int, bytes]]]:
    """The NoMDEntries (268) group of a W or X, cut at each ``delimiter``; asserts the count."""
    tags = message.tags()
    assert 268 in tags, f"NoMDEntries (268) is required: {message.show()}"
    after = message.fields[tags.index(268) + 1 : -1]  # up to CheckSum
    groups: list[list[tuple[int, bytes]]] = []
    for tag, value in after:
        if tag == delimiter:
            groups.append([])
        assert groups, f"an entry must start with {delimiter}, not {tag}: {message.show()}"
        groups[-1].append((tag, value))
    assert str(len(groups)) == message.get(268), f"NoMDEntries (268) counts the entries: {message.show()}"
    return groups


def talk(client: FixClient) -> Conversation:
    since = client.send("A", [(98, "0"), (108, str(HEART_BT_INT_S)), (141, "Y")])
    logon = client.expect("Logon answer", since, of_type("A"))
    # Idle: after HeartBtInt the venue heartbeats, after a little more it tests us (we answer).
    heartbeat = client.expect("heartbeat", since, lambda m: m.msg_type == "0" and m.get(112) is None)
    test_request = client.expect("test request", since, of_type("1"))
    since = client.send("1", [(112, PING)])
    pong = client.expect("heartbeat answering our test request", since, of_type("0", t112=PING))

    request = [(262, MD_REQ_ID), (263, "1"), (264, "0"), (265, "1"), (267, "3")]
    request += [(269, "0"), (269, "1"), (269, "2"), (146, str(len(SYMBOLS)))]
    request += [(55, symbol) for symbol in SYMBOLS]
    since = client.send("V", request)
    snapshots = [client.expect(f"snapshot of {s}", since, of_type("W", t55=s)) for s in SYMBOLS]
    # Refreshes until New, Change and Delete levels and a trade have all gone by (bounded).
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        client.pump()
        refreshes = [m for m in client.received[since:] if m.msg_type == "X"]
        seen = {(t, v) for m in refreshes for t, v in m.fields}
        if len(refreshes) >= 200 and {(279, b"0"), (279, b"1"), (279, b"2"), (269, b"2")} <= seen:
            break
    refreshes = [m for m in client.received[since:] if m.msg_type == "X"]

    def stamp() -> str:
        return datetime.now(UTC).strftime("%Y%m%d-%H:%M:%S.%f")[:-3]

    # A buy far below the market (AAPL trades near $190): it rests.
    order = [(11, ORDER), (55, "AAPL"), (54, "1"), (60, stamp()), (38, "100"), (40, "2"), (44, "150.00")]
    since = client.send("D", [*order, (59, "0")])
    new_order = client.expect("execution report for the order", since, of_type("8"))
    cancel = [(55, "AAPL"), (54, "1"), (60, stamp())]
    since = client.send("F", [(41, UNKNOWN), (11, "oracle-cancel-1"), *cancel])
    unknown_cancel = client.expect("order cancel reject", since, of_type("9"))
    since = client.send("F", [(41, ORDER), (11, "oracle-cancel-2"), *cancel])
    cancelled = client.expect("execution report for the cancel", since, of_type("8"))

    since = client.send("5", [])
    logout = client.expect("Logout answer", since, of_type("5"))
    closed = client.wait_closed()
    return Conversation(
        client=client,
        logon=logon,
        heartbeat=heartbeat,
        test_request=test_request,
        pong=pong,
        snapshots=snapshots,
        refreshes=refreshes,
        new_order=new_order,
        unknown_cancel=unknown_cancel,
        cancel=cancelled,
        logout=logout,
        closed=closed,
    )


@pytest.fixture(scope="module")
def conversation() -> Iterator[Conversation]:
    """One session with venue B, run once for the tests below (about two seconds)."""
    venue = _native.FixVenueServer(market(7, "b"), flow("b", 5000.0), linger_ms=200)
    venue.start()
    try:
        client = FixClient(venue.addr)
        try:
            result = talk(client)
        finally:
            client.sock.close()
    finally:
        venue.close()
        venue.stop()
    yield result


def test_every_message_venue_b_sends_is_framed_as_fix_44_requires(conversation: Conversation) -> None:
    messages = conversation.messages
    assert b"".join(m.raw for m in messages) == conversation.client.stream, "nothing between messages"
    for message in messages:
        raw = message.raw
        trailer = TRAILER.search(raw)
        assert trailer is not None and trailer.end() == len(raw)
        assert raw.startswith(b"8=FIX.4.4\x019="), f"BeginString first, BodyLength second: {message.show()}"
        length_end = raw.index(b"\x01", len(b"8=FIX.4.4\x01"))
        body_start = length_end + 1
        body_end = trailer.start() + 1  # the SOH before 10= is the body's last byte
        body_length = raw[len(b"8=FIX.4.4\x019=") : length_end]
        assert body_length.isdigit() and not body_length.startswith(b"0"), message.show()
        assert int(body_length) == body_end - body_start, f"BodyLength (9): {message.show()}"
        assert raw[body_start:].startswith(b"35="), f"MsgType (35) third: {message.show()}"
        checksum = trailer.group(1)
        assert re.fullmatch(rb"\d{3}", checksum), f"CheckSum (10) has three digits: {message.show()}"
        assert int(checksum) == sum(raw[:body_end]) % 256, f"CheckSum (10): {message.show()}"
        # simplefix read the same fields: 8, 9, 35 first and 10 last.
        tags = message.tags()
        assert tags[:3] == [8, 9, 35] and tags[-1] == 10 and tags.count(10) == 1, message.show()
        assert message.get(9) == body_length.decode() and message.get(10) == checksum.decode()
        # simplefix, given the same fields, computes the same BodyLength and CheckSum.
        again = simplefix.FixMessage()
        for tag, value in message.fields:
            if tag not in (9, 10):
                again.append_pair(tag, value)
        assert again.encode() == raw, message.show()


def test_every_header_names_both_sides_counts_from_one_and_carries_a_sending_time(
    conversation: Conversation,
) -> None:
    messages = conversation.messages
    assert len(messages) > 20, "a session's worth of messages"
    for expected_seq, message in enumerate(messages, start=1):
        tags = message.tags()
        assert message.get(49) == VENUE and message.get(56) == US, message.show()
        assert message.get(34) == str(expected_seq), (
            f"MsgSeqNum (34) should be {expected_seq}: {message.show()}"
        )
        assert message.get(43) in (None, "N"), f"nothing was resent: {message.show()}"
        sending_time = message.get(52)
        assert sending_time is not None and UTC_TIMESTAMP.fullmatch(sending_time), message.show()
        fmt = "%Y%m%d-%H:%M:%S.%f" if "." in sending_time else "%Y%m%d-%H:%M:%S"
        sent = datetime.strptime(sending_time, fmt).replace(tzinfo=UTC)
        assert abs((datetime.now(UTC) - sent).total_seconds()) < 60, (
            f"SendingTime (52) is now: {sending_time}"
        )
        # The standard header comes right after MsgType, before any body field.
        header = tags[3 : 3 + sum(1 for t in tags if t in HEADER_TAGS)]
        assert set(header) <= HEADER_TAGS and {49, 56, 34, 52} <= set(header), message.show()
    refused = [m.show() for m in messages if m.msg_type in ("3", "j", "Y")]
    assert not refused, f"the venue refused our messages: {refused}"


def test_a_logon_is_answered_with_a_logon_that_resets_and_keeps_our_heartbeat_interval(
    conversation: Conversation,
) -> None:
    logon = conversation.logon
    assert conversation.messages[0] is logon, "the venue's first message is its Logon"
    assert logon.get(98) == "0", f"EncryptMethod (98) is required: {logon.show()}"
    assert logon.get(108) == str(HEART_BT_INT_S), f"HeartBtInt (108): {logon.show()}"
    assert logon.get(141) == "Y", f"ResetSeqNumFlag (141) answers ours: {logon.show()}"
    assert logon.get(34) == "1"


def test_an_idle_session_gets_heartbeats_and_test_requests_and_our_test_request_is_answered(
    conversation: Conversation,
) -> None:
    assert conversation.heartbeat.get(112) is None
    test_req_id = conversation.test_request.get(112)
    assert test_req_id, f"TestReqID (112) is required: {conversation.test_request.show()}"
    assert test_req_id in conversation.client.answered_test_requests
    assert conversation.pong.get(112) == PING, "a Heartbeat answering a TestRequest echoes its TestReqID"


def test_each_subscribed_symbol_gets_a_snapshot_of_its_book(conversation: Conversation) -> None:
    for symbol, snapshot in zip(SYMBOLS, conversation.snapshots, strict=True):
        assert snapshot.get(262) == MD_REQ_ID, f"MDReqID (262) of the request: {snapshot.show()}"
        tags = snapshot.tags()
        assert tags.index(55) < tags.index(268), f"Symbol (55) before the group: {snapshot.show()}"
        book: dict[str, list[Decimal]] = {"0": [], "1": []}
        for entry in entries(snapshot, 269):
            entry_tags = [t for t, _ in entry]
            assert all(t in W_ENTRY_ORDER for t in entry_tags), f"unexpected field in {entry}"
            assert entry_tags == sorted(entry_tags, key=W_ENTRY_ORDER.index), f"field order: {entry}"
            fields = dict(entry)
            assert fields[269] in (b"0", b"1"), f"a book holds bids and offers: {entry}"
            assert 270 in fields and 271 in fields, f"MDEntryPx (270) and MDEntrySize (271): {entry}"
            price, size = fix_float(fields[270]), fix_float(fields[271])
            assert price > 0 and size > 0, entry
            book[fields[269].decode()].append(price)
        bids, offers = book["0"], book["1"]
        assert bids or offers, f"{symbol}'s book is not empty: {snapshot.show()}"
        assert bids == sorted(bids, reverse=True) and offers == sorted(offers), "best first"
        assert not (bids and offers) or bids[0] < offers[0], f"{symbol}'s book is not crossed"


def fix_float(value: bytes) -> Decimal:
    assert FIX_FLOAT.fullmatch(value), f"not a FIX float: {value!r}"
    return Decimal(value.decode())


def test_incremental_refreshes_carry_action_type_symbol_price_and_size_in_spec_order(
    conversation: Conversation,
) -> None:
    refreshes = conversation.refreshes
    assert len(refreshes) >= 200, "the flow moved the books"
    kinds: set[tuple[bytes, bytes]] = set()
    for refresh in refreshes:
        for entry in entries(refresh, 279):
            tags = [t for t, _ in entry]
            assert all(t in X_ENTRY_ORDER for t in tags), f"unexpected field in {refresh.show()}"
            assert tags == sorted(tags, key=X_ENTRY_ORDER.index), f"field order: {refresh.show()}"
            fields = dict(entry)
            action, entry_type = fields[279], fields.get(269)
            assert action in (b"0", b"1", b"2"), f"MDUpdateAction (279): {refresh.show()}"
            assert entry_type in (b"0", b"1", b"2"), f"MDEntryType (269): {refresh.show()}"
            assert fields.get(55) in [s.encode() for s in SYMBOLS], f"Symbol (55): {refresh.show()}"
            assert 270 in fields and fix_float(fields[270]) > 0, f"MDEntryPx (270): {refresh.show()}"
            if action == b"2":
                assert fields.get(271) in (None, b"0"), f"a delete has no size: {refresh.show()}"
            else:
                assert 271 in fields and fix_float(fields[271]) > 0, f"MDEntrySize (271): {refresh.show()}"
            if entry_type == b"2":
                assert action == b"0", f"a trade is a New entry: {refresh.show()}"
            kinds.add((action, entry_type))
    actions = {action for action, _ in kinds}
    assert actions == {b"0", b"1", b"2"} and (b"0", b"2") in kinds, f"entries seen: {kinds}"


def test_incremental_refreshes_name_the_market_data_request_they_answer(conversation: Conversation) -> None:
    # FIX 4.4 MarketDataIncrementalRefresh: MDReqID (262) is "conditionally required if this
    # message is in response to a Market Data Request", as every refresh here is.
    missing = [m.show() for m in conversation.refreshes if m.get(262) != MD_REQ_ID]
    assert not missing, (
        f"{len(missing)} of {len(conversation.refreshes)} refreshes lack 262={MD_REQ_ID}: {missing[0]}"
    )


def test_a_resting_limit_order_gets_an_execution_report_with_every_required_field(
    conversation: Conversation,
) -> None:
    report = conversation.new_order
    for tag in (37, 11, 17, 150, 39, 55, 54, 151, 14, 6):
        assert report.get(tag), f"tag {tag} is required in an ExecutionReport: {report.show()}"
    assert report.get(11) == ORDER and report.get(55) == "AAPL" and report.get(54) == "1"
    assert (report.get(150), report.get(39)) == ("0", "0"), f"ExecType and OrdStatus New: {report.show()}"
    assert fix_float(report.raw_value(151)) == 100 and fix_float(report.raw_value(14)) == 0
    assert fix_float(report.raw_value(6)) == 0


def test_a_cancel_of_an_unknown_order_gets_an_order_cancel_reject(conversation: Conversation) -> None:
    reject = conversation.unknown_cancel
    for tag in (37, 11, 41, 39, 434):
        assert reject.get(tag), f"tag {tag} is required in an OrderCancelReject: {reject.show()}"
    assert reject.get(37) == "NONE", "OrderID is NONE when CxlRejReason is Unknown order"
    assert (reject.get(11), reject.get(41)) == ("oracle-cancel-1", UNKNOWN)
    assert reject.get(39) == "8", "OrdStatus Rejected for an unknown order"
    assert reject.get(434) == "1", "CxlRejResponseTo: an Order Cancel Request"
    assert reject.get(102) == "1" or reject.get(58), f"a reason, coded or in words: {reject.show()}"


def test_a_cancel_of_a_live_order_gets_a_canceled_execution_report(conversation: Conversation) -> None:
    report = conversation.cancel
    for tag in (37, 11, 17, 150, 39, 55, 54, 151, 14, 6):
        assert report.get(tag), f"tag {tag} is required in an ExecutionReport: {report.show()}"
    assert (report.get(11), report.get(41)) == ("oracle-cancel-2", ORDER)
    assert report.get(37) == conversation.new_order.get(37), "the same OrderID"
    assert (report.get(150), report.get(39)) == ("4", "4"), f"Canceled: {report.show()}"
    assert fix_float(report.raw_value(151)) == 0


def test_a_logout_is_answered_with_a_logout_and_the_venue_closes_the_connection(
    conversation: Conversation,
) -> None:
    assert conversation.messages[-1] is conversation.logout, "nothing after the Logout"
    assert conversation.closed, "the venue closes the connection after answering a Logout"
