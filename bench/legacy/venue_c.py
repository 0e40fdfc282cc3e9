"""Venue C's adapters for the legacy engine: JSON depth market data and the HMAC-authenticated
JSON order channel, both over WebSocket (the ``websockets`` asyncio client).

Market data (as ``feeds/src/ws_client.rs`` and ``depth_feed.rs`` do it): on connecting, one
``SUBSCRIBE`` to every listed symbol's ``<SYMBOL>@depth`` stream, then every symbol's ``depth``
snapshot at once. A book is correct only after its snapshot and while each update starts right
after the last one applied (``U <= last + 1 <= u``): updates that come before the snapshot are
kept and replayed onto it, updates the book already has are skipped, and an update past the next
id is a gap, so the book turns stale, its snapshot is asked for again, and updates are kept until
it comes. A book that has heard nothing for half a second has its snapshot fetched to check it
(the last update before a quiet spell may have been lost). When the connection is lost (the
venue's ``--disconnect``) every book turns stale and the feed reconnects after a pause.

Order entry (as ``execution/src/gateway/json.rs`` does it): ``session.logon`` signed with the
hex HMAC-SHA256 of ``apiKey=<key>&timestamp=<ms>``; GTC limit orders by ``order.place`` whose
request id and ``newClientOrderId`` are our integer id in decimal; ``order.cancel`` by
``origClientOrderId``, its request id our id with :data:`CANCEL_BIT` set so that a refusal names
the order. The venue has no replace.

Both connections hand each WebSocket message to their handler straight from the protocol's
``data_received`` (no queue, no task switch per message), stamped with ``time.monotonic_ns()``
taken when the read that brought it returned; requests are written to the transport at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import socket
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidState, WebSocketException
from websockets.frames import DATA_OPCODES, Frame, Opcode
from websockets.protocol import Event

from bench.legacy.venue import Kind, OnBook, OnReport, Report

_log = logging.getLogger(__name__)

#: Set in the request id of a cancel, so that a refusal names the order it refuses.
CANCEL_BIT = 1 << 63
#: The request id of the logon (order ids are above it).
LOGON_ID = 0
#: Updates kept per symbol while waiting for its snapshot (the oldest go first).
MAX_PENDING = 4096
#: The pause before reconnecting after the market-data connection was lost, in seconds.
RECONNECT_DELAY = 0.1
#: How long a book may hear nothing before its snapshot is fetched to check it.
AUDIT_AFTER_NS = 500_000_000
#: How often quiet books are looked for, in seconds.
AUDIT_PERIOD = 0.1
#: The longest connecting and the opening handshake may take, in seconds.
CONNECT_TIMEOUT = 2.0
#: The longest the venue may take to answer the logon, in seconds.
LOGON_TIMEOUT = 5.0
#: The largest a decimal may be (the venue's are 64-bit integers of 1e-9).
_MAX_NANOS = (1 << 63) - 1
#: Units of 1e-9 in one unit of a decimal with so many fraction digits.
_SCALE: list[int] = [10 ** (9 - digits) for digits in range(10)]
#: Decimals parsed are remembered until there are this many (prices and sizes repeat).
_DECIMAL_CACHE_SIZE = 1 << 16
#: Which report each execution type (``x``) makes.
_EXECUTIONS = {"NEW": Kind.ACCEPTED, "TRADE": Kind.FILL, "CANCELED": Kind.CANCELED, "EXPIRED": Kind.EXPIRED}
#: Order statuses (``X``) after which an order is no longer open.
_FINAL_STATUSES = frozenset({"FILLED", "CANCELED", "EXPIRED"})

#: A price level as decoded: price and absolute quantity (0 removes), units of 1e-9.
Level = tuple[int, int]


class MalformedMessage(ValueError):
    """The venue sent something that is not its protocol; the message says what and where."""


class VenueRefused(Exception):
    """The venue refused a request of ours (an unknown symbol, say): retrying cannot help."""


class LogonFailed(ConnectionError):
    """The venue refused our logon, or did not answer it."""


class GatewayClosed(ConnectionError):
    """The order channel is not open (never connected, closed, or failed, and why)."""


class UnknownOrder(ValueError):
    """A cancel of an order this gateway did not place, or that is no longer open."""


class _Connection(ClientConnection):
    """A WebSocket client connection that hands each data message to :attr:`on_message` as
    soon as it is parsed, with the ``time.monotonic_ns()`` of the read that brought it.

    The venue sends nothing before our first request, so :attr:`on_message` is set after
    connecting. If it raises, the connection is aborted and the error kept in :attr:`failure`.
    """

    on_message: Callable[[bytes, int], None]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received_ns = 0
        self.failure: Exception | None = None
        self._fragments = bytearray()

    def data_received(self, data: bytes) -> None:
        """Stamps the read, then parses it (which calls :meth:`process_event`)."""
        self.received_ns = time.monotonic_ns()
        super().data_received(data)

    def process_event(self, event: Event) -> None:
        """Hands a whole data message to :attr:`on_message`; leaves the handshake, pings and
        the close to the library."""
        if self.response is None or not isinstance(event, Frame) or event.opcode not in DATA_OPCODES:
            super().process_event(event)
            return
        if not event.fin or event.opcode is Opcode.CONT:
            self._fragments += event.data
            if not event.fin:
                return
            data = bytes(self._fragments)
            self._fragments.clear()
        else:
            data = event.data if type(event.data) is bytes else bytes(event.data)
        if self.failure is not None:
            return
        try:
            self.on_message(data, self.received_ns)
        except Exception as error:
            self.failure = error
            self.transport.abort()

    def write_text(self, text: str) -> None:
        """Writes a text message to the socket now (no waiting: a slow venue's backlog stays
        in the transport's buffer)."""
        self.protocol.send_text(text.encode())
        self.send_data()


def _open(address: tuple[str, int]) -> connect:
    """Connecting to venue C's WebSocket at ``address`` (no compression, no keepalive pings,
    no proxy: the venue's production clients use none)."""
    host, port = address
    return connect(
        f"ws://{host}:{port}/ws",
        create_connection=_Connection,
        compression=None,
        proxy=None,
        ping_interval=None,
        open_timeout=CONNECT_TIMEOUT,
        close_timeout=1.0,
    )


def _connected(connection: ClientConnection, on_message: Callable[[bytes, int], None]) -> _Connection:
    """``connection`` as our :class:`_Connection`, with Nagle off and ``on_message`` set."""
    assert isinstance(connection, _Connection)
    sock = connection.transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    connection.on_message = on_message
    return connection


def parse_decimal(text: object, field: str) -> int:
    """A decimal string (``"190.01"``) in units of 1e-9, as the venue writes prices and
    quantities; :class:`MalformedMessage` naming ``field`` if it is not one."""
    if not isinstance(text, str):
        raise MalformedMessage(f"{field}: {text!r} is not a decimal string")
    whole, _, fraction = text.partition(".")
    digits = whole + fraction
    if not digits or len(fraction) > 9 or not (digits.isascii() and digits.isdigit()):
        raise MalformedMessage(f"{field}: {text!r} is not a decimal of at most 9 places")
    value = int(digits) * _SCALE[len(fraction)]
    if value > _MAX_NANOS:
        raise MalformedMessage(f"{field}: {text!r} is too large")
    return value


def format_decimal(nanos: int) -> str:
    """Units of 1e-9 as the decimal string the venue reads (``190.010000000``)."""
    whole, fraction = divmod(nanos, 1_000_000_000)
    return f"{whole}.{fraction:09d}"


class _Book:
    """One listed symbol's price-level book and where it stands in the update ids."""

    __slots__ = (
        "asks",
        "awaiting_snapshot",
        "best_ask",
        "best_bid",
        "bids",
        "heard_ns",
        "included",
        "instrument",
        "last_update_id",
        "name",
        "pending",
    )

    def __init__(self, name: str, instrument: int) -> None:
        self.name = name
        self.instrument = instrument
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        #: The best prices, 0 where a side is empty.
        self.best_bid = 0
        self.best_ask = 0
        #: The last update applied; None while stale (no snapshot yet, or a gap since).
        self.last_update_id: int | None = None
        #: The last update the book included, stale or not (to count what a snapshot skips).
        self.included: int | None = None
        #: Updates kept for the next snapshot: (first id, last id, bids, asks).
        self.pending: deque[tuple[int, int, list[Level], list[Level]]] = deque()
        self.awaiting_snapshot = False
        #: When the book last heard from the venue (or asked for its snapshot).
        self.heard_ns = 0

    def apply(self, bids: list[Level], asks: list[Level]) -> bool:
        """Sets the levels' quantities (0 removes); whether any changed."""
        changed = False
        side = self.bids
        for price, quantity in bids:
            if side.get(price, 0) == quantity:
                continue
            changed = True
            if quantity:
                side[price] = quantity
                if price > self.best_bid:
                    self.best_bid = price
            else:
                del side[price]
                if price == self.best_bid:
                    self.best_bid = max(side, default=0)
        side = self.asks
        for price, quantity in asks:
            if side.get(price, 0) == quantity:
                continue
            changed = True
            if quantity:
                side[price] = quantity
                if price < self.best_ask or not self.best_ask:
                    self.best_ask = price
            else:
                del side[price]
                if price == self.best_ask:
                    self.best_ask = min(side, default=0)
        return changed

    def clear(self) -> None:
        """Empties both sides."""
        self.bids.clear()
        self.asks.clear()
        self.best_bid = self.best_ask = 0


#: What :meth:`Feed._decode` makes of a depth message: whether it is a snapshot, its symbol's
#: book (None if not listed), its first and last update ids, bids and asks.
_Depth = tuple[bool, _Book | None, int, int, list[Level], list[Level]]


class Feed:
    """Venue C's market-data handler: books of the listed symbols from the JSON depth stream,
    kept in step by update ids and rebuilt from snapshots after a gap or a reconnection."""

    def __init__(self, address: tuple[str, int], symbols: dict[str, int], on_book: OnBook) -> None:
        self.address = address
        self._books = {name: _Book(name, instrument) for name, instrument in symbols.items()}
        self._on_book = on_book
        self._connection: _Connection | None = None
        self._next_request = 0
        self._decimals: dict[str, int] = {}
        #: Depth messages decoded.
        self.messages = 0
        #: Update ids the books passed over by taking a snapshot instead (dropped, reordered,
        #: or sent while disconnected): updates never applied.
        self.lost = 0
        #: Gaps found in the update ids.
        self.gaps = 0
        #: Connections made.
        self.connects = 0
        #: Messages that were not the venue's protocol (skipped), and why the last one was.
        self.malformed = 0
        self.last_error: str | None = None

    def levels(self, symbol: str) -> tuple[dict[int, int], dict[int, int]]:
        """A copy of ``symbol``'s book: bids and asks, price to quantity (units of 1e-9)."""
        book = self._books[symbol]
        return dict(book.bids), dict(book.asks)

    async def run(self) -> None:
        """Connects, subscribes and follows the venue until cancelled, reconnecting whenever
        the connection is lost; raises :class:`VenueRefused` if the venue refuses a request,
        and whatever ``on_book`` raised."""
        while True:
            try:
                async with _open(self.address) as connection:
                    await self._follow(_connected(connection, self.on_text))
            except (OSError, TimeoutError, WebSocketException) as error:
                self.last_error = f"venue C market data at {self.address}: {error!r}"
            self._disconnected()
            await asyncio.sleep(RECONNECT_DELAY)

    async def _follow(self, connection: _Connection) -> None:
        """Subscribes, asks for every snapshot, and checks quiet books until the connection
        ends; raises what its handler raised."""
        self._connection = connection
        self.connects += 1
        try:
            streams = [f"{name}@depth" for name in self._books]
            self._request(f'"method":"SUBSCRIBE","params":{json.dumps(streams)}')
            # Every book's snapshot at once: a quiet market sends no update that would ask.
            for book in self._books.values():
                self._request_snapshot(book, time.monotonic_ns())
            closed = asyncio.ensure_future(connection.wait_closed())
            try:
                while not (await asyncio.wait({closed}, timeout=AUDIT_PERIOD))[0]:
                    self._audit_quiet_books()
            finally:
                closed.cancel()
        finally:
            self._connection = None
        if connection.failure is not None:
            raise connection.failure

    def _request(self, call: str) -> None:
        """Sends a request (``call`` is its method and params) if connected."""
        if self._connection is not None:
            self._next_request += 1
            self._connection.write_text(f'{{"id":{self._next_request},{call}}}')

    def _request_snapshot(self, book: _Book, now_ns: int) -> None:
        """Asks for ``book``'s snapshot; its updates are kept until it comes."""
        book.awaiting_snapshot = True
        book.heard_ns = now_ns
        self._request(f'"method":"depth","params":{{"symbol":"{book.name}"}}')

    def _audit_quiet_books(self) -> None:
        """Fetches the snapshot of each book that has heard nothing for a while, to check it:
        one with a later update id replaces the book, one with the same id confirms it."""
        now = time.monotonic_ns()
        for book in self._books.values():
            if not book.awaiting_snapshot and now - book.heard_ns >= AUDIT_AFTER_NS:
                self._request_snapshot(book, now)

    def _disconnected(self) -> None:
        """Every book turns stale; what was kept for snapshots goes (the next connection's
        updates start afresh)."""
        for book in self._books.values():
            book.last_update_id = None
            book.pending.clear()
            book.awaiting_snapshot = False

    def on_text(self, data: bytes, received_ns: int) -> None:
        """Handles one message of the venue, read at ``received_ns``: applies a depth update
        or snapshot of a listed symbol and calls ``on_book`` if its book changed. A malformed
        message is counted, kept in :attr:`last_error` and skipped; the books stay as they
        were."""
        try:
            depth = self._decode(data)
        except MalformedMessage as error:
            self.malformed += 1
            self.last_error = str(error)
            if self.malformed & (self.malformed - 1) == 0:  # the 1st, 2nd, 4th, 8th...
                _log.warning("%s (%d malformed so far)", error, self.malformed)
            return
        if depth is None:
            return
        self.messages += 1
        snapshot, book, first, last, bids, asks = depth
        if book is None:
            return
        book.heard_ns = received_ns
        if snapshot:
            self._on_snapshot(book, last, bids, asks)
            changed = book.last_update_id is not None
        else:
            changed = self._on_update(book, first, last, bids, asks)
        if changed:
            best_bid, best_ask = book.best_bid, book.best_ask
            self._on_book(
                book.instrument,
                best_bid,
                book.bids.get(best_bid, 0),
                best_ask,
                book.asks.get(best_ask, 0),
                received_ns,
            )

    def _decode(self, data: bytes) -> _Depth | None:
        """A depth update or snapshot as its parts; None for a trade or an answer that accepts
        a request. Raises :class:`VenueRefused` for an answer that refuses one, and
        :class:`MalformedMessage` saying what is wrong for anything else."""
        try:
            message = json.loads(data)
            if type(message) is not dict:
                raise MalformedMessage("not a JSON object")
            kind = message.get("e")
            if kind == "depthUpdate":
                first, last = message["U"], message["u"]
                if type(first) is not int or type(last) is not int or not 0 <= first <= last:
                    raise MalformedMessage(f"update ids U {first!r} and u {last!r} are not 0 <= U <= u")
                bids, asks = self._levels(message["b"], "b"), self._levels(message["a"], "a")
                return False, self._books.get(message["s"]), first, last, bids, asks
            if kind == "depthSnapshot":
                last = message["lastUpdateId"]
                if type(last) is not int or last < 0:
                    raise MalformedMessage(f"lastUpdateId {last!r} is not an update id")
                bids, asks = self._levels(message["bids"], "bids"), self._levels(message["asks"], "asks")
                return True, self._books.get(message["s"]), last, last, bids, asks
            if kind == "trade":
                return None
            if kind is None and "status" in message:
                error = message.get("error")
                if error is not None:
                    raise VenueRefused(f"venue C refused request {message.get('id')}: {error}")
                return None
            raise MalformedMessage(f"unknown message type e = {kind!r}")
        except MalformedMessage as error:
            raise MalformedMessage(f"venue C market data: {error} in {data[:120]!r}") from None
        except KeyError as error:
            raise MalformedMessage(f"venue C market data: missing field {error} in {data[:120]!r}") from None
        except (TypeError, ValueError) as error:  # not JSON (JSONDecodeError), wrong types
            raise MalformedMessage(f"venue C market data: {error} in {data[:120]!r}") from None

    def _levels(self, levels: object, field: str) -> list[Level]:
        """A list of ``[price, quantity]`` decimal pairs: positive prices, quantities >= 0."""
        if type(levels) is not list:
            raise MalformedMessage(f"{field}: {levels!r} is not a list of [price, quantity] pairs")
        decimals = self._decimals
        out = []
        for level in levels:
            if type(level) is not list or len(level) != 2:
                raise MalformedMessage(f"{field}: {level!r} is not a [price, quantity] pair")
            price_text, quantity_text = level
            price = decimals.get(price_text)
            if price is None:
                price = self._remember(price_text, field)
            quantity = decimals.get(quantity_text)
            if quantity is None:
                quantity = self._remember(quantity_text, field)
            if not price:
                raise MalformedMessage(f"{field}: {level!r} has a price of 0")
            out.append((price, quantity))
        return out

    def _remember(self, text: object, field: str) -> int:
        """Parses a decimal and remembers it (forgetting all once there are too many)."""
        value = parse_decimal(text, field)
        if len(self._decimals) >= _DECIMAL_CACHE_SIZE:
            self._decimals.clear()
        self._decimals[str(text)] = value
        return value

    def _on_update(self, book: _Book, first: int, last: int, bids: list[Level], asks: list[Level]) -> bool:
        """Applies updates ``first ..= last`` if they follow the book, skips them if it has
        them, keeps them for the next snapshot if it is stale or they leave a gap; whether the
        book changed."""
        applied = book.last_update_id
        if applied is None:
            self._keep(book, first, last, bids, asks)
            return False
        if last <= applied:
            return False
        if first > applied + 1:
            self.gaps += 1
            book.last_update_id = None
            self._keep(book, first, last, bids, asks)
            return False
        book.last_update_id = book.included = last
        return book.apply(bids, asks)

    def _keep(self, book: _Book, first: int, last: int, bids: list[Level], asks: list[Level]) -> None:
        """Keeps an update until the snapshot comes, asking for one if not asked yet."""
        if len(book.pending) == MAX_PENDING:
            book.pending.popleft()
        book.pending.append((first, last, bids, asks))
        if not book.awaiting_snapshot:
            self._request_snapshot(book, time.monotonic_ns())

    def _on_snapshot(self, book: _Book, last_update_id: int, bids: list[Level], asks: list[Level]) -> None:
        """Rebuilds the book from a snapshot and replays the updates kept for it."""
        if book.included is not None and last_update_id > book.included:
            self.lost += last_update_id - book.included
        book.clear()
        book.apply(bids, asks)
        book.last_update_id = book.included = last_update_id
        book.awaiting_snapshot = False
        pending = book.pending
        while pending:
            first, last, update_bids, update_asks = pending.popleft()
            self._on_update(book, first, last, update_bids, update_asks)
            if book.last_update_id is None:
                # A gap after the snapshot: what is left stays kept, in order, for the next.
                break


class Gateway:
    """Venue C's order channel: a logged-on WebSocket session writing GTC limit orders and
    cancels at once, and reporting the venue's execution reports and refusals."""

    def __init__(
        self, address: tuple[str, int], key: str, secret: str, symbols: dict[str, int], on_report: OnReport
    ) -> None:
        self.address = address
        self._key = key
        self._secret = secret.encode()
        self._names = {instrument: name for name, instrument in symbols.items()}
        self._on_report = on_report
        self._connection: _Connection | None = None
        self._logon: asyncio.Future[dict[str, Any]] | None = None
        #: The symbol of each order placed and not yet done with.
        self._open: dict[int, str] = {}
        #: The sequence number of the next execution report.
        self._expected = 0
        self._decimals: dict[str, int] = {}

    async def connect(self) -> None:
        """Connects and logs on; returns once the venue has accepted the logon, else raises
        :class:`LogonFailed` saying why."""
        connection = _connected(await _open(self.address), self.on_text)
        self._connection = connection
        self._logon = asyncio.get_running_loop().create_future()
        timestamp = time.time_ns() // 1_000_000
        payload = f"apiKey={self._key}&timestamp={timestamp}".encode()
        signature = hmac.new(self._secret, payload, hashlib.sha256).hexdigest()
        params = {"apiKey": self._key, "timestamp": timestamp, "signature": signature}
        connection.write_text(json.dumps({"id": LOGON_ID, "method": "session.logon", "params": params}))
        closed = asyncio.ensure_future(connection.wait_closed())
        answered_or_closed: set[asyncio.Future[Any]] = {self._logon, closed}
        try:
            await asyncio.wait(answered_or_closed, timeout=LOGON_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
        if not self._logon.done():
            connection.transport.abort()
            why = "the venue closed the connection" if closed.done() else f"no answer in {LOGON_TIMEOUT} s"
            raise LogonFailed(
                f"venue C logon of {self._key!r} at {self.address}: {why}"
            ) from connection.failure
        if self._logon.exception() is not None:
            connection.transport.abort()
        self._expected = self._logon.result()["nextSequence"]

    def new(self, id: int, instrument: int, buy: bool, price: int, quantity: int) -> None:
        """Writes a GTC limit order; its client order id is ``id`` in decimal."""
        if not 0 < id < CANCEL_BIT:
            raise ValueError(f"order {id}: venue C order ids must be between 1 and 2^63 - 1")
        try:
            symbol = self._names[instrument]
        except KeyError:
            raise ValueError(f"order {id}: instrument {instrument} is not listed on venue C") from None
        self._send(
            f'{{"id":{id},"method":"order.place","params":{{"symbol":"{symbol}",'
            f'"side":"{"BUY" if buy else "SELL"}","type":"LIMIT","timeInForce":"GTC",'
            f'"price":"{format_decimal(price)}","quantity":"{format_decimal(quantity)}",'
            f'"newClientOrderId":"{id}"}}}}'
        )
        self._open[id] = symbol

    def replace(self, original: int, id: int, price: int, quantity: int) -> None:
        """Venue C has no replace: the engine cancels and places anew."""
        raise NotImplementedError(
            f"order {original}: venue C has no replace; cancel it and place order {id} anew"
        )

    def cancel(self, id: int) -> None:
        """Writes a cancel of working order ``id``."""
        symbol = self._open.get(id)
        if symbol is None:
            raise UnknownOrder(f"cancel of order {id}: not an open order of this venue C session")
        self._send(
            f'{{"id":{id | CANCEL_BIT},"method":"order.cancel","params":{{"symbol":"{symbol}",'
            f'"origClientOrderId":"{id}"}}}}'
        )

    def close(self) -> None:
        """Closes the session's socket (the venue cancels its open orders)."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.protocol.send_close()
            connection.send_data()
        except InvalidState:
            pass  # closing or closed already
        connection.transport.close()

    def _send(self, text: str) -> None:
        """Writes a request now, or raises :class:`GatewayClosed` saying why it cannot."""
        connection = self._connection
        if connection is None:
            raise GatewayClosed(f"venue C order channel at {self.address} is not connected")
        if connection.failure is not None:
            raise GatewayClosed(f"venue C order channel failed: {connection.failure}") from connection.failure
        try:
            connection.write_text(text)
        except InvalidState as error:
            raise GatewayClosed(f"venue C order channel: {error}") from error

    def on_text(self, data: bytes, received_ns: int) -> None:
        """Turns one message of the venue into a report (or the logon's answer). Raises
        :class:`MalformedMessage` saying what is wrong with one that is not the venue's
        protocol, or that skips reports; the connection it came on is then aborted, and the
        next order or cancel raises :class:`GatewayClosed` with that reason."""
        try:
            message = json.loads(data)
            if type(message) is not dict:
                raise MalformedMessage("not a JSON object")
            if message.get("e") == "executionReport":
                report = self._execution(message)
            elif "status" in message:
                report = self._answer(message)
            else:
                raise MalformedMessage("neither an executionReport nor an answer")
        except MalformedMessage as error:
            raise MalformedMessage(f"venue C order channel: {error} in {data[:200]!r}") from None
        except KeyError as error:
            raise MalformedMessage(
                f"venue C order channel: missing field {error} in {data[:200]!r}"
            ) from None
        except (TypeError, ValueError) as error:
            raise MalformedMessage(f"venue C order channel: {error} in {data[:200]!r}") from None
        if report is not None:
            self._on_report(report)

    def _execution(self, message: dict[str, Any]) -> Report | None:
        """The report an ``executionReport`` makes; None for one delivered already."""
        sequence = message["u"]
        if sequence < self._expected:
            return None
        if sequence > self._expected:
            raise MalformedMessage(f"report {sequence} came when report {self._expected} was expected")
        id = int(message["c"])
        kind = _EXECUTIONS.get(message["x"])
        if kind is None:
            raise MalformedMessage(f"x: {message['x']!r} is not an execution type")
        if kind is Kind.FILL:
            quantity, price = self._decimal(message["l"], "l"), self._decimal(message["L"], "L")
            report = Report(kind, id, quantity=quantity, price=price)
        else:
            report = Report(kind, id)
        if message["X"] in _FINAL_STATUSES:
            self._open.pop(id, None)
        self._expected += 1
        return report

    def _answer(self, message: dict[str, Any]) -> Report | None:
        """What an answer to a request says: the logon's result, or the refusal of an order
        or a cancel (an order's acceptance comes as its report)."""
        id = message["id"]
        error = message.get("error")
        if id == LOGON_ID:
            if self._logon is None or self._logon.done():
                raise VenueRefused(f"venue C refused a request it could not read: {error}")
            if error is None:
                self._logon.set_result(message["result"])
            else:
                self._logon.set_exception(LogonFailed(f"venue C refused the logon of {self._key!r}: {error}"))
            return None
        if error is None:
            return None
        if id & CANCEL_BIT:
            return Report(Kind.CANCEL_REJECTED, id & ~CANCEL_BIT)
        self._open.pop(id, None)
        return Report(Kind.REJECTED, id)

    def _decimal(self, text: object, field: str) -> int:
        """A report's decimal, parsed once per distinct text."""
        value = self._decimals.get(text) if type(text) is str else None
        if value is None:
            value = parse_decimal(text, field)
            if len(self._decimals) >= _DECIMAL_CACHE_SIZE:
                self._decimals.clear()
            self._decimals[str(text)] = value
        return value
