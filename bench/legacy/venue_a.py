"""Venue A's adapters for the legacy engine: ITCH 5.0 market data in MoldUDP64 packets over UDP,
and OUCH 4.2 order entry over SoupBinTCP 3.0.

The :class:`Feed` follows the production handler (``feeds/src/itch_feed.rs``, ``itch_net.rs``):
packets are applied in sequence order; a packet beyond the next expected sequence opens a gap,
which is re-requested from the venue's re-request server from the feed's own socket (so the
answers arrive in the same stream), while the early packets are kept aside and applied once the
gap is filled. One request is in flight at a time, sent again after :data:`RETRY_AFTER_S`. A
stretch of the gap that makes no progress for ``give_up_after`` (100 ms) is given up: its
messages are counted in :attr:`Feed.lost` and the books go on without them. A packet whose
framing is broken is refused whole; a message that does not decode, or does not fit its book
(an unknown order, say), is refused alone. Every refusal is counted, logged and kept in
:attr:`Feed.last_error`; none stops the feed.

The :class:`Gateway` follows the production OUCH gateway (``execution/src/gateway/ouch.rs``):
it logs on with SoupBinTCP (retrying while the venue still holds a previous connection of
ours), sends a client heartbeat whenever it has sent nothing for the heartbeat interval, writes
each request at once, and turns the venue's sequenced OUCH messages into reports.
Order ids travel as 14-digit tokens; prices as four implied decimals and quantities as whole
shares, exactly (a request that cannot be said exactly raises :class:`InexactOrder` before
anything is written).
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import socket
import struct
import time
from typing import Any, cast

from bench.legacy.venue import Kind, OnBook, OnReport, Report

log = logging.getLogger(__name__)


class _Throttled:
    """A warning log that writes at most one line a second, saying how many it held back, so a
    flood of bad input cannot turn into a flood of log lines."""

    __slots__ = ("_held", "_logged_at")

    def __init__(self) -> None:
        self._logged_at = -1.0
        self._held = 0

    def warning(self, message: str) -> None:
        """Logs ``message`` unless a line went out less than a second ago."""
        now = time.monotonic()
        if now - self._logged_at < 1.0:
            self._held += 1
            return
        held, self._held, self._logged_at = self._held, 0, now
        log.warning("%s%s", message, f" ({held} more held back since the last line)" if held else "")


#: Fixed-point units (1e-9) in one ITCH / OUCH price unit (1e-4).
PRICE_UNIT = 100_000
#: Fixed-point units in one share.
SHARE = 1_000_000_000

# --- MoldUDP64 -----------------------------------------------------------------------------

#: Session (10 bytes), sequence of the first message (8), message count (2); big-endian. A
#: re-request has the same layout (session, first missing sequence, count).
_MOLD_HEADER = struct.Struct(">10sQH")
MOLD_HEADER_LEN = _MOLD_HEADER.size
#: The message count that ends a session.
END_OF_SESSION = 0xFFFF
#: A packet further ahead of the books than this is nonsense (a corrupt sequence number),
#: refused rather than left to keep a gap open (``itch_feed.rs`` ``MAX_GAP``).
MAX_GAP = 1 << 24
#: Most messages one re-request asks for (``itch_feed.rs`` ``MAX_REREQUEST``; the venue's cap).
MAX_REREQUEST = 1024
#: Early packets kept while a gap is open (the live worker's ``max_pending``).
MAX_PENDING = 4096
#: How long a re-request may go unanswered before it is sent again (the live worker's
#: ``retry_ms``).
RETRY_AFTER_S = 0.020
#: How long a gap may make no progress before its first missing stretch is given up.
GIVE_UP_AFTER_S = 0.100
#: The receive buffer the production feed asks for (``itch_net.rs`` ``RECEIVE_BUFFER``); the
#: kernel grants at most ``net.core.rmem_max``.
RECEIVE_BUFFER = 8 << 20

# --- ITCH 5.0 ------------------------------------------------------------------------------

_ADD_ORDER = ord("A")
_ADD_ORDER_MPID = ord("F")
_EXECUTED = ord("E")
_EXECUTED_WITH_PRICE = ord("C")
_CANCEL = ord("X")
_DELETE = ord("D")
_REPLACE = ord("U")
_STOCK_DIRECTORY = ord("R")
_ADDS = frozenset((_ADD_ORDER, _ADD_ORDER_MPID))
_REDUCES = frozenset((_EXECUTED, _CANCEL))
_BUY = ord("B")
_SELL = ord("S")

#: The length of each ITCH message type the feed takes (``protocols/src/itch.rs``).
ITCH_LENGTHS = {
    ord("S"): 12,
    _STOCK_DIRECTORY: 39,
    _ADD_ORDER: 36,
    _ADD_ORDER_MPID: 40,
    _EXECUTED: 31,
    _EXECUTED_WITH_PRICE: 36,
    _CANCEL: 23,
    _DELETE: 19,
    _REPLACE: 35,
    ord("P"): 44,
}

# Every message is type (1), stock locate (2), tracking number (2), timestamp (6), then its
# fields; these read from the stock locate on.
_ADD = struct.Struct(">H8xQBI8xI")  # locate, order ref, side, shares, (stock), price
_REDUCE = struct.Struct(">H8xQI")  # locate, order ref, shares (E, C and X alike)
_ORDER = struct.Struct(">H8xQ")  # locate, order ref
_REPLACEMENT = struct.Struct(">H8xQQII")  # locate, original ref, new ref, shares, price
_DIRECTORY = struct.Struct(">H8x8s")  # locate, stock
_PRINTABLE_AT = 31  # C: the printable flag


class MarketDataError(ValueError):
    """Market data the feed refused, saying what was wrong with it."""


class MalformedPacket(MarketDataError):
    """A datagram that is not a MoldUDP64 packet of the session: refused whole."""


class MalformedMessage(MarketDataError):
    """A message that is not ITCH 5.0 as the venue sends it: refused alone."""


class BookMismatch(MarketDataError):
    """A message that does not fit its book (an unknown order, one added twice, an overfill)."""


def check_packet(data: bytes) -> tuple[bytes, int, int]:
    """The ``(session, sequence, count)`` of a MoldUDP64 packet whose framing was checked end to
    end, so a broken packet is refused before any of it is applied.

    Raises :class:`MalformedPacket` naming what is wrong."""
    end = len(data)
    if end < MOLD_HEADER_LEN:
        raise MalformedPacket(f"MoldUDP64: a packet of {end} bytes is shorter than its 20-byte header")
    session, sequence, count = _MOLD_HEADER.unpack_from(data)
    pos = MOLD_HEADER_LEN
    if count != END_OF_SESSION:
        for index in range(count):
            if pos + 2 > end:
                raise MalformedPacket(
                    f"MoldUDP64: packet {sequence} claims {count} messages but ends before "
                    f"the length of message {index}"
                )
            length = data[pos] << 8 | data[pos + 1]
            if pos + 2 + length > end:
                raise MalformedPacket(
                    f"MoldUDP64: message {index} of packet {sequence} claims {length} bytes, "
                    f"{end - pos - 2} remain"
                )
            pos += 2 + length
    if pos != end:
        raise MalformedPacket(
            f"MoldUDP64: packet {sequence} has {end - pos} bytes after its "
            f"{0 if count == END_OF_SESSION else count} messages"
        )
    return session, sequence, count


class OrderBook:
    """One stock's visible orders and the price levels they add up to, in ITCH units (prices
    in 1e-4, whole shares)."""

    __slots__ = ("asks", "best_ask", "best_bid", "bids", "instrument", "orders", "stock")

    def __init__(self, stock: str, instrument: int) -> None:
        self.stock = stock
        self.instrument = instrument
        #: Order reference -> (is a bid, price, shares left).
        self.orders: dict[int, tuple[bool, int, int]] = {}
        #: Price -> shares, per side.
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        #: Best prices; 0 where a side is empty.
        self.best_bid = 0
        self.best_ask = 0

    def add(self, order_ref: int, is_bid: bool, price: int, shares: int) -> None:
        """A new order rests."""
        if order_ref in self.orders:
            raise BookMismatch(f"{self.stock}: order {order_ref} is already in the book")
        self.orders[order_ref] = (is_bid, price, shares)
        if is_bid:
            self.bids[price] = self.bids.get(price, 0) + shares
            if price > self.best_bid:
                self.best_bid = price
        else:
            self.asks[price] = self.asks.get(price, 0) + shares
            if price < self.best_ask or not self.best_ask:
                self.best_ask = price

    def reduce(self, order_ref: int, shares: int, message: str) -> None:
        """Takes ``shares`` off an order (an execution or a partial cancel); the order leaves
        the book when none are left."""
        order = self.orders.get(order_ref)
        if order is None:
            raise BookMismatch(f"{self.stock}: order {order_ref} is not in the book (message {message!r})")
        is_bid, price, left = order
        if shares > left:
            raise BookMismatch(
                f"{self.stock}: message {message!r} removes {shares} shares from order {order_ref}, "
                f"which has {left}"
            )
        if shares == left:
            del self.orders[order_ref]
        else:
            self.orders[order_ref] = (is_bid, price, left - shares)
        self._take(is_bid, price, shares)

    def delete(self, order_ref: int) -> None:
        """An order leaves the book."""
        order = self.orders.pop(order_ref, None)
        if order is None:
            raise BookMismatch(f"{self.stock}: order {order_ref} is not in the book (message 'D')")
        is_bid, price, shares = order
        self._take(is_bid, price, shares)

    def replace(self, original_ref: int, new_ref: int, shares: int, price: int) -> None:
        """An order is replaced by a new one on the same side."""
        order = self.orders.get(original_ref)
        if order is None:
            raise BookMismatch(f"{self.stock}: order {original_ref} is not in the book (message 'U')")
        if new_ref != original_ref and new_ref in self.orders:
            raise BookMismatch(f"{self.stock}: order {new_ref} is already in the book (message 'U')")
        is_bid, old_price, old_shares = order
        del self.orders[original_ref]
        self._take(is_bid, old_price, old_shares)
        self.add(new_ref, is_bid, price, shares)

    def _take(self, is_bid: bool, price: int, shares: int) -> None:
        levels = self.bids if is_bid else self.asks
        left = levels[price] - shares
        if left:
            levels[price] = left
            return
        del levels[price]
        if is_bid:
            if price == self.best_bid:
                self.best_bid = max(levels, default=0)
        elif price == self.best_ask:
            self.best_ask = min(levels, default=0)


class Feed(asyncio.DatagramProtocol):
    """Venue A's market-data handler: binds ``listen``, re-requests gaps from ``rerequest``,
    keeps an order-level book for each stock in ``symbols`` (ITCH name -> instrument id) and
    calls ``on_book`` after every message that changes one.

    :meth:`on_packet` may also be driven directly (tests, replays); re-requests and the gap
    timer need :meth:`run`."""

    def __init__(
        self,
        listen: tuple[str, int],
        rerequest: tuple[str, int],
        symbols: dict[str, int],
        on_book: OnBook,
        *,
        session: str = "TICKRAIL01",
        receive_buffer: int = RECEIVE_BUFFER,
        give_up_after: float = GIVE_UP_AFTER_S,
    ) -> None:
        if len(session) > 10 or not session.isascii():
            raise ValueError(f"a MoldUDP64 session is at most 10 ASCII characters: {session!r}")
        self._listen = listen
        self._rerequest = rerequest
        self._symbols = dict(symbols)
        self._on_book = on_book
        self._session = session.encode("ascii").ljust(10)
        self._receive_buffer = receive_buffer
        self._give_up_after = give_up_after
        #: Market-data messages decoded.
        self.messages = 0
        #: Messages the venue sent that were never applied (gaps given up).
        self.lost = 0
        #: Gaps opened.
        self.gaps = 0
        #: Re-requests sent.
        self.rerequests = 0
        #: Messages skipped because they were already applied.
        self.duplicates = 0
        #: Packets and messages refused as malformed.
        self.malformed = 0
        #: Messages refused by their book.
        self.book_errors = 0
        #: The last refusal, for the log and the tests.
        self.last_error: MarketDataError | None = None
        #: Whether the venue ended the session.
        self.ended = False
        #: The receive buffer the kernel granted (once bound).
        self.granted_receive_buffer = 0
        #: The next sequence number the books need.
        self.next_sequence = 1
        self._books: dict[int, OrderBook] = {}
        self._by_instrument: dict[int, OrderBook] = {}
        # The open gap: early packets by first sequence (count, bytes, received_ns), their
        # sequences in a heap, the sequence the gap ends before, when it last made progress.
        self._pending: dict[int, tuple[int, bytes, int]] = {}
        self._pending_order: list[int] = []
        self._gap_open = False
        self._gap_end = 0
        self._progress_at = 0.0
        self._last_request: tuple[int, int, float] | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._gap_timer: asyncio.TimerHandle | None = None
        self._log = _Throttled()

    def book(self, instrument: int) -> OrderBook | None:
        """The book of ``instrument``, once the stock directory has named its stock."""
        return self._by_instrument.get(instrument)

    async def run(self) -> None:
        """Binds the socket (asking for the production feed's receive buffer), then reads and
        applies until cancelled."""
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self._receive_buffer)
            sock.bind(self._listen)
            sock.setblocking(False)
            self.granted_receive_buffer = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
            transport, _ = await loop.create_datagram_endpoint(lambda: self, sock=sock)
        except BaseException:
            sock.close()
            raise
        try:
            await loop.create_future()
        finally:
            transport.close()
            self._transport = None
            if self._gap_timer is not None:
                self._gap_timer.cancel()
                self._gap_timer = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """The socket is bound: re-requests go out through it."""
        # uvloop's transports do not derive from asyncio's classes; they implement them.
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        """A packet from the venue (live, or a re-request's answer)."""
        self.on_packet(data, time.monotonic_ns())

    def error_received(self, exc: Exception) -> None:
        """A socket error (an ICMP error of a re-request, say): the next request may be fine."""
        self._log.warning(f"venue A feed: {exc}")

    def on_packet(self, data: bytes, received_ns: int) -> None:
        """Takes one MoldUDP64 packet read at ``received_ns``: applies it in sequence order, or
        keeps it and re-requests what is missing before it. A packet that is not one of the
        session's is refused, counted and logged."""
        try:
            session, sequence, count = check_packet(data)
            if session != self._session:
                raise MalformedPacket(
                    f"MoldUDP64: packet {sequence} is of session {session.decode('latin-1')!r}, "
                    f"not {self._session.decode('ascii')!r}"
                )
            if sequence > self.next_sequence + MAX_GAP:
                raise MalformedPacket(
                    f"MoldUDP64: sequence {sequence} is more than {MAX_GAP} beyond the books "
                    f"({self.next_sequence})"
                )
        except MalformedPacket as error:
            self._refuse(error)
            return
        if count == END_OF_SESSION:
            self.ended = True
            count = 0
        if sequence > self.next_sequence:
            # Messages before this packet were lost: keep it, ask for them.
            self._gap_end = max(self._gap_end, sequence + count)
            if count and len(self._pending) < MAX_PENDING and sequence not in self._pending:
                self._pending[sequence] = (count, data, received_ns)
                heapq.heappush(self._pending_order, sequence)
            if not self._gap_open:
                self._open_gap()
            self._request_missing()
            return
        before = self.next_sequence
        self._apply(data, sequence, count, received_ns)
        if self._gap_open:
            if self.next_sequence > before:
                self._progress_at = time.monotonic()
            self._settle()

    def give_up_gap(self) -> None:
        """Gives up the first missing stretch of the open gap: its messages are counted as
        lost, and the packets kept after it are applied. The gap timer calls this when the
        gap has made no progress for ``give_up_after``."""
        if not self._gap_open:
            return
        up_to = self._pending_order[0] if self._pending_order else self._gap_end
        self._log.warning(
            f"venue A feed: messages {self.next_sequence} to {up_to - 1} never came; "
            "the books go on without them"
        )
        self.lost += up_to - self.next_sequence
        self.next_sequence = up_to
        self._progress_at = time.monotonic()
        self._settle()

    def _open_gap(self) -> None:
        self._gap_open = True
        self.gaps += 1
        self._progress_at = time.monotonic()
        if self._transport is not None:
            loop = asyncio.get_running_loop()
            self._gap_timer = loop.call_later(RETRY_AFTER_S, self._on_gap_timer)

    def _settle(self) -> None:
        """Applies the kept packets the books have reached; closes the gap once it is filled,
        otherwise asks for what it still lacks."""
        while self._pending_order and self._pending_order[0] <= self.next_sequence:
            sequence = heapq.heappop(self._pending_order)
            count, data, received_ns = self._pending.pop(sequence)
            self._apply(data, sequence, count, received_ns)
        if not self._pending_order and self.next_sequence >= self._gap_end:
            self._gap_open = False
            self._last_request = None
            if self._gap_timer is not None:
                self._gap_timer.cancel()
                self._gap_timer = None
        else:
            self._request_missing()

    def _on_gap_timer(self) -> None:
        self._gap_timer = None
        if not self._gap_open or self._transport is None:
            return
        if time.monotonic() - self._progress_at >= self._give_up_after:
            self.give_up_gap()
        else:
            self._request_missing()
        if self._gap_open:
            self._gap_timer = asyncio.get_running_loop().call_later(RETRY_AFTER_S, self._on_gap_timer)

    def _request_missing(self) -> None:
        """Asks for the messages missing before the first kept packet (or the gap's end), unless
        a request for them is still in flight."""
        if self._transport is None:
            return
        now = time.monotonic()
        if self._last_request is not None:
            first, count, at = self._last_request
            if self.next_sequence < first + count and now - at < RETRY_AFTER_S:
                return
        up_to = self._pending_order[0] if self._pending_order else self._gap_end
        count = min(up_to - self.next_sequence, MAX_REREQUEST)
        self._transport.sendto(_MOLD_HEADER.pack(self._session, self.next_sequence, count), self._rerequest)
        self.rerequests += 1
        self._last_request = (self.next_sequence, count, now)

    def _apply(self, data: bytes, sequence: int, count: int, received_ns: int) -> None:
        """Applies the messages of a checked packet that the books do not have yet."""
        pos = MOLD_HEADER_LEN
        next_sequence = self.next_sequence
        for _ in range(count):
            length = data[pos] << 8 | data[pos + 1]
            pos += 2
            if sequence < next_sequence:
                self.duplicates += 1
            else:
                next_sequence = sequence + 1
                try:
                    self._apply_message(data, pos, length, sequence, received_ns)
                except MarketDataError as error:
                    self._refuse(error)
            pos += length
            sequence += 1
        self.next_sequence = max(next_sequence, sequence)

    def _apply_message(self, data: bytes, pos: int, length: int, sequence: int, received_ns: int) -> None:
        if not length:
            raise MalformedMessage(f"ITCH 5.0: message {sequence} is empty")
        kind = data[pos]
        expected = ITCH_LENGTHS.get(kind)
        if expected is None:
            raise MalformedMessage(f"ITCH 5.0: message {sequence} has unknown type {chr(kind)!r}")
        if length != expected:
            raise MalformedMessage(
                f"ITCH 5.0: message {sequence} of type {chr(kind)!r} is {length} bytes, expected {expected}"
            )
        self.messages += 1
        book = self._books.get(data[pos + 1] << 8 | data[pos + 2])
        if book is None:
            if kind == _STOCK_DIRECTORY:
                self._learn(data, pos)
            return
        if kind in _ADDS:
            _, order_ref, side, shares, price = _ADD.unpack_from(data, pos + 1)
            if side != _BUY and side != _SELL:
                raise MalformedMessage(f"ITCH 5.0: message {sequence} has side {chr(side)!r}, not 'B' or 'S'")
            book.add(order_ref, side == _BUY, price, shares)
        elif kind == _DELETE:
            book.delete(_ORDER.unpack_from(data, pos + 1)[1])
        elif kind in _REDUCES:
            _, order_ref, shares = _REDUCE.unpack_from(data, pos + 1)
            book.reduce(order_ref, shares, chr(kind))
        elif kind == _REPLACE:
            _, original_ref, new_ref, shares, price = _REPLACEMENT.unpack_from(data, pos + 1)
            book.replace(original_ref, new_ref, shares, price)
        elif kind == _EXECUTED_WITH_PRICE:
            printable = data[pos + _PRINTABLE_AT]
            if printable != ord("Y") and printable != ord("N"):
                raise MalformedMessage(
                    f"ITCH 5.0: message {sequence} has printable {chr(printable)!r}, not 'Y' or 'N'"
                )
            _, order_ref, shares = _REDUCE.unpack_from(data, pos + 1)
            book.reduce(order_ref, shares, "C")
        else:
            # A system event, a directory entry already known, a hidden trade: the visible
            # book does not change.
            return
        bid, ask = book.best_bid, book.best_ask
        self._on_book(
            book.instrument,
            bid * PRICE_UNIT,
            book.bids[bid] * SHARE if bid else 0,
            ask * PRICE_UNIT,
            book.asks[ask] * SHARE if ask else 0,
            received_ns,
        )

    def _learn(self, data: bytes, pos: int) -> None:
        """A stock directory entry: the stock behind a locate code gets a book if it is listed."""
        locate, raw = _DIRECTORY.unpack_from(data, pos + 1)
        stock = raw.rstrip(b" ").decode("latin-1")
        instrument = self._symbols.get(stock)
        if instrument is not None:
            book = OrderBook(stock, instrument)
            self._books[locate] = book
            self._by_instrument[instrument] = book

    def _refuse(self, error: MarketDataError) -> None:
        if isinstance(error, BookMismatch):
            self.book_errors += 1
        else:
            self.malformed += 1
        self.last_error = error
        self._log.warning(f"venue A feed refused: {error}")


# --- SoupBinTCP 3.0 and OUCH 4.2 -----------------------------------------------------------

#: The largest client order id a 14-digit token holds.
MAX_ID = 99_999_999_999_999
#: The highest OUCH limit price ($199,999.9900).
MAX_PRICE = 1_999_999_900
#: Time in force: until the end of market hours (a day order).
TIF_MARKET_HOURS = 99_998
#: The SoupBinTCP heartbeat interval and silence timeout (``soupbintcp_session.rs`` ``Timing``).
HEARTBEAT_INTERVAL_S = 1.0
TIMEOUT_S = 15.0

_CLIENT_HEARTBEAT = b"\x00\x01R"
_LOGOUT = b"\x00\x01O"
# Each request is a SoupBinTCP unsequenced-data packet: length (2), 'U', then the OUCH message.
# Enter order (49): 'O', token, side, shares, stock, price, then time in force, firm, display
# 'Y', capacity 'P' (principal), not sweep eligible, no minimum quantity, continuous market,
# the firm's default customer type: what ``EnterOrder::day_limit`` sends.
_ENTER = struct.Struct(">4s14scI8sI17s")
_ENTER_HEAD = b"\x00\x32UO"
# Replace order (47): 'U', existing token, replacement token, shares, price, then time in
# force, display 'Y', not sweep eligible, no minimum quantity.
_REPLACE_ORDER = struct.Struct(">4s14s14sII10s")
_REPLACE_HEAD = b"\x00\x30UU"
_REPLACE_TAIL = struct.pack(">IccI", TIF_MARKET_HOURS, b"Y", b"N", 0)
# Cancel order (19): 'X', token, shares to leave (0: all).
_CANCEL_ORDER = struct.Struct(">4s14sI")
_CANCEL_HEAD = b"\x00\x14UX"

#: The length of each outbound OUCH 4.2 message type (``protocols/src/ouch42.rs``).
OUCH_LENGTHS = {
    ord("S"): 10,
    ord("A"): 66,
    ord("U"): 80,
    ord("C"): 28,
    ord("E"): 40,
    ord("J"): 24,
    ord("I"): 23,
}
_OUCH_ACCEPTED = ord("A")
_OUCH_REPLACED = ord("U")
_OUCH_CANCELED = ord("C")
_OUCH_EXECUTED = ord("E")
_OUCH_REJECTED = ord("J")
_OUCH_SYSTEM_EVENT = ord("S")
_EXECUTION = struct.Struct(">II")  # executed shares, execution price (at offset 23)
_OPEN_SHARES = struct.Struct(">I")  # an accepted or replaced order's shares (at offset 24)
_TOKEN_AT = 9
_PREVIOUS_TOKEN_AT = 65
_CANCEL_REASON_AT = 27
_TIMEOUT_REASON = ord("T")

_SEQUENCED_DATA = ord("S")
_SERVER_HEARTBEAT = ord("H")
_LOGIN_ACCEPTED = ord("A")
_LOGIN_REJECTED = ord("J")
_END_OF_SESSION = ord("Z")
_DEBUG = ord("+")
#: Payload lengths of the fixed-size server packets.
_SOUP_FIXED = {_SERVER_HEARTBEAT: 0, _LOGIN_ACCEPTED: 30, _LOGIN_REJECTED: 1, _END_OF_SESSION: 0}
_LOGIN_REASONS = {b"A": "not authorized", b"S": "session not available"}


class OrderEntryError(ValueError):
    """A venue message the gateway refused, saying what was wrong with it."""


class InexactOrder(ValueError):
    """A request that cannot be said exactly in OUCH 4.2 (or names what the venue does not
    list); nothing was written."""


class LogonRejected(ConnectionError):
    """The venue refused the SoupBinTCP login."""

    def __init__(self, reason: bytes) -> None:
        super().__init__(f"SoupBinTCP: login rejected: {_LOGIN_REASONS.get(reason, repr(reason))}")
        self.reason = reason


def _alpha(field: str, value: str, width: int) -> bytes:
    """A SoupBinTCP alpha field: printable ASCII, left-aligned, space-padded."""
    if len(value) > width or not (value.isascii() and value.isprintable()):
        raise ValueError(f"{field} {value!r} is not at most {width} printable ASCII characters")
    return value.encode("ascii").ljust(width)


def token(id: int) -> bytes:
    """The 14-digit OUCH order token of our order ``id``."""
    if not 0 <= id <= MAX_ID:
        raise InexactOrder(f"order {id}: the id does not fit a 14-digit OUCH token")
    return b"%014d" % id


def id_of(token: bytes) -> int:
    """Our order id from its OUCH token; a token that is not one of ours is refused."""
    if not token.isdigit():
        raise OrderEntryError(
            f"OUCH 4.2: the venue named order {token.decode('latin-1')!r}, which is not ours"
        )
    return int(token)


def _price(id: int, price: int) -> int:
    units, rest = divmod(price, PRICE_UNIT)
    if rest or not 0 <= units <= MAX_PRICE:
        raise InexactOrder(f"order {id}: the price {price} cannot be said exactly in OUCH 4.2")
    return units


def _shares(id: int, quantity: int) -> int:
    shares, rest = divmod(quantity, SHARE)
    if rest or not 0 < shares < 1 << 32:
        raise InexactOrder(f"order {id}: the quantity {quantity} cannot be said exactly in OUCH 4.2")
    return shares


class Gateway(asyncio.Protocol):
    """Venue A's order entry: one SoupBinTCP session as ``login`` at ``address``, for the stocks
    in ``symbols`` (ITCH name -> instrument id); every report goes to ``on_report``.

    ``replace`` takes the replacement's total quantity; OUCH takes its open shares, so what the
    original has filled is subtracted, as the production gateway does."""

    def __init__(
        self,
        address: tuple[str, int],
        login: str,
        password: str,
        symbols: dict[str, int],
        on_report: OnReport,
        *,
        session: str = "",
        firm: str = "TRKR",
        heartbeat_interval: float = HEARTBEAT_INTERVAL_S,
        timeout: float = TIMEOUT_S,
    ) -> None:
        self._address = address
        # Logs in for the user's sequenced messages from the first: a fresh engine has none.
        self._login = (
            b"\x00\x2fL"
            + _alpha("username", login, 6)
            + _alpha("password", password, 10)
            + _alpha("session", session, 10)
            + b"%20d" % 1
        )
        self._stocks = {instrument: _alpha("stock", name, 8) for name, instrument in symbols.items()}
        self._enter_tail = struct.pack(
            ">I4s3sI2s", TIF_MARKET_HOURS, _alpha("firm", firm, 4), b"YPN", 0, b"N "
        )
        self._on_report = on_report
        self._heartbeat_interval = heartbeat_interval
        self._timeout = timeout
        self._transport: asyncio.Transport | None = None
        self._buffer = b""
        self._logged_in: asyncio.Future[None] | None = None
        self._lost: asyncio.Future[None] | None = None
        self._heartbeat: asyncio.TimerHandle | None = None
        self._sent = False
        self._silent_s = 0.0
        self._closing = False
        self._logged_on = False
        self._log = _Throttled()
        #: Our working orders: id -> [total shares, shares filled], for the open shares a
        #: replace must say.
        self._working: dict[int, list[int]] = {}
        #: Replaces in flight: replacement id -> original id.
        self._replacing: dict[int, int] = {}
        #: Venue messages and packets refused.
        self.malformed = 0
        #: The last refusal.
        self.last_error: OrderEntryError | None = None
        #: The sequence number of the next venue message.
        self.next_sequence = 1

    def carry_on(self, previous: Gateway) -> None:
        """Logs in, when connecting, where ``previous`` (a lost session of ours) left off:
        from the venue's next message, with its working orders and replaces in flight (the
        venue keeps a lost session's orders, and replays what it sent from that message on)."""
        self._login = self._login[:-20] + b"%20d" % previous.next_sequence
        self.next_sequence = previous.next_sequence
        self._working = previous._working
        self._replacing = previous._replacing

    async def connect(self) -> None:
        """Connects and logs in, trying again while the venue still holds a previous
        connection of ours (within the timeout); returns once the login is accepted."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        while True:
            self._logged_in = loop.create_future()
            host, port = self._address
            await asyncio.wait_for(loop.create_connection(lambda: self, host, port), deadline - loop.time())
            try:
                await asyncio.wait_for(self._logged_in, deadline - loop.time())
            except LogonRejected as rejected:
                await self._closed()
                if rejected.reason != b"S" or loop.time() >= deadline:
                    raise
                await asyncio.sleep(0.005)
                continue
            except BaseException:
                await self._closed()
                raise
            break
        self._heartbeat = loop.call_later(self._heartbeat_interval / 2, self._tick)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Connected: the login request goes out."""
        self._transport = cast(asyncio.Transport, transport)
        self._lost = asyncio.get_running_loop().create_future()
        self._buffer = b""
        self._transport.write(self._login)

    def data_received(self, data: bytes) -> None:
        """Bytes from the venue, cut into SoupBinTCP packets as they complete."""
        self._silent_s = 0.0
        buffer = self._buffer + data if self._buffer else data
        end = len(buffer)
        pos = 0
        while end - pos >= 2:
            length = buffer[pos] << 8 | buffer[pos + 1]
            if not length:
                # No room for a type: the framing is lost, and the session with it.
                self._refuse(OrderEntryError("SoupBinTCP 3.0: a packet length of 0 breaks the framing"))
                log.error("venue A order entry: closing after a broken frame")
                self._drop()
                return
            if pos + 2 + length > end:
                break
            kind = buffer[pos + 2]
            at = pos + 3
            pos += 2 + length
            try:
                if kind == _SEQUENCED_DATA:
                    self.next_sequence += 1
                    self._report(buffer, at, length - 1)
                elif kind != _SERVER_HEARTBEAT or length != 1:
                    self._session_packet(kind, buffer[at:pos])
            except OrderEntryError as error:
                self._refuse(error)
        self._buffer = buffer[pos:]

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection closed: a login in progress fails; otherwise it is logged."""
        self._transport = None
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)
        if self._logged_in is not None and not self._logged_in.done():
            self._logged_in.set_exception(ConnectionError("venue A order entry: closed before the login"))
        elif self._logged_on and not self._closing:
            log.error("venue A order entry: the connection closed: %s", exc or "by the venue")
        self._logged_on = False
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None

    def new(self, id: int, instrument: int, buy: bool, price: int, quantity: int) -> None:
        """Writes a new day limit order."""
        stock = self._stocks.get(instrument)
        if stock is None:
            raise InexactOrder(f"order {id}: instrument {instrument} is not listed on venue A")
        shares = _shares(id, quantity)
        message = _ENTER.pack(
            _ENTER_HEAD, token(id), b"B" if buy else b"S", shares, stock, _price(id, price), self._enter_tail
        )
        self._write(message)
        self._working[id] = [shares, 0]

    def replace(self, original: int, id: int, price: int, quantity: int) -> None:
        """Writes a replace of working order ``original`` by ``id`` for ``quantity`` in all."""
        shares = _shares(id, quantity)
        working = self._working.get(original)
        open_shares = shares - working[1] if working is not None else shares
        if open_shares <= 0:
            raise InexactOrder(f"order {id}: {quantity} does not exceed what order {original} has filled")
        message = _REPLACE_ORDER.pack(
            _REPLACE_HEAD, token(original), token(id), open_shares, _price(id, price), _REPLACE_TAIL
        )
        self._write(message)
        self._replacing[id] = original

    def cancel(self, id: int) -> None:
        """Writes a cancel of working order ``id`` (all of it)."""
        self._write(_CANCEL_ORDER.pack(_CANCEL_HEAD, token(id), 0))

    def close(self) -> None:
        """Logs out and closes the socket."""
        self._closing = True
        if self._transport is not None:
            self._transport.write(_LOGOUT)
        self._drop()

    def _write(self, packet: bytes) -> None:
        if self._transport is None:
            raise ConnectionError("venue A order entry: not connected")
        self._transport.write(packet)
        self._sent = True

    async def _closed(self) -> None:
        """Closes the connection and waits until it is gone (before logging in again, so the
        old connection's end is not taken for the new one's)."""
        self._drop()
        if self._lost is not None:
            await self._lost

    def _drop(self) -> None:
        if self._transport is not None:
            self._transport.close()
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None

    def _tick(self) -> None:
        """Every half heartbeat interval: a heartbeat if nothing was sent since the last tick
        (so never more than an interval of silence); the session ends if the venue has been
        silent beyond the timeout."""
        if self._transport is None:
            return
        self._silent_s += self._heartbeat_interval / 2
        if self._silent_s > self._timeout:
            log.error("venue A order entry: the venue was silent for %.1f s; closing", self._silent_s)
            self._drop()
            return
        if not self._sent:
            self._transport.write(_CLIENT_HEARTBEAT)
        self._sent = False
        self._heartbeat = asyncio.get_running_loop().call_later(self._heartbeat_interval / 2, self._tick)

    def _refuse(self, error: OrderEntryError) -> None:
        self.malformed += 1
        self.last_error = error
        self._log.warning(f"venue A order entry refused: {error}")

    def _session_packet(self, kind: int, payload: bytes) -> None:
        """A SoupBinTCP packet other than data or a heartbeat."""
        expected = _SOUP_FIXED.get(kind)
        if expected is not None and len(payload) != expected:
            raise OrderEntryError(
                f"SoupBinTCP 3.0: packet {chr(kind)!r} has {len(payload)} payload bytes, expected {expected}"
            )
        logging_in = self._logged_in is not None and not self._logged_in.done()
        if kind == _LOGIN_ACCEPTED and logging_in:
            assert self._logged_in is not None
            sequence = payload[10:30].strip(b" ")
            if not sequence.isdigit():
                raise OrderEntryError(f"SoupBinTCP 3.0: login accepted with sequence number {sequence!r}")
            self.next_sequence = int(sequence)
            self._logged_on = True
            self._logged_in.set_result(None)
        elif kind == _LOGIN_REJECTED and logging_in:
            assert self._logged_in is not None
            self._logged_in.set_exception(LogonRejected(payload))
        elif kind == _END_OF_SESSION:
            log.warning("venue A order entry: the venue ended the session")
            self._closing = True
            self._drop()
        elif kind == _DEBUG:
            log.warning("venue A order entry: the venue says %r", payload.decode("latin-1"))
        else:
            raise OrderEntryError(f"SoupBinTCP 3.0: unexpected packet type {chr(kind)!r}")

    def _report(self, buffer: bytes, at: int, length: int) -> None:
        """One sequenced OUCH 4.2 message: the report it means."""
        if not length:
            raise OrderEntryError("OUCH 4.2: an empty sequenced message")
        kind = buffer[at]
        expected = OUCH_LENGTHS.get(kind)
        if expected is None:
            raise OrderEntryError(
                f"OUCH 4.2: message {self.next_sequence - 1} has unknown type {chr(kind)!r}"
            )
        if length != expected:
            raise OrderEntryError(
                f"OUCH 4.2: message {self.next_sequence - 1} of type {chr(kind)!r} is {length} bytes, "
                f"expected {expected}"
            )
        if kind == _OUCH_SYSTEM_EVENT:
            return
        id = id_of(buffer[at + _TOKEN_AT : at + _TOKEN_AT + 14])
        if kind == _OUCH_EXECUTED:
            shares, price = _EXECUTION.unpack_from(buffer, at + 23)
            working = self._working.get(id)
            if working is not None:
                working[1] += shares
                if working[1] >= working[0]:
                    del self._working[id]
            report = Report(Kind.FILL, id, quantity=shares * SHARE, price=price * PRICE_UNIT)
        elif kind == _OUCH_ACCEPTED:
            report = Report(Kind.ACCEPTED, id)
        elif kind == _OUCH_CANCELED:
            self._working.pop(id, None)
            expired = buffer[at + _CANCEL_REASON_AT] == _TIMEOUT_REASON
            report = Report(Kind.EXPIRED if expired else Kind.CANCELED, id)
        elif kind == _OUCH_REPLACED:
            original = id_of(buffer[at + _PREVIOUS_TOKEN_AT : at + _PREVIOUS_TOKEN_AT + 14])
            self._replacing.pop(id, None)
            working = self._working.pop(original, None)
            filled = working[1] if working is not None else 0
            # The replacement's open shares, on top of what the original had filled.
            self._working[id] = [filled + _OPEN_SHARES.unpack_from(buffer, at + 24)[0], filled]
            report = Report(Kind.REPLACED, id, original)
        elif kind == _OUCH_REJECTED:
            replacing = self._replacing.pop(id, None)
            if replacing is None:
                self._working.pop(id, None)
                report = Report(Kind.REJECTED, id)
            else:
                report = Report(Kind.REPLACE_REJECTED, id, replacing)
        else:  # 'I', the only type left
            report = Report(Kind.CANCEL_REJECTED, id)
        self._on_report(report)
